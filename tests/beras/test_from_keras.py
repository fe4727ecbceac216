"""beras.models.from_keras: Keras models -> beras, same predictions, loss, gradients and moving statistics."""
import keras
import numpy as np
import pytest
import tensorflow as tf

import beras
from beras.examples.cnn import build_cnn, build_resnet
from beras.gradcheck import rel_error

TOL = {"float32": 1e-5, "float64": 1e-9}


def randomize(model, seed=0):
    """Random weights everywhere (BN moving variances positive), so inference mode is not trivial."""
    rng = np.random.default_rng(seed)
    model.set_weights([(rng.uniform(0.5, 1.5, w.shape) if "variance" in w.path else rng.normal(0, 0.3, w.shape))
                       .astype(w.dtype) for w in model.weights])


def digits_batch(n=16, dtype="float32", seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 1, (n, 8, 8, 1)).astype(dtype), rng.integers(0, 10, n)


def by_name(weights, values):
    """{'layer/weight': array}: Keras's paths may carry the model's name in front, beras's names do not."""
    return {"/".join((getattr(w, "path", None) or w.name).split("/")[-2:]): np.asarray(v)
            for w, v in zip(weights, values)}


def keras_step(model, x, y, training, from_logits=True):
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits, dtype=x.dtype.name)
    with tf.GradientTape() as tape:
        logits = model(tf.constant(x), training=training)
        loss = loss_fn(y, logits)
    grads = tape.gradient(loss, model.trainable_weights)
    return logits.numpy(), float(loss), by_name(model.trainable_weights, grads)


def beras_step(model, x, y, training, from_logits=True):
    loss_fn = beras.losses.SparseCategoricalCrossentropy(from_logits=from_logits)
    with beras.GradientTape() as tape:
        logits = model(beras.constant(x), training=training)
        loss = loss_fn(y, logits)
    grads = tape.gradient(loss, model.trainable_weights)
    return logits.numpy(), float(loss), by_name(model.trainable_weights, grads)


def check_same(kmodel, bmodel, x, y, training, tol, from_logits=True):
    """Same outputs, loss and gradients w.r.t. every trainable weight (paired by name)."""
    k_logits, k_loss, k_grads = keras_step(kmodel, x, y, training, from_logits)
    b_logits, b_loss, b_grads = beras_step(bmodel, x, y, training, from_logits)
    assert rel_error(b_logits, k_logits) < tol, f"logits differ: {rel_error(b_logits, k_logits):.2e}"
    assert abs(b_loss - k_loss) / abs(k_loss) < tol, f"loss {b_loss} vs keras {k_loss}"
    assert sorted(b_grads) == sorted(k_grads) and len(k_grads) == len(kmodel.trainable_weights)
    for name in k_grads:
        err = rel_error(b_grads[name], k_grads[name])
        assert err < tol, f"gradient w.r.t. {name} differs: {err:.2e}"
    return k_grads, b_grads


def check_all_weights(kmodel, bmodel, tol):
    k, b = by_name(kmodel.weights, kmodel.get_weights()), by_name(bmodel.weights, bmodel.get_weights())
    assert sorted(k) == sorted(b)
    for name in k:
        assert rel_error(b[name], k[name]) <= tol, f"weight {name} differs: {rel_error(b[name], k[name]):.2e}"


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_resnet_converts_with_same_predictions_loss_gradients_and_moving_stats(dtype):
    keras.config.set_floatx(dtype)
    keras.config.set_dtype_policy(dtype)
    try:
        kmodel = build_resnet("keras", compile=False)
    finally:
        keras.config.set_floatx("float32")
        keras.config.set_dtype_policy("float32")
    assert kmodel.layers[1].compute_dtype == dtype
    randomize(kmodel)
    bmodel = beras.models.from_keras(kmodel)
    assert isinstance(bmodel, beras.Model)
    assert {type(layer).__name__ for layer in bmodel.layers} >= {"Conv2D", "BatchNormalization", "Add",
                                                                 "GlobalAveragePooling2D", "Dense", "ReLU"}
    assert any(layer.strides == (2, 2) and layer.kernel_size == (1, 1) for layer in bmodel.layers
               if isinstance(layer, beras.layers.Conv2D))  # the strided 1x1 projection shortcut
    check_all_weights(kmodel, bmodel, 0)
    x, y = digits_batch(dtype=dtype)
    tol = TOL[dtype]
    np.testing.assert_allclose(bmodel.predict(x, verbose=0), kmodel.predict(x, verbose=0),
                               rtol=0, atol=10 * tol * np.abs(kmodel.predict(x, verbose=0)).max())
    check_same(kmodel, bmodel, x, y, training=False, tol=tol)
    check_all_weights(kmodel, bmodel, 0)  # inference leaves the moving statistics alone
    k_grads, b_grads = check_same(kmodel, bmodel, x, y, training=True, tol=tol)
    check_all_weights(kmodel, bmodel, tol)  # the moving statistics after one training step
    # ... and after one SGD step on those gradients, every weight still agrees
    kopt, bopt = keras.optimizers.SGD(0.1), beras.optimizers.SGD(0.1)
    kopt.apply_gradients([(tf.constant(k_grads["/".join(w.path.split("/")[-2:])]), w) for w in kmodel.trainable_weights])
    bopt.apply_gradients([(beras.constant(b_grads[w.name]), w) for w in bmodel.trainable_weights])
    check_all_weights(kmodel, bmodel, tol)
    check_same(kmodel, bmodel, *digits_batch(seed=1, dtype=dtype), training=True, tol=tol)


