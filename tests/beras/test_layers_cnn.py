"""The CNN layers vs their Keras twins, weights copied: outputs and gradients (input and every weight).

float32 to ~1e-5 and float64 to ~1e-9 (CS231n relative error, normalised by the largest magnitude),
odd and non-square sizes, strides, 'same'/'valid', dilation; BatchNormalization over k training steps;
LayerNormalization and GroupNormalization on hypothesis-drawn shapes and axes.
"""
import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given
from hypothesis import strategies as st

import beras
import beras.layers  # noqa: F401
from beras.gradcheck import rel_error

TOL = {"float64": 1e-9, "float32": 1e-5}


def random_weights(klayer, rng):
    """Random values for every weight (variances positive) so no case is trivially zero or one."""
    out = []
    for w in klayer.weights:
        shape, dtype = tuple(w.shape), w.dtype
        v = rng.uniform(0.5, 2.0, shape) if "variance" in w.name else rng.normal(0, 0.5, shape)
        out.append(v.astype(dtype))
    return out


def twins(make, x, dtype):
    """Build ``make(keras.layers)`` and ``make(beras.layers)`` on ``x`` and give both the same random weights."""
    k, b = make(keras.layers, dtype), make(beras.layers, dtype)
    k(_tf(x)), b(x)
    weights = random_weights(k, np.random.default_rng(1))
    k.set_weights(weights)
    b.set_weights(weights)
    return k, b


def _tf(x):
    return [tf.constant(v) for v in x] if isinstance(x, list) else tf.constant(x)


def _beras(x):
    return [beras.constant(v) for v in x] if isinstance(x, list) else beras.constant(x)


