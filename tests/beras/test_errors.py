"""Bad input fails loudly and helpfully: shapes named, valid options listed, tape misuse explained."""
import numpy as np
import pytest

import beras


def test_matmul_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError) as info:
        beras.matmul(np.ones((2, 3), np.float32), np.ones((4, 5), np.float32))
    assert "[2, 3]" in str(info.value) and "[4, 5]" in str(info.value)
    with pytest.raises(ValueError, match=r"\(3,\)"):
        beras.constant(np.ones(3)) @ beras.constant(np.ones((3, 2)))


@pytest.mark.parametrize("module,valid", [
    (beras.losses, "categorical_crossentropy"),
    (beras.optimizers, "adam"),
    (beras.metrics, "categorical_accuracy"),
])
def test_unknown_names_list_the_valid_ones(module, valid):
    with pytest.raises(ValueError) as info:
        module.get("no_such_thing")
    msg = str(info.value)
    assert "no_such_thing" in msg and valid in msg


def test_losses_get_returns_reducing_losses():
    assert isinstance(beras.losses.get("mse"), beras.losses.MeanSquaredError)
    assert isinstance(beras.losses.get("categorical_crossentropy"), beras.losses.CategoricalCrossentropy)
    assert isinstance(beras.losses.get("SparseCategoricalCrossentropy"), beras.losses.SparseCategoricalCrossentropy)
    assert isinstance(beras.losses.get("binary_crossentropy"), beras.losses.BinaryCrossentropy)
    loss = beras.losses.get(beras.losses.mean_squared_error)  # a per-sample function gets wrapped
    assert float(loss(np.zeros((2, 2)), np.ones((2, 2)))) == 1.0
    with pytest.raises(ValueError, match="Could not interpret"):
        beras.losses.get(3)


def test_bad_loss_arguments():
    with pytest.raises(ValueError, match="reduction"):
        beras.losses.MeanSquaredError(reduction="average")
    with pytest.raises(ValueError, match=r"y_true.shape=\(2, 3\), y_pred.shape=\(2, 4\)"):
        beras.losses.categorical_crossentropy(np.eye(3)[:2], np.ones((2, 4)))
    with pytest.raises(ValueError, match="y_true.shape"):
        beras.losses.binary_crossentropy(np.ones((2, 3)), np.ones((3, 2)) / 2)
    with pytest.raises(ValueError, match=r"y_true.shape=\(3,\), y_pred.shape=\(2, 4\)"):
        beras.losses.sparse_categorical_crossentropy(np.array([0, 1, 2]), np.ones((2, 4)))


def test_optimizer_errors():
    with pytest.raises(ValueError, match="momentum"):
        beras.optimizers.SGD(momentum=2.0)
    v = beras.Variable(np.zeros((2, 2), np.float32), name="kernel")
    with pytest.raises(ValueError, match=r"\(3,\).*kernel.*\(2, 2\)"):
        beras.optimizers.SGD().apply_gradients([(np.zeros(3, np.float32), v)])
    with pytest.raises(TypeError, match="Variable"):
        beras.optimizers.SGD().apply_gradients([(np.zeros(2, np.float32), beras.constant([1.0, 2.0]))])


def test_reshape_errors_name_the_shapes():
    with pytest.raises(ValueError) as info:
        beras.reshape(beras.constant(np.ones((2, 3))), (4, 2))
    assert "6" in str(info.value) and "(2, 3)" in str(info.value) and "[4, 2]" in str(info.value)


def test_reduction_axis_out_of_range():
    with pytest.raises(ValueError, match="axis 2"):
        beras.reduce_sum(beras.constant(np.ones((2, 3))), axis=2)


def test_second_gradient_on_a_used_tape_raises_clearly():
    w = beras.Variable([1.0, 2.0])
    with beras.GradientTape() as tape:
        y = beras.reduce_sum(w * w)
    tape.gradient(y, w)
    with pytest.raises(RuntimeError, match="persistent=True"):
        tape.gradient(y, w)


def test_variable_assign_shape_mismatch():
    v = beras.Variable(np.zeros((2, 3)), name="w")
    with pytest.raises(ValueError, match=r"\(3, 2\).*'w'.*\(2, 3\)"):
        v.assign(np.zeros((3, 2)))


def test_unknown_dtype_lists_valid_ones():
    with pytest.raises(ValueError, match="float32"):
        beras.cast(beras.constant([1.0]), "float33")


def test_average_pooling_of_integers_is_refused_as_in_tf():
    """TF has no integer AvgPool kernel; beras says so (a mean of integers written back as integers would
    be truncated) and names the dtypes it takes."""
    import tensorflow as tf
    x = np.arange(32).reshape(1, 4, 4, 2)
    with pytest.raises(tf.errors.InvalidArgumentError, match="int64"):
        tf.nn.avg_pool2d(tf.constant(x), 2, 2, "VALID")
    for value in (x, beras.constant(x), x.tolist()):
        with pytest.raises(TypeError, match=r"int\d+ is not supported; valid: float16, float32, float64"):
            beras.nn.avg_pool2d(value, 2, 2, "VALID")
    assert beras.nn.avg_pool2d(x.astype(np.float32), 2, 2, "VALID").dtype == np.float32
