"""Core layers against their Keras twins with copied weights: outputs, gradients w.r.t. the input
and the weights (float32 and float64), Keras's weight order/names; Dropout's statistics; the
training flag; errors."""
import keras
import numpy as np
import pytest
import tensorflow as tf

import beras
from beras import layers as L
from beras.gradcheck import rel_error

TOL = {"float32": 1e-5, "float64": 1e-9}

# name -> (beras factory, keras factory, input shape); factories take dtype
CASES = {
    "dense": (lambda d: L.Dense(7, dtype=d), lambda d: keras.layers.Dense(7, dtype=d), (5, 4)),
    "dense-relu": (lambda d: L.Dense(6, activation="relu", dtype=d),
                   lambda d: keras.layers.Dense(6, activation="relu", dtype=d), (5, 4)),
    "dense-nobias-tanh-rank3": (lambda d: L.Dense(3, activation="tanh", use_bias=False, dtype=d),
                                lambda d: keras.layers.Dense(3, activation="tanh", use_bias=False, dtype=d),
                                (2, 5, 4)),
    "dense-softmax-henormal": (lambda d: L.Dense(4, activation="softmax", kernel_initializer="he_normal", dtype=d),
                               lambda d: keras.layers.Dense(4, activation="softmax", kernel_initializer="he_normal",
                                                            dtype=d), (6, 3)),
    "activation-sigmoid": (lambda d: L.Activation("sigmoid", dtype=d),
                           lambda d: keras.layers.Activation("sigmoid", dtype=d), (4, 6)),
    "activation-elu": (lambda d: L.Activation("elu", dtype=d), lambda d: keras.layers.Activation("elu", dtype=d), (4, 6)),
    "relu": (lambda d: L.ReLU(dtype=d), lambda d: keras.layers.ReLU(dtype=d), (4, 6)),
    "relu-general": (lambda d: L.ReLU(max_value=1.5, negative_slope=0.1, threshold=0.2, dtype=d),
                     lambda d: keras.layers.ReLU(max_value=1.5, negative_slope=0.1, threshold=0.2, dtype=d), (4, 6)),
    "relu6": (lambda d: L.ReLU(max_value=6.0, dtype=d), lambda d: keras.layers.ReLU(max_value=6.0, dtype=d), (4, 6)),
    "leaky_relu": (lambda d: L.LeakyReLU(dtype=d), lambda d: keras.layers.LeakyReLU(dtype=d), (4, 6)),
    "leaky_relu-0.1": (lambda d: L.LeakyReLU(negative_slope=0.1, dtype=d),
                       lambda d: keras.layers.LeakyReLU(negative_slope=0.1, dtype=d), (4, 6)),
    "softmax": (lambda d: L.Softmax(dtype=d), lambda d: keras.layers.Softmax(dtype=d), (4, 6)),
    "softmax-axis1": (lambda d: L.Softmax(axis=1, dtype=d), lambda d: keras.layers.Softmax(axis=1, dtype=d), (2, 3, 4)),
    "flatten": (lambda d: L.Flatten(dtype=d), lambda d: keras.layers.Flatten(dtype=d), (3, 2, 4, 2)),
}


def _twins(name, dtype, seed):
    make_b, make_k, shape = CASES[name]
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    k, b = make_k(dtype), make_b(dtype)
    k(x)
    b(x)
    b.set_weights(k.get_weights())
    return k, b, x, rng


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_layer_matches_keras(name, dtype):
    k, b, x, rng = _twins(name, dtype, seed=len(name))
    # Keras 3's weight order and names
    assert [w.path.split("/")[-1] for w in k.weights] == [w.name.split("/")[-1] for w in b.weights]
    assert [tuple(w.shape) for w in k.weights] == [w.shape for w in b.weights]
    assert k.count_params() == b.count_params()

    xk = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xk)
        yk = k(xk)
        upstream = rng.standard_normal(yk.shape).astype(dtype)
        target_k = tf.reduce_sum(yk * upstream)
    gk = tape.gradient(target_k, [xk] + k.trainable_weights)

    xb = beras.constant(x)
    with beras.GradientTape() as tape:
        tape.watch(xb)
        yb = b(xb)
        target_b = beras.reduce_sum(yb * upstream)
    gb = tape.gradient(target_b, [xb] + b.trainable_weights)

    assert yb.dtype == np.dtype(dtype) and yb.shape == tuple(yk.shape)
    assert rel_error(yb, yk) < TOL[dtype]
    for g_b, g_k in zip(gb, gk):
        assert g_b.dtype == np.dtype(dtype)
        assert rel_error(g_b, g_k) < TOL[dtype]