def run_keras(k, x, cot, training):
    xt = _tf(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = k(xt, training=training)
        loss = tf.reduce_sum(y * cot)
    grads = tape.gradient(loss, [xt, k.trainable_weights])
    return y.numpy(), grads


def run_beras(b, x, cot, training):
    xb = _beras(x)
    with beras.GradientTape() as tape:
        tape.watch(xb)
        y = b(xb, training=training)
        loss = beras.reduce_sum(y * cot)
    grads = tape.gradient(loss, [xb, b.trainable_weights])
    return y.numpy(), grads


def _flat(g):
    return [np.asarray(v) for v in g] if isinstance(g, list) else [np.asarray(g)]


def check_twins(k, b, x, dtype, training=False):
    """Same output and same gradients (w.r.t. the input(s) and every trainable weight) under a random cotangent."""
    tol = TOL[dtype]
    yk = k(_tf(x), training=False)
    cot = np.random.default_rng(2).normal(size=tuple(yk.shape)).astype(dtype)
    out_k, (gx_k, gw_k) = run_keras(k, x, cot, training)
    out_b, (gx_b, gw_b) = run_beras(b, x, cot, training)
    assert out_b.dtype == np.dtype(dtype)
    assert rel_error(out_b, out_k) < tol, f"output differs: {rel_error(out_b, out_k):.2e}"
    for i, (gb, gk) in enumerate(zip(_flat(gx_b), _flat(gx_k))):
        assert rel_error(gb, gk) < tol, f"gradient w.r.t. input {i} differs: {rel_error(gb, gk):.2e}"
    assert len(gw_b) == len(gw_k)
    for w, gb, gk in zip(k.trainable_weights, gw_b, gw_k):
        assert rel_error(gb, gk) < tol, f"gradient w.r.t. {w.name} differs: {rel_error(gb, gk):.2e}"


def inputs(shape, dtype, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype(dtype)


DTYPES = ["float32", "float64"]

# ------------------------------------------------------------------------------------------ Conv2D
CONV_CASES = {
    "3x3-valid-odd": ((2, 7, 9, 2), dict(filters=3, kernel_size=3)),
    "2x3-stride2-same": ((1, 9, 8, 3), dict(filters=4, kernel_size=(2, 3), strides=2, padding="same")),
    "3x3-stride3x2-same-1ch": ((2, 10, 7, 1), dict(filters=2, kernel_size=3, strides=(3, 2), padding="same")),
    "4x4-stride2-valid": ((3, 11, 9, 2), dict(filters=2, kernel_size=4, strides=2)),
    "1x1-nobias-relu": ((2, 5, 6, 4), dict(filters=3, kernel_size=1, use_bias=False, activation="relu")),
    "3x3-dilation2-same": ((2, 9, 8, 2), dict(filters=3, kernel_size=3, padding="same", dilation_rate=2)),
    "2x2-dilation2-valid-tanh": ((1, 7, 6, 2), dict(filters=2, kernel_size=2, dilation_rate=(2, 2),
                                                    activation="tanh")),
    # grouped (Keras runs these through XLA on the CPU: TF's own CPU conv2d has no grouped gradient)
    "groups2-3x3-stride2-same": ((2, 9, 8, 4), dict(filters=6, kernel_size=3, strides=2, padding="same", groups=2)),
    "groups3-2x3-valid-nobias": ((1, 7, 6, 6), dict(filters=3, kernel_size=(2, 3), groups=3, use_bias=False)),
    "groups4-depthwise-like-1x1": ((2, 5, 5, 4), dict(filters=8, kernel_size=1, groups=4)),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", list(CONV_CASES))
def test_conv2d_matches_keras(case, dtype):
    # (Keras's Conv2D runs tf.nn.convolution, which differentiates dilated cases on the CPU too,
    # unlike tf.nn.conv2d: so Keras itself is the reference for dilation as well.)
    shape, kwargs = CONV_CASES[case]
    x = inputs(shape, dtype)
    k, b = twins(lambda lib, dt: lib.Conv2D(**kwargs, dtype=dt), x, dtype)
    assert [w.name.split("/")[-1] for w in b.weights] == [w.name for w in k.weights]
    check_twins(k, b, x, dtype)


DEPTHWISE_CASES = {
    "3x3-valid": ((2, 7, 8, 3), dict(kernel_size=3)),
    "3x3-stride2-same-multiplier2": ((2, 9, 8, 2), dict(kernel_size=3, strides=2, padding="same",
                                                        depth_multiplier=2)),
    "2x3-dilation2-same-relu": ((1, 8, 9, 4), dict(kernel_size=(2, 3), padding="same", dilation_rate=2,
                                                   activation="relu")),
    "5x5-stride3-valid-nobias": ((2, 11, 10, 2), dict(kernel_size=5, strides=3, use_bias=False,
                                                      depth_multiplier=3)),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", list(DEPTHWISE_CASES))
def test_depthwise_conv2d_matches_keras(case, dtype):
    shape, kwargs = DEPTHWISE_CASES[case]
    x = inputs(shape, dtype)
    k, b = twins(lambda lib, dt: lib.DepthwiseConv2D(**kwargs, dtype=dt), x, dtype)
    assert [w.name.split("/")[-1] for w in b.weights] == [w.name for w in k.weights]
    assert [w.shape for w in b.get_weights()] == [tuple(w.shape) for w in k.weights]
    check_twins(k, b, x, dtype)


@pytest.mark.parametrize("make,words", [
    (lambda lib: lib.Conv2D(5, 3, groups=2), ["filters", "groups=2", "filters=5"]),
    (lambda lib: lib.Conv2D(4, 3, groups=0), ["groups", "groups=0"]),
    (lambda lib: lib.Conv2D(4, 3, groups=2)(np.zeros((1, 5, 5, 3), "float32")), ["input channels", "groups=2", "3"]),
    (lambda lib: lib.DepthwiseConv2D(3, depth_multiplier=0), ["depth_multiplier", "0"]),
])
def test_grouped_and_depthwise_layers_reject_what_keras_rejects(make, words):
    with pytest.raises(ValueError) as info:
        make(beras.layers)
    for word in words:
        assert word in str(info.value), f"{word!r} not in {str(info.value)!r}"
    with pytest.raises(ValueError):
        make(keras.layers)


def test_depthwise_strides_with_dilation_is_an_error_where_tf_computes_something_else():
    """Keras's DepthwiseConv2D accepts strides > 1 with dilation_rate > 1, and tf.nn.depthwise_conv2d only warns
    ("all values of strides must be 1") and returns numbers that are not the strided dilated depthwise
    convolution (TF's own grouped conv2d with the same strides and dilations disagrees with it). beras raises."""
    x = inputs((2, 13, 12, 4), "float64")
    w = inputs((3, 3, 4, 2), "float64", seed=1)
    with pytest.warns(UserWarning, match="strides must be 1"):
        tf_depthwise = tf.nn.depthwise_conv2d(x, w, [1, 2, 2, 1], "SAME", dilations=[2, 2]).numpy()
    tf_grouped = tf.nn.conv2d(x, w.reshape(3, 3, 1, 8), 2, "SAME", dilations=2).numpy()
    assert rel_error(tf_depthwise, tf_grouped) > 0.1                       # TF disagrees with itself
    ours = beras.nn.conv2d(x, w.reshape(3, 3, 1, 8), 2, "SAME", dilations=2).numpy()
    assert rel_error(ours, tf_grouped) < 1e-12
    for make in (lambda: beras.layers.DepthwiseConv2D(3, strides=2, dilation_rate=2),
                 lambda: beras.nn.depthwise_conv2d(x, w, [1, 2, 2, 1], "SAME", dilations=2)):
        with pytest.raises(ValueError, match="dilation"):
            make()


def test_conv2d_default_init_like_keras():
    """glorot_uniform kernel (limit sqrt(6 / (fan_in + fan_out))), zero bias, Keras's shapes."""
    b = beras.layers.Conv2D(8, (3, 5))
    b(np.zeros((1, 9, 9, 4), "float32"))
    kernel, bias = b.get_weights()
    assert kernel.shape == (3, 5, 4, 8) and bias.shape == (8,) and kernel.dtype == np.float32
    limit = np.sqrt(6 / (3 * 5 * 4 + 3 * 5 * 8))
    assert np.abs(kernel).max() <= limit and np.abs(kernel).max() > 0.8 * limit
    assert not bias.any()


# ------------------------------------------------------------------------------------------ pooling
POOL_CASES = {
    "max-2x2-valid-odd": ("MaxPooling2D", (2, 9, 7, 3), {}),
    "max-3x3-stride2-same": ("MaxPooling2D", (2, 9, 10, 2), dict(pool_size=3, strides=2, padding="same")),
    "max-2x3-stride1x2-valid": ("MaxPooling2D", (1, 6, 9, 1), dict(pool_size=(2, 3), strides=(1, 2))),
    "avg-2x2-valid-odd": ("AveragePooling2D", (2, 9, 7, 3), dict(pool_size=2)),  # required in Keras
    "avg-3x3-stride2-same": ("AveragePooling2D", (2, 9, 10, 2), dict(pool_size=3, strides=2, padding="same")),
    "avg-2x3-stride3-same": ("AveragePooling2D", (1, 7, 8, 2), dict(pool_size=(2, 3), strides=3,
                                                                     padding="same")),
    "gap": ("GlobalAveragePooling2D", (2, 5, 7, 3), {}),
    "gap-keepdims": ("GlobalAveragePooling2D", (2, 5, 7, 3), dict(keepdims=True)),
    "gmp": ("GlobalMaxPooling2D", (2, 5, 7, 3), {}),
    "gmp-keepdims": ("GlobalMaxPooling2D", (1, 4, 3, 2), dict(keepdims=True)),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", list(POOL_CASES))
def test_pooling_matches_keras(case, dtype):
    cls, shape, kwargs = POOL_CASES[case]
    x = inputs(shape, dtype)
    k, b = twins(lambda lib, dt: getattr(lib, cls)(**kwargs, dtype=dt), x, dtype)
    check_twins(k, b, x, dtype)


def test_pooling_strides_default_to_pool_size():
    layer = beras.layers.AveragePooling2D(pool_size=3)
    assert layer.strides == (3, 3) and layer.padding == "valid"
    assert layer(np.ones((1, 9, 10, 1), "float32")).shape == (1, 3, 3, 1)


# ------------------------------------------------------------------------------------------ merging, padding
def test_add_and_concatenate_match_keras():
    for dtype in DTYPES:
        xs = [inputs((2, 5, 3, 4), dtype, seed=s) for s in range(3)]
        check_twins(*twins(lambda lib, dt: lib.Add(dtype=dt), xs, dtype), xs, dtype)
        ys = [inputs((2, 5, 3, c), dtype, seed=c) for c in (1, 4, 2)]
        check_twins(*twins(lambda lib, dt: lib.Concatenate(dtype=dt), ys, dtype), ys, dtype)
        zs = [inputs((2, h, 3, 2), dtype, seed=h) for h in (3, 1)]
        check_twins(*twins(lambda lib, dt: lib.Concatenate(axis=1, dtype=dt), zs, dtype), zs, dtype)


@pytest.mark.parametrize("padding", [1, (2, 0), ((1, 2), (0, 3))])
def test_zero_padding_matches_keras(padding):
    for dtype in DTYPES:
        x = inputs((2, 4, 5, 3), dtype)
        check_twins(*twins(lambda lib, dt: lib.ZeroPadding2D(padding, dtype=dt), x, dtype), x, dtype)


# ------------------------------------------------------------------------------------------ BatchNormalization
BN_CASES = {
    "nhwc": ((4, 5, 3, 3), {}),
    "axis1-nhwc": ((3, 4, 5, 2), dict(axis=1)),
    "dense-features": ((6, 5), dict(momentum=0.9, epsilon=1e-2)),
    "no-center": ((4, 3, 3, 2), dict(center=False)),
    "no-scale": ((4, 3, 3, 2), dict(scale=False)),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", list(BN_CASES))
def test_batchnorm_matches_keras_in_both_modes(case, dtype):
    shape, kwargs = BN_CASES[case]
    x = inputs(shape, dtype) * 3 + 1
    k, b = twins(lambda lib, dt: lib.BatchNormalization(**kwargs, dtype=dt), x, dtype)
    assert [w.name.split("/")[-1] for w in b.weights] == [w.name for w in k.weights]
    assert len(b.trainable_weights) == len(k.trainable_weights)
    check_twins(k, b, x, dtype, training=False)
    check_twins(k, b, x, dtype, training=True)  # also updates both layers' moving statistics once
    for wb, wk in zip(b.get_weights(), k.get_weights()):
        assert rel_error(wb, wk) < TOL[dtype]


@pytest.mark.parametrize("dtype", DTYPES)
def test_batchnorm_k_training_steps(dtype):
    """k=3 SGD steps on different batches: outputs, gamma/beta and moving statistics equal Keras's."""
    k = keras.layers.BatchNormalization(momentum=0.8, dtype=dtype)
    b = beras.layers.BatchNormalization(momentum=0.8, dtype=dtype)
    rng = np.random.default_rng(3)
    batches = [(rng.normal(size=(8, 3, 4, 5)) * 2 + 1).astype(dtype) for _ in range(3)]
    k(batches[0]), b(batches[0])
    b.set_weights(k.get_weights())  # Keras's own initial weights: ones, zeros, zeros, ones
    cot = rng.normal(size=(8, 3, 4, 5)).astype(dtype)
    for x in batches:
        out_k, (_, gk) = run_keras(k, x, cot, training=True)
        out_b, (_, gb) = run_beras(b, x, cot, training=True)
        assert rel_error(out_b, out_k) < TOL[dtype]
        for wk, wb, g_k, g_b in zip(k.trainable_weights, b.trainable_weights, gk, gb):
            assert rel_error(g_b, g_k) < TOL[dtype]
            wk.assign_sub(0.1 * g_k)
            wb.assign_sub(0.1 * np.asarray(g_b))
        for wb, wk in zip(b.get_weights(), k.get_weights()):
            assert rel_error(wb, wk) < TOL[dtype]
    assert not np.allclose(b.moving_mean.numpy(), 0)  # the statistics did move
    x = batches[0]
    assert rel_error(b(x).numpy(), k(x).numpy()) < TOL[dtype]  # inference with the moving statistics


def test_frozen_batchnorm_runs_in_inference_mode():
    x = inputs((6, 3, 3, 4), "float32") * 2 + 1
    k, b = twins(lambda lib, dt: lib.BatchNormalization(dtype=dt), x, "float32")
    k.trainable = b.trainable = False
    before = b.get_weights()
    assert b.trainable_weights == [] and len(b.non_trainable_weights) == 4
    out_b = b(x, training=True).numpy()
    out_k = k(x, training=True).numpy()
    assert rel_error(out_b, out_k) < 1e-5
    assert rel_error(out_b, b(x, training=False).numpy()) == 0
    for w0, w1 in zip(before, b.get_weights()):
        np.testing.assert_array_equal(w0, w1)


def test_batchnorm_moving_stats_untouched_in_inference():
    b = beras.layers.BatchNormalization()
    x = inputs((4, 2, 2, 3), "float32") + 5
    b(x)
    b(x, training=False)
    np.testing.assert_array_equal(b.moving_mean.numpy(), np.zeros(3))
    b(x, training=True)
    np.testing.assert_allclose(b.moving_mean.numpy(), 0.01 * x.mean(axis=(0, 1, 2)), rtol=1e-5)


# ------------------------------------------------------------------------------------------ Layer/GroupNormalization
# The same kernel as BatchNormalization's over other axes, so no moving statistics: training=True and False
# must both equal Keras (check_twins runs the layers in inference, then run_* in the mode given).
LN_CASES = {
    "nhwc-last": ((3, 4, 5, 3), {}),
    "nhwc-hwc": ((2, 3, 5, 4), dict(axis=[1, 2, 3])),
    "negative-axis-tuple": ((3, 4, 2, 5), dict(axis=(-3,))),
    "dense-no-center": ((5, 7), dict(center=False, epsilon=1e-2)),
    "no-scale-axis-hw": ((2, 3, 4, 2), dict(axis=[2, 1], scale=False)),
}
GN_CASES = {
    "nhwc-3-groups": ((2, 4, 3, 6), dict(groups=3)),
    "one-group-is-layer-norm": ((2, 3, 3, 4), dict(groups=1)),
    "instance-norm": ((3, 2, 5, 3), dict(groups=-1)),
    "channels-first": ((2, 6, 3, 4), dict(groups=2, axis=1)),
    "axis-2-no-center": ((2, 3, 4, 5), dict(groups=2, axis=-2, center=False)),
    "dense-no-scale": ((4, 6), dict(groups=3, scale=False, epsilon=1e-2)),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cls,case", [("LayerNormalization", c) for c in LN_CASES]
                         + [("GroupNormalization", c) for c in GN_CASES])
def test_layer_and_group_norm_match_keras(cls, case, dtype):
    shape, kwargs = (LN_CASES if cls == "LayerNormalization" else GN_CASES)[case]
    x = inputs(shape, dtype) * 3 + 1
    k, b = twins(lambda lib, dt: getattr(lib, cls)(**kwargs, dtype=dt), x, dtype)
    assert [w.name.split("/")[-1] for w in b.weights] == [w.name for w in k.weights]
    assert [w.shape for w in b.weights] == [tuple(w.shape) for w in k.weights]
    check_twins(k, b, x, dtype, training=False)
    check_twins(k, b, x, dtype, training=True)


@st.composite
def norm_layer_cases(draw):
    """A random rank-2..4 shape with sides 1..5, and a LayerNormalization over random axes or a
    GroupNormalization whose groups divide the channels of a random non-batch axis."""
    rank = draw(st.integers(2, 4))
    shape = list(draw(st.lists(st.integers(1, 5), min_size=rank, max_size=rank)))
    flags = dict(center=draw(st.booleans()), scale=draw(st.booleans()), epsilon=draw(st.sampled_from([1e-3, 0.1])))
    if draw(st.booleans()):
        axes = draw(st.lists(st.integers(1, rank - 1), min_size=1, max_size=rank - 1, unique=True))
        axis = axes[0] - rank if len(axes) == 1 and draw(st.booleans()) else axes
        return tuple(shape), "LayerNormalization", dict(axis=axis, **flags)
    axis = draw(st.integers(1, rank - 1))
    groups = draw(st.integers(1, 3))
    shape[axis] = groups * draw(st.integers(1, 3))
    return tuple(shape), "GroupNormalization", dict(groups=groups, axis=axis - rank, **flags)


@given(norm_layer_cases(), st.integers(0, 2**31 - 1))
def test_layer_and_group_norm_match_keras_on_random_shapes(case, seed):
    shape, cls, kwargs = case
    x = np.random.default_rng(seed).normal(size=shape) * 2 + 0.5       # float64: the tight tolerance
    k, b = twins(lambda lib, dt: getattr(lib, cls)(**kwargs, dtype=dt), x, "float64")
    check_twins(k, b, x, "float64", training=True)


def test_layer_and_group_norm_share_batch_norms_kernel(monkeypatch):
    """All three layers compute through nn.moments + nn.batch_normalization (the lesson: only the axes differ)."""
    calls = []
    for name in ("moments", "batch_normalization"):
        real = getattr(beras.nn, name)
        monkeypatch.setattr(beras.nn, name, lambda *a, _real=real, _name=name, **kw: calls.append(_name) or _real(*a, **kw))
    x = inputs((2, 3, 3, 4), "float32")
    for layer in (beras.layers.BatchNormalization(), beras.layers.LayerNormalization(),
                  beras.layers.GroupNormalization(2)):
        calls.clear()
        layer(x, training=True)
        assert calls == ["moments", "batch_normalization"], (type(layer).__name__, calls)


def test_group_and_layer_norm_errors_name_the_shapes_and_valid_choices():
    with pytest.raises(ValueError, match=r"6 channels.*\(2, 3, 6\).*groups=4.*valid groups: \[1, 2, 3, 6\]"):
        beras.layers.GroupNormalization(4)(np.zeros((2, 3, 6), "float32"))
    with pytest.raises(ValueError):                                  # Keras refuses it too
        keras.layers.GroupNormalization(4)(np.zeros((2, 3, 6), "float32"))
    with pytest.raises(ValueError, match="groups=8.*valid groups: \\[1, 2, 3, 6\\]"):
        beras.layers.GroupNormalization(8)(np.zeros((2, 3, 6), "float32"))   # more groups than channels
    with pytest.raises(ValueError, match="positive int"):
        beras.layers.GroupNormalization(0)
    with pytest.raises(ValueError, match="batch axis"):
        beras.layers.GroupNormalization(1, axis=0)(np.zeros((2, 3), "float32"))
    with pytest.raises(ValueError, match=r"axis=3 is out of range for input shape \(2, 3, 4\)"):
        beras.layers.LayerNormalization(axis=3)(np.zeros((2, 3, 4), "float32"))
    with pytest.raises(ValueError, match=r"distinct axes of input shape \(2, 3, 4\)"):
        beras.layers.LayerNormalization(axis=[1, -2])(np.zeros((2, 3, 4), "float32"))
    with pytest.raises(TypeError, match="axis"):
        beras.layers.LayerNormalization(axis="last")


# ------------------------------------------------------------------------------------------ errors
def test_bad_arguments_raise_value_errors():
    with pytest.raises(ValueError, match="'valid', 'same'"):
        beras.layers.Conv2D(2, 3, padding="full")
    with pytest.raises(ValueError, match="strides"):
        beras.layers.Conv2D(2, 3, strides=0)
    with pytest.raises(ValueError, match="strides"):
        beras.layers.MaxPooling2D(strides=(2, -1))
    with pytest.raises(ValueError, match="kernel_size"):
        beras.layers.Conv2D(2, (3, 3, 3))
    with pytest.raises(ValueError, match="channels_first"):
        beras.layers.Conv2D(2, 3, data_format="channels_first")
    with pytest.raises(ValueError, match="filters"):
        beras.layers.Conv2D(0, 3)
    with pytest.raises(ValueError, match=r"strides=\(2, 2\) and dilation_rate=\(2, 2\)"):
        beras.layers.Conv2D(2, 3, strides=2, dilation_rate=2)  # Keras refuses this combination too
    with pytest.raises(ValueError, match=r"\(2, 5, 5\)"):
        beras.layers.Conv2D(2, 3)(np.zeros((2, 5, 5), "float32"))
    with pytest.raises(ValueError, match=r"\(1, 4, 4\)"):
        beras.layers.MaxPooling2D()(np.zeros((1, 4, 4), "float32"))
    with pytest.raises(ValueError):  # a 5x5 kernel does not fit a 4x4 'valid' input
        beras.layers.Conv2D(2, 5)(np.zeros((1, 4, 4, 1), "float32"))
    conv = beras.layers.Conv2D(2, 3)
    conv(np.zeros((1, 5, 5, 3), "float32"))
    with pytest.raises(ValueError, match=r"\(1, 5, 5, 2\)"):
        conv(np.zeros((1, 5, 5, 2), "float32"))  # channel mismatch with the built kernel
    with pytest.raises(ValueError, match=r"\(2, 3, 3, 2\).*\(2, 4, 3, 2\)"):
        beras.layers.Add()([np.zeros((2, 3, 3, 2), "float32"), np.zeros((2, 4, 3, 2), "float32")])
    with pytest.raises(ValueError, match="list"):
        beras.layers.Add()(np.zeros((2, 3), "float32"))
    with pytest.raises(ValueError, match=r"\(2, 3, 3, 2\).*\(2, 4, 4, 2\)"):
        beras.layers.Concatenate()([np.zeros((2, 3, 3, 2), "float32"), np.zeros((2, 4, 4, 2), "float32")])
    with pytest.raises(ValueError, match="padding"):
        beras.layers.ZeroPadding2D((1, 2, 3))
    with pytest.raises(ValueError, match="padding"):
        beras.layers.ZeroPadding2D(-1)
    with pytest.raises(ValueError, match="axis"):
        beras.layers.BatchNormalization(axis=4)(np.zeros((2, 3, 3, 2), "float32"))