def dense_block_model():
    """DenseNet-style: each BN-ReLU-conv's features are concatenated onto its input; a transition with
    1x1 conv and average pooling; plus ZeroPadding2D, GlobalMaxPooling2D, Dropout and softmax."""
    L = keras.layers
    inputs = keras.Input((8, 8, 1))
    x = L.Conv2D(6, 3, padding="same")(L.ZeroPadding2D(1)(inputs))
    for _ in range(2):
        y = L.Conv2D(4, 3, padding="same", use_bias=False)(L.Activation("relu")(L.BatchNormalization()(x)))
        x = L.Concatenate()([x, y])
    x = L.AveragePooling2D(2)(L.Conv2D(8, 1, activation="relu")(x))
    x = L.MaxPooling2D(3, strides=2, padding="same")(x)
    x = L.Dropout(0.3)(L.GlobalMaxPooling2D()(x))
    return keras.Model(inputs, L.Dense(10, activation="softmax")(x))


def test_densenet_style_concatenate_model():
    kmodel = dense_block_model()
    randomize(kmodel, seed=2)
    bmodel = beras.models.from_keras(kmodel)
    assert sum(isinstance(layer, beras.layers.Concatenate) for layer in bmodel.layers) == 2
    x, y = digits_batch()
    check_same(kmodel, bmodel, x, y, training=False, tol=1e-5, from_logits=False)
    # training mode (BN batch statistics, moving averages) without dropout's randomness
    kmodel.get_layer(index=-2).rate = 0.0
    bmodel = beras.models.from_keras(kmodel)
    check_same(kmodel, bmodel, x, y, training=True, tol=1e-5, from_logits=False)
    check_all_weights(kmodel, bmodel, 1e-5)


def test_sequential_cnn_converts_and_keeps_keras_weight_order():
    kmodel = build_cnn("keras", compile=False)
    randomize(kmodel, seed=3)
    bmodel = beras.models.from_keras(kmodel)
    assert isinstance(bmodel, beras.Sequential)
    assert [type(layer).__name__ for layer in bmodel.layers] == [type(layer).__name__ for layer in kmodel.layers]
    for wb, wk in zip(bmodel.get_weights(), kmodel.get_weights()):  # same order: set_weights works both ways
        np.testing.assert_array_equal(wb, wk)
    x, y = digits_batch()
    check_same(kmodel, bmodel, x, y, training=False, tol=1e-5)
    check_same(kmodel, bmodel, x, y, training=True, tol=1e-5)
    check_all_weights(kmodel, bmodel, 1e-5)


def test_unsupported_layer_names_it_and_lists_the_supported_ones():
    kmodel = keras.Sequential([keras.Input((8, 8)), keras.layers.Conv1D(2, 3), keras.layers.Flatten()])
    with pytest.raises(ValueError, match=r"Conv1D.*supported layers:.*Conv2D.*Dense"):
        beras.models.from_keras(kmodel)
    with pytest.raises(ValueError, match="groups"):
        beras.models.from_keras(keras.Sequential([keras.Input((5, 5, 4)), keras.layers.Conv2D(2, 3, groups=2)]))


def test_functional_weights_in_keras_order_so_twins_share_set_weights():
    """Keras orders a functional model's layers by depth, then first visit: with branches (the projection
    shortcut, the dense blocks) a plain topological order would differ. beras follows Keras."""
    for kmodel in (build_resnet("keras", compile=False), dense_block_model()):
        bmodel = beras.models.from_keras(kmodel)
        assert [w.name for w in bmodel.weights] == ["/".join(w.path.split("/")[-2:]) for w in kmodel.weights]
    kmodel, bmodel = build_resnet("keras", compile=False), build_resnet("beras", compile=False)
    randomize(kmodel, seed=4)
    bmodel.set_weights(kmodel.get_weights())
    x, _ = digits_batch()
    assert rel_error(bmodel(x).numpy(), kmodel(x).numpy()) < 1e-5


def test_layer_and_group_normalization_models():
    """LayerNormalization (over H, W, C) and GroupNormalization convert with their axes, groups and weights."""
    L = keras.layers
    kmodel = keras.Sequential([keras.Input((8, 8, 1)), L.Conv2D(6, 3), L.GroupNormalization(3, epsilon=1e-2),
                               L.ReLU(), L.Conv2D(4, 3), L.LayerNormalization(axis=[1, 2, 3], center=False),
                               L.Flatten(), L.Dense(10)])
    randomize(kmodel, seed=3)
    bmodel = beras.models.from_keras(kmodel)
    gn, ln = bmodel.layers[1], bmodel.layers[4]
    assert (type(gn).__name__, gn.groups, gn.epsilon) == ("GroupNormalization", 3, 1e-2)
    assert (type(ln).__name__, ln.axis, ln.center) == ("LayerNormalization", [1, 2, 3], False)
    x, y = digits_batch()
    check_same(kmodel, bmodel, x, y, training=True, tol=1e-5)