def test_output_shapes_and_symbolic_calls():
    x = beras.Input((8, 8, 1))
    y = L.Dense(5)(L.Flatten()(x))
    assert y.shape == (None, 5)
    assert L.Dense(3).compute_output_shape((None, 7, 4)) == (None, 7, 3)


def test_dropout_statistics_training_flag_and_gradient():
    rate = 0.3
    x = np.ones((400, 250), "float32")
    layer = L.Dropout(rate)
    np.testing.assert_array_equal(layer(x).numpy(), x)  # identity by default
    np.testing.assert_array_equal(layer(x, training=False).numpy(), x)
    xb = beras.constant(x)
    with beras.GradientTape() as tape:
        tape.watch(xb)
        y = layer(xb, training=True)
    out = y.numpy()
    dropped = np.mean(out == 0)
    keras_out = np.asarray(keras.layers.Dropout(rate)(x, training=True))
    assert dropped == pytest.approx(rate, abs=0.01)
    assert dropped == pytest.approx(np.mean(keras_out == 0), abs=0.015)
    np.testing.assert_allclose(out[out != 0], 1 / (1 - rate), rtol=1e-6)  # inverted dropout
    assert out.mean() == pytest.approx(1.0, abs=0.02)
    np.testing.assert_allclose(tape.gradient(y, xb).numpy(), out, rtol=1e-6)  # d(x*mask)/dx = mask
    assert out.dtype == np.float32


def test_dropout_seeds_and_rate_validation():
    x = np.ones((20, 30), "float32")
    a1 = L.Dropout(0.5, seed=3)(x, training=True).numpy()
    a2 = L.Dropout(0.5, seed=3)(x, training=True).numpy()
    np.testing.assert_array_equal(a1, a2)
    same = L.Dropout(0.5, seed=3)
    assert not np.array_equal(same(x, training=True).numpy(), same(x, training=True).numpy())  # the seed advances
    beras.utils.set_random_seed(5)
    b1 = L.Dropout(0.5)(x, training=True).numpy()
    beras.utils.set_random_seed(5)
    b2 = L.Dropout(0.5)(x, training=True).numpy()
    np.testing.assert_array_equal(b1, b2)
    np.testing.assert_array_equal(L.Dropout(1.0)(x, training=True).numpy(), 0 * x)
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match="rate"):
            keras.layers.Dropout(bad)
        with pytest.raises(ValueError, match="rate"):
            L.Dropout(bad)


def test_training_flag_reaches_nested_dropout_and_frozen_layers_infer():
    model = beras.Sequential([beras.Input((50,)), L.Dense(50, kernel_initializer="ones"), L.Dropout(0.5)])
    x = np.ones((8, 50), "float32")
    assert np.all(model(x).numpy() != 0)
    assert np.mean(model(x, training=True).numpy() == 0) > 0.3
    model.trainable = False  # Keras 3: a frozen layer runs in inference mode
    assert np.all(model(x, training=True).numpy() != 0)
    assert model.trainable_weights == [] and len(model.non_trainable_weights) == 2


def test_errors_name_shapes_and_valid_options():
    with pytest.raises(ValueError, match="relu") as err:
        L.Dense(3, activation="rellu")
    assert "rellu" in str(err.value) and "sigmoid" in str(err.value)
    with pytest.raises(ValueError, match="units"):
        L.Dense(0)
    dense = L.Dense(3)
    dense(np.ones((2, 4), "float32"))
    with pytest.raises(ValueError, match=r"\(2, 5\)"):
        dense(np.ones((2, 5), "float32"))
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(5, 3\)|expects"):
        dense.set_weights([np.ones((5, 3)), np.ones(3)])
    with pytest.raises(ValueError, match="negative_slope"):
        L.LeakyReLU(negative_slope=-1)
    with pytest.raises(TypeError, match="unexpected keyword"):
        L.Flatten(bogus=1)


@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh", "softmax", "linear", "leaky_relu", "elu",
                                  "softplus", "relu6", "swish"])
def test_activation_names_match_keras(name):
    x = np.random.default_rng(3).standard_normal((4, 5)) * 4
    ours = beras.activations.get(name)(beras.constant(x))
    assert rel_error(ours, keras.activations.get(name)(tf.constant(x))) < 1e-9
    assert beras.activations.get(None)(beras.constant(x)) is not None
    assert beras.activations.get(beras.nn.relu) is beras.nn.relu
