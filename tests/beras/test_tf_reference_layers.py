"""Keras's own layer tests, ported: keras/src/layers/{convolutional,pooling,normalization,reshaping}/*_test.py.

Their parameter tables carry over (arguments, input shapes, expected output shapes, weight counts), and
their correctness checks (NumPy references, the batch-norm statistics facts); the code is ours. Every
case checks the beras layer and, where Keras can run it here (channels_last), the Keras layer too.
"""
import keras
import numpy as np
import pytest

import beras
import beras.layers  # noqa: F401


def np_pool2d(x, pool, strides, padding, reduce):
    """NumPy reference for channels_last pooling (like the tests' np_maxpool2d / np_avgpool2d): windows
    over the real cells only, TF's SAME split (the odd padded cell at the bottom / right)."""
    n, h, w, c = x.shape
    outs, pads = [], []
    for size, k, s in zip((h, w), pool, strides):
        out = -(-size // s) if padding == "same" else (size - k) // s + 1
        pads.append(max((out - 1) * s + k - size, 0) // 2 if padding == "same" else 0)
        outs.append(out)
    y = np.zeros((n, *outs, c), x.dtype)
    for i in range(outs[0]):
        for j in range(outs[1]):
            r0, c0 = i * strides[0] - pads[0], j * strides[1] - pads[1]
            win = x[:, max(r0, 0):r0 + pool[0], max(c0, 0):c0 + pool[1], :]
            y[:, i, j, :] = reduce(win, axis=(1, 2))
    return y


# -------------------------------------------------------------------------------------------- conv_test
CONV2D_BASIC = [  # conv_test.test_conv2d_basic, channels_last rows
    dict(filters=5, kernel_size=2, strides=1, padding="valid", dilation_rate=1, groups=1,
         input_shape=(3, 5, 5, 4), output_shape=(3, 4, 4, 5)),
    dict(filters=6, kernel_size=2, strides=1, padding="same", dilation_rate=(2, 2), groups=2,
         input_shape=(3, 4, 4, 4), output_shape=(3, 4, 4, 6)),
    dict(filters=6, kernel_size=(2, 2), strides=(2, 1), padding="valid", dilation_rate=(1, 1), groups=2,
         input_shape=(3, 5, 5, 4), output_shape=(3, 2, 4, 6)),
]


@pytest.mark.parametrize("case", CONV2D_BASIC, ids=lambda c: f"groups{c['groups']}-{c['padding']}")
def test_conv2d_basic(case):
    case = dict(case)
    input_shape, output_shape = case.pop("input_shape"), case.pop("output_shape")
    x = np.random.default_rng(0).standard_normal(input_shape).astype("float32")
    for lib in (beras.layers, keras.layers):
        layer = lib.Conv2D(**case)
        y = layer(x)
        assert tuple(y.shape) == output_shape
        assert len(layer.trainable_weights) == 2 and len(layer.non_trainable_weights) == 0
        kh, kw = (case["kernel_size"],) * 2 if isinstance(case["kernel_size"], int) else case["kernel_size"]
        assert tuple(layer.kernel.shape) == (kh, kw, input_shape[-1] // case["groups"], case["filters"])


DEPTHWISE_BASIC = [  # depthwise_conv_test.test_depthwise_conv2d_basic, channels_last rows
    dict(depth_multiplier=5, kernel_size=2, strides=1, padding="valid", dilation_rate=1,
         input_shape=(3, 5, 5, 4), output_shape=(3, 4, 4, 20)),
    dict(depth_multiplier=6, kernel_size=2, strides=1, padding="same", dilation_rate=(2, 2),
         input_shape=(3, 4, 4, 4), output_shape=(3, 4, 4, 24)),
    dict(depth_multiplier=6, kernel_size=(2, 2), strides=(2, 2), padding="valid", dilation_rate=(1, 1),
         input_shape=(3, 5, 5, 4), output_shape=(3, 2, 2, 24)),
]


@pytest.mark.parametrize("case", DEPTHWISE_BASIC, ids=lambda c: f"m{c['depth_multiplier']}-{c['padding']}")
def test_depthwise_conv2d_basic(case):
    case = dict(case)
    input_shape, output_shape = case.pop("input_shape"), case.pop("output_shape")
    x = np.random.default_rng(0).standard_normal(input_shape).astype("float32")
    for lib in (beras.layers, keras.layers):
        layer = lib.DepthwiseConv2D(**case)
        assert tuple(layer(x).shape) == output_shape
        assert len(layer.trainable_weights) == 2 and len(layer.non_trainable_weights) == 0


def test_depthwise_conv2d_correctness_against_a_numpy_reference():
    """depthwise_conv_test.test_depthwise_conv2d's check: output channel c*M + m is input channel c
    correlated with kernel[:, :, c, m], plus bias (the test's np_depthwise_conv2d)."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 6, 5, 3))
    kernel, bias = rng.standard_normal((3, 2, 3, 2)), rng.standard_normal(6)
    expected = np.zeros((2, 4, 4, 6))
    for c in range(3):
        for m in range(2):
            for a in range(3):
                for b in range(2):
                    expected[..., c * 2 + m] += x[:, a:a + 4, b:b + 4, c] * kernel[a, b, c, m]
    expected += bias
    for lib in (beras.layers, keras.layers):
        layer = lib.DepthwiseConv2D((3, 2), depth_multiplier=2, dtype="float64")
        layer.build(x.shape)
        layer.set_weights([kernel, bias])
        np.testing.assert_allclose(np.asarray(layer(x)), expected, rtol=1e-12, atol=1e-12)


def test_grouped_conv2d_correctness_against_a_numpy_reference():
    """conv_test.test_conv2d (groups > 1): group g of the output is input group g convolved with its filters."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 5, 6, 4))
    kernel, bias = rng.standard_normal((2, 3, 2, 6)), rng.standard_normal(6)
    expected = np.zeros((2, 4, 4, 6))
    for g in range(2):
        for a in range(2):
            for b in range(3):
                expected[..., 3 * g:3 * g + 3] += (x[:, a:a + 4, b:b + 4, 2 * g:2 * g + 2]
                                                   @ kernel[a, b, :, 3 * g:3 * g + 3])
    expected += bias
    for lib in (beras.layers, keras.layers):
        layer = lib.Conv2D(6, (2, 3), groups=2, dtype="float64")
        layer.build(x.shape)
        layer.set_weights([kernel, bias])
        np.testing.assert_allclose(np.asarray(layer(x)), expected, rtol=1e-12, atol=1e-12)


# ----------------------------------------------------------------------------------------- pooling tests
POOL_SHAPES = [  # max_pooling_test / average_pooling_test, channels_last rows: (cls, pool, strides, padding, in, out)
    ("MaxPooling2D", 2, 1, "valid", (3, 5, 5, 4), (3, 4, 4, 4)),
    ("MaxPooling2D", (2, 3), (2, 2), "valid", (3, 5, 5, 4), (3, 2, 2, 4)),
    ("AveragePooling2D", 2, 1, "valid", (3, 5, 5, 4), (3, 4, 4, 4)),
    ("AveragePooling2D", 2, 1, "same", (3, 5, 5, 4), (3, 5, 5, 4)),
    ("AveragePooling2D", (2, 3), (2, 2), "valid", (3, 5, 5, 4), (3, 2, 2, 4)),
    ("AveragePooling2D", (2, 3), (2, 2), "same", (3, 5, 5, 4), (3, 3, 3, 4)),
]


@pytest.mark.parametrize("cls,pool,strides,padding,in_shape,out_shape", POOL_SHAPES)
def test_pooling2d_shapes(cls, pool, strides, padding, in_shape, out_shape):
    x = np.zeros(in_shape, "float32")
    for lib in (beras.layers, keras.layers):
        layer = getattr(lib, cls)(pool_size=pool, strides=strides, padding=padding)
        assert tuple(layer(x).shape) == out_shape
        assert not layer.weights


POOL_CORRECTNESS = [  # max_pooling_test.test_max_pooling2d on arange(100) as (1, 5, 5, 4);
    ("MaxPooling2D", 2, 1, "valid", (1, 5, 5, 4)),  # average_pooling_test on arange(16) as (1, 4, 4, 1)
    ("MaxPooling2D", (2, 2), (2, 2), "same", (1, 5, 5, 4)),
    ("MaxPooling2D", (2, 3), (3, 3), "same", (1, 5, 5, 4)),
    ("AveragePooling2D", 2, 1, "valid", (1, 4, 4, 1)),
    ("AveragePooling2D", (2, 3), (2, 2), "valid", (1, 4, 4, 1)),
    ("AveragePooling2D", 2, (2, 1), "same", (1, 4, 4, 1)),
    ("AveragePooling2D", (2, 2), (2, 2), "same", (1, 4, 4, 1)),
]


@pytest.mark.parametrize("cls,pool,strides,padding,in_shape", POOL_CORRECTNESS)
def test_pooling2d_correctness(cls, pool, strides, padding, in_shape):
    x = np.arange(np.prod(in_shape), dtype="float32").reshape(in_shape)
    pair = lambda v: (v, v) if isinstance(v, int) else tuple(v)  # noqa: E731
    expected = np_pool2d(x, pair(pool), pair(strides), padding, np.max if cls == "MaxPooling2D" else np.mean)
    for lib in (beras.layers, keras.layers):
        out = np.asarray(getattr(lib, cls)(pool_size=pool, strides=strides, padding=padding)(x))
        np.testing.assert_allclose(out, expected, rtol=1e-6)


# ------------------------------------------------------------------------------------ zero_padding2d_test
def test_zero_padding_2d():
    x = np.random.default_rng(0).random((1, 2, 3, 4)).astype("float32")
    for lib in (beras.layers, keras.layers):
        out = np.asarray(lib.ZeroPadding2D(padding=((1, 2), (3, 4)))(x))
        for index in [0, -1, -2]:
            assert not out[:, index].any()
        for index in [0, 1, 2, -1, -2, -3, -4]:
            assert not out[:, :, index].any()
        np.testing.assert_array_equal(out[:, 1:-2, 3:-4, :], x)
        for padding in [((2, 2), (2, 2)), (2, 2), 2]:
            out = np.asarray(lib.ZeroPadding2D(padding=padding)(x))
            for index in [0, 1, -1, -2]:
                assert not out[:, index].any() and not out[:, :, index].any()
            np.testing.assert_array_equal(out[:, 2:-2, 2:-2, :], x)


@pytest.mark.parametrize("padding", [(1,), (1, 2, 3), "1", ((1, 2), (3, 4, 5)), ((1, 2), (3, -4)), ((1, 2), "3")])
def test_zero_padding_2d_errors_if_padding_argument_invalid(padding):
    for lib in (beras.layers, keras.layers):
        with pytest.raises(ValueError):
            lib.ZeroPadding2D(padding)


# --------------------------------------------------------------------------------- batch_normalization_test
@pytest.mark.parametrize("axis", [-1, 1])
@pytest.mark.parametrize("input_shape", [(5, 2, 3), (5, 3, 3, 2)])
@pytest.mark.parametrize("moving_init", [("zeros", "ones"), ("ones", "zeros")])
def test_batch_normalization_correctness(axis, input_shape, moving_init):
    """batch_normalization_test.test_correctness: momentum 0, data centred on 5 with variance 10, three
    training calls; the output is normalized per feature, the moving statistics are the last batch's,
    inference before training differs from training, after training it matches."""
    x = np.random.default_rng(0).normal(loc=5.0, scale=10.0, size=input_shape)
    for lib in (beras.layers, keras.layers):
        layer = lib.BatchNormalization(axis=axis, momentum=0, moving_mean_initializer=moving_init[0],
                                       moving_variance_initializer=moving_init[1], dtype="float64")
        out = x
        for _ in range(3):
            out = layer(out, training=True)
        shape = [1] * len(input_shape)
        shape[axis] = input_shape[axis]
        out = (np.asarray(out) - np.asarray(layer.beta).reshape(shape)) / np.asarray(layer.gamma).reshape(shape)
        axes = tuple(i for i in range(len(input_shape)) if i != axis % len(input_shape))
        np.testing.assert_allclose(out.mean(axis=axes), 0.0, atol=1e-3)
        np.testing.assert_allclose(out.std(axis=axes), 1.0, atol=1e-3)
        np.testing.assert_allclose(np.asarray(layer.moving_mean), 0.0, atol=1e-3)
        np.testing.assert_allclose(np.asarray(layer.moving_variance), 1.0, atol=1e-2)
        inference, training = np.asarray(layer(x, training=False)), np.asarray(layer(x, training=True))
        assert not np.allclose(inference, training)
        training = np.asarray(layer(x, training=True))
        np.testing.assert_allclose(np.asarray(layer(x, training=False)), training, atol=1e-6)
