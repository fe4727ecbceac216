"""TensorFlow's own kernel tests, ported: the hard-coded expectations of conv_ops_test, pooling_ops_test,
depthwise_conv_op_test, bias_op_test and nn_batchnorm_test (tensorflow/python/kernel_tests/nn_ops/ and
python/ops/), an independent reference beside the live parity tests.

The facts and numbers carry over (input sizes, strides, padding, the expected outputs); the code is ours.
TF's tests fill inputs with 1, 2, 3, ... (conv) or with "incrementing numbers from 1, wrapping round
to -127 after 127" (pooling); filters and upstream gradients likewise. Each case checks beras in float32
and float64 *and* TF's own CPU kernel as installed here (TF 2.21) against the same numbers. Every ported
case passes on TF's CPU kernels here, with oneDNN on and off. Where TF's CPU kernels do misbehave on
inputs these tables do not cover (the gradient of an empty conv2d output crashes the process, MaxPoolGrad
of an empty output returns uninitialized memory, float64 depth max pooling rounds some maxima to
float32, depthwise_conv2d with strides and dilations only warns and computes something else), the
cases in tests/beras/test_cnn_ops.py and tests/beras/test_layers_cnn.py say so.
"""
import numpy as np
import pytest
import tensorflow as tf

import beras

DTYPES = ["float32", "float64"]
RTOL = {"float32": 1e-6, "float64": 1e-12}


def ones_up(shape):
    """TF's conv tests: 1, 2, 3, ... reshaped."""
    return np.arange(1, int(np.prod(shape)) + 1, dtype=np.float64).reshape(shape)


def pool_values(shape):
    """TF's pooling tests: incrementing numbers from 1, wrapping round to -127 after 127 (int8-safe)."""
    return np.array([((f + 128) % 255) - 127 for f in range(int(np.prod(shape)))], np.float64).reshape(shape)


def check(ours, theirs, expected, dtype):
    """beras's and TF's results both equal TF's hard-coded expectation."""
    expected = np.asarray(expected, np.float64)
    np.testing.assert_allclose(np.asarray(ours, np.float64).ravel(), expected, rtol=RTOL[dtype], atol=0)
    np.testing.assert_allclose(np.asarray(theirs, np.float64).ravel(), expected, rtol=RTOL[dtype], atol=0,
                               equal_nan=True)


def vjp(lib, fn, arrays, upstream, wrt):
    """Gradient of fn(*arrays) w.r.t. arrays[wrt] for the upstream gradient ``upstream``, with beras or TF."""
    xs = [lib.constant(a) for a in arrays]
    with lib.GradientTape() as tape:
        tape.watch(xs[wrt])
        out = fn(*xs)
    return tape.gradient(out, xs[wrt], output_gradients=lib.constant(upstream)).numpy()


# ------------------------------------------------------------------------------------------- conv_ops_test
CONV_FORWARD = [  # (test name, input sizes, filter sizes, strides, padding, expected)
    ("testConv2D1x1Filter", [1, 2, 3, 3], [1, 1, 3, 3], [1, 1], "VALID",
     [30, 36, 42, 66, 81, 96, 102, 126, 150, 138, 171, 204, 174, 216, 258, 210, 261, 312]),
    ("testConv2D2x2Filter", [1, 2, 3, 3], [2, 2, 3, 3], [1, 1], "VALID", [2271, 2367, 2463, 2901, 3033, 3165]),
    ("testConv2D1x2Filter", [1, 2, 3, 3], [1, 2, 3, 3], [1, 1], "VALID",
     [231, 252, 273, 384, 423, 462, 690, 765, 840, 843, 936, 1029]),
    ("testConv2D2x2FilterStride2", [1, 2, 3, 3], [2, 2, 3, 3], [2, 2], "VALID", [2271, 2367, 2463]),
    ("testConv2D2x2FilterStride2Same", [1, 2, 3, 3], [2, 2, 3, 3], [2, 2], "SAME",
     [2271, 2367, 2463, 1230, 1305, 1380]),
    ("testConv2D2x2FilterStride1x2", [1, 3, 6, 1], [2, 2, 1, 1], [1, 2], "VALID", [58, 78, 98, 118, 138, 158]),
    ("testConv2DKernelSmallerThanStrideValid", [1, 7, 7, 1], [2, 2, 1, 1], [3, 3], "VALID", [65, 95, 275, 305]),
    ("testConv2DKernelSmallerThanStrideSame/1x1-3x3", [1, 3, 3, 1], [1, 1, 1, 1], [2, 2], "SAME", [1, 3, 7, 9]),
    ("testConv2DKernelSmallerThanStrideSame/1x1-4x4", [1, 4, 4, 1], [1, 1, 1, 1], [2, 2], "SAME", [1, 3, 9, 11]),
    ("testConv2DKernelSmallerThanStrideSame/2x2-s3", [1, 4, 4, 1], [2, 2, 1, 1], [3, 3], "SAME", [44, 28, 41, 16]),
    ("testConv2DKernelSizeMatchesInputSize", [1, 2, 2, 1], [2, 2, 1, 2], [1, 1], "VALID", [50, 60]),
    ("testConv2DEmpty", [0, 2, 3, 3], [1, 1, 3, 3], [1, 1], "VALID", []),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,in_sizes,filter_sizes,strides,padding,expected", CONV_FORWARD,
                         ids=[c[0] for c in CONV_FORWARD])
def test_conv2d_forward(name, in_sizes, filter_sizes, strides, padding, expected, dtype):
    x, w = ones_up(in_sizes).astype(dtype), ones_up(filter_sizes).astype(dtype)
    ours = beras.nn.conv2d(x, w, strides, padding)
    theirs = tf.nn.conv2d(x, w, strides, padding)
    assert ours.shape == tuple(theirs.shape)
    check(ours, theirs, expected, dtype)


CONV_BACKPROP_INPUT = [  # (name, input sizes, filter sizes, output sizes, strides, padding, expected)
    ("testConv2D2x2Depth1ValidBackpropInput", [1, 2, 3, 1], [2, 2, 1, 1], [1, 1, 2, 1], [1, 1], "VALID",
     [1, 4, 4, 3, 10, 8]),
    ("testConv2D2x2Depth3ValidBackpropInput", [1, 2, 3, 3], [2, 2, 3, 3], [1, 1, 2, 3], [1, 1], "VALID",
     [14, 32, 50, 100, 163, 226, 167, 212, 257, 122, 140, 158, 478, 541, 604, 437, 482, 527]),
    ("testConv2DStrideTwoFilterOneSameBackpropInput", [1, 4, 4, 1], [1, 1, 1, 1], [1, 2, 2, 1], [2, 2], "SAME",
     [1, 0, 2, 0, 0, 0, 0, 0, 3, 0, 4, 0, 0, 0, 0, 0]),
    ("testConv2DKernelSizeMatchesInputSizeBackpropInput", [1, 2, 2, 1], [2, 2, 1, 2], [1, 1, 1, 2], [1, 1],
     "VALID", [5, 11, 17, 23]),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,in_sizes,filter_sizes,out_sizes,strides,padding,expected", CONV_BACKPROP_INPUT,
                         ids=[c[0] for c in CONV_BACKPROP_INPUT])
def test_conv2d_backprop_input(name, in_sizes, filter_sizes, out_sizes, strides, padding, expected, dtype):
    """The filter is 1, 2, 3, ... and the output gradient 1, 2, 3, ...; the input's values do not matter."""
    x, w, up = np.zeros(in_sizes, dtype), ones_up(filter_sizes).astype(dtype), ones_up(out_sizes).astype(dtype)
    args = [x, w]
    ours = vjp(beras, lambda a, b: beras.nn.conv2d(a, b, strides, padding), args, up, 0)
    theirs = vjp(tf, lambda a, b: tf.nn.conv2d(a, b, strides, padding), args, up, 0)
    check(ours, theirs, expected, dtype)


CONV_BACKPROP_FILTER = [  # (name, input sizes, filter sizes, output sizes, strides, padding, expected)
    ("testConv2D2x2Depth1ValidBackpropFilter", [1, 2, 3, 1], [2, 2, 1, 1], [1, 1, 2, 1], [1, 1], "VALID",
     [5, 8, 14, 17]),
    ("testConv2D2x2Depth3ValidBackpropFilter", [1, 2, 3, 3], [2, 2, 3, 3], [1, 1, 2, 3], [1, 1], "VALID",
     [17, 22, 27, 22, 29, 36, 27, 36, 45, 32, 43, 54, 37, 50, 63, 42, 57, 72, 62, 85, 108, 67, 92, 117, 72, 99,
      126, 77, 106, 135, 82, 113, 144, 87, 120, 153]),
    ("testConv2DStrideTwoFilterOneSameBackpropFilter", [1, 4, 4, 1], [1, 1, 1, 1], [1, 2, 2, 1], [2, 2], "SAME",
     [78]),
    ("testConv2DKernelSizeMatchesInputSizeBackpropFilter", [1, 2, 2, 1], [2, 2, 1, 2], [1, 1, 1, 2], [1, 1],
     "VALID", [1, 2, 2, 4, 3, 6, 4, 8]),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,in_sizes,filter_sizes,out_sizes,strides,padding,expected", CONV_BACKPROP_FILTER,
                         ids=[c[0] for c in CONV_BACKPROP_FILTER])
def test_conv2d_backprop_filter(name, in_sizes, filter_sizes, out_sizes, strides, padding, expected, dtype):
    """The input is 1, 2, 3, ... and the output gradient 1, 2, 3, ...; the filter's values do not matter."""
    x, w, up = ones_up(in_sizes).astype(dtype), np.zeros(filter_sizes, dtype), ones_up(out_sizes).astype(dtype)
    ours = vjp(beras, lambda a, b: beras.nn.conv2d(a, b, strides, padding), [x, w], up, 1)
    theirs = vjp(tf, lambda a, b: tf.nn.conv2d(a, b, strides, padding), [x, w], up, 1)
    check(ours, theirs, expected, dtype)


def test_conv2d_errors_of_conv_ops_test():
    """testOpEdgeCases / testInvalidFilter...: what TF rejects, beras rejects with a message naming the shapes."""
    x = np.zeros((1, 3, 3, 1))
    for w, words in [(np.zeros((5, 5, 1, 1)), ["negative", "5"]),            # filter larger than the input
                     (np.zeros((0, 2, 1, 1)), ["zero elements"]),            # a zero-sized filter dimension
                     (np.zeros((2, 2, 2, 1)), ["multiple", "(2, 2, 2, 1)"])]:  # input depth not a multiple
        with pytest.raises(ValueError) as info:
            beras.nn.conv2d(x, w, 1, "VALID")
        for word in words:
            assert word in str(info.value)
        with pytest.raises(tf.errors.InvalidArgumentError):
            tf.nn.conv2d(x, w, 1, "VALID")
    with pytest.raises(ValueError, match="strides"):
        beras.nn.conv2d(x, np.zeros((1, 1, 1, 1)), [2, 1, 1, 1], "VALID")


# -------------------------------------------------------------------------------- depthwise_conv_op_test
def test_depthwise_conv2d_2x2_filter_hand_values():
    """depthwise_conv_op_test.testConv2D2x2Filter (_VerifyHandValues): input 1..12 as (1, 2, 3, 2),
    filter 1..16 as (2, 2, 2, 2), stride 1, VALID."""
    expected = [196, 216, 272, 296, 252, 280, 344, 376]
    for dtype in DTYPES:
        x, w = ones_up([1, 2, 3, 2]).astype(dtype), ones_up([2, 2, 2, 2]).astype(dtype)
        check(beras.nn.depthwise_conv2d(x, w, [1, 1, 1, 1], "VALID"),
              tf.nn.depthwise_conv2d(x, w, [1, 1, 1, 1], "VALID"), expected, dtype)


# ----------------------------------------------------------------------------------------- pooling_ops_test
POOL_FORWARD = [  # (name, kind, input sizes, ksize, strides, padding, expected)
    ("testAvgPoolValidPadding", "avg", [1, 3, 3, 3], [1, 2, 2, 1], [1, 2, 2, 1], "VALID", [7, 8, 9]),
    ("testAvgPoolEmpty", "avg", [0, 8, 8, 8], [1, 3, 3, 1], [1, 2, 2, 1], "SAME", []),
    ("testAvgPoolSamePadding", "avg", [1, 2, 4, 3], [1, 2, 2, 1], [1, 2, 2, 1], "SAME",
     [8.5, 9.5, 10.5, 14.5, 15.5, 16.5]),
    ("testAvgPoolSamePaddingNonSquareWindow", "avg", [1, 2, 2, 1], [1, 1, 2, 1], [1, 1, 1, 1], "SAME",
     [1.5, 2.0, 3.5, 4.0]),
    ("testAvgPoolSamePaddingNonSquareWindowMultiBatch/1x2", "avg", [2, 2, 2, 2], [1, 1, 2, 1], [1, 1, 1, 1], "SAME",
     [2, 3, 3, 4, 6, 7, 7, 8, 10, 11, 11, 12, 14, 15, 15, 16]),
    ("testAvgPoolSamePaddingNonSquareWindowMultiBatch/2x1", "avg", [2, 2, 2, 2], [1, 2, 1, 1], [1, 1, 1, 1], "SAME",
     [3, 4, 5, 6, 5, 6, 7, 8, 11, 12, 13, 14, 13, 14, 15, 16]),
    ("testAvgPoolValidPaddingUnevenStride/1x2", "avg", [1, 3, 3, 3], [1, 2, 2, 1], [1, 1, 2, 1], "VALID",
     [7, 8, 9, 16, 17, 18]),
    ("testAvgPoolValidPaddingUnevenStride/2x1", "avg", [1, 3, 3, 3], [1, 2, 2, 1], [1, 2, 1, 1], "VALID",
     [7, 8, 9, 10, 11, 12]),
    ("testAvgPoolSamePadding4", "avg", [1, 4, 4, 4], [1, 2, 2, 1], [1, 2, 2, 1], "SAME",
     [11, 12, 13, 14, 19, 20, 21, 22, 43, 44, 45, 46, 51, 52, 53, 54]),
    ("testMaxPoolValidPadding", "max", [1, 3, 3, 3], [1, 2, 2, 1], [1, 2, 2, 1], "VALID", [13, 14, 15]),
    ("testMaxPoolSamePadding", "max", [1, 2, 3, 3], [1, 2, 2, 1], [1, 2, 2, 1], "SAME", [13, 14, 15, 16, 17, 18]),
    ("testMaxPoolSamePaddingNonSquareWindow", "max", [1, 2, 2, 1], [1, 1, 2, 1], [1, 1, 1, 1], "SAME",
     [2, 2, 4, 4]),
    ("testMaxPoolValidPaddingUnevenStride/1x2", "max", [1, 4, 4, 1], [1, 2, 2, 1], [1, 1, 2, 1], "VALID",
     [6, 8, 10, 12, 14, 16]),
    ("testMaxPoolValidPaddingUnevenStride/2x1", "max", [1, 4, 4, 1], [1, 2, 2, 1], [1, 2, 1, 1], "VALID",
     [6, 7, 8, 14, 15, 16]),
    ("testMaxPoolSamePaddingPacket4", "max", [1, 4, 4, 4], [1, 2, 2, 1], [1, 2, 2, 1], "SAME",
     [21, 22, 23, 24, 29, 30, 31, 32, 53, 54, 55, 56, 61, 62, 63, 64]),
    ("testMaxPoolEmptyInput", "max", [0, 8, 8, 8], [1, 3, 3, 1], [1, 2, 2, 1], "SAME", []),
    ("testKernelSmallerThanStrideValid/max", "max", [1, 7, 7, 1], [1, 2, 2, 1], [1, 3, 3, 1], "VALID",
     [9, 12, 30, 33]),
    ("testKernelSmallerThanStrideValid/avg", "avg", [1, 7, 7, 1], [1, 2, 2, 1], [1, 3, 3, 1], "VALID",
     [5, 8, 26, 29]),
    ("testKernelSmallerThanStrideSame/max-3x3", "max", [1, 3, 3, 1], [1, 1, 1, 1], [1, 2, 2, 1], "SAME",
     [1, 3, 7, 9]),
    ("testKernelSmallerThanStrideSame/max-4x4", "max", [1, 4, 4, 1], [1, 1, 1, 1], [1, 2, 2, 1], "SAME",
     [1, 3, 9, 11]),
    ("testKernelSmallerThanStrideSame/avg-3x3", "avg", [1, 3, 3, 1], [1, 1, 1, 1], [1, 2, 2, 1], "SAME",
     [1, 3, 7, 9]),
    ("testKernelSmallerThanStrideSame/avg-4x4", "avg", [1, 4, 4, 1], [1, 1, 1, 1], [1, 2, 2, 1], "SAME",
     [1, 3, 9, 11]),
    ("testDepthwiseMaxPool1x1DepthWindow", "max", [1, 1, 1, 10], [1, 1, 1, 2], [1, 1, 1, 2], "SAME",
     [2, 4, 6, 8, 10]),
    ("testDepthwiseMaxPool2x2DepthWindow", "max", [1, 2, 2, 6], [1, 1, 1, 3], [1, 1, 1, 3], "SAME",
     [3, 6, 9, 12, 15, 18, 21, 24]),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,kind,in_sizes,ksize,strides,padding,expected", POOL_FORWARD,
                         ids=[c[0] for c in POOL_FORWARD])
def test_pool_forward(name, kind, in_sizes, ksize, strides, padding, expected, dtype):
    x = pool_values(in_sizes).astype(dtype)
    ours = getattr(beras.nn, f"{kind}_pool")(x, ksize, strides, padding)
    theirs = getattr(tf.nn, f"{kind}_pool")(x, ksize, strides, padding)
    assert ours.shape == tuple(theirs.shape)
    check(ours, theirs, expected, dtype)


def test_max_pool_same_padding_of_negative_int8_values():
    """pooling_ops_test runs its max-pool cases on int8 too (hence the wrap-around inputs): SAME padding must
    not beat negative values (padding with -inf cast to int8 would give 0)."""
    x = -pool_values([1, 2, 3, 3]).astype(np.int8)                      # -1 ... -18
    expected = [-1, -2, -3, -7, -8, -9]                                  # each window's maximum, padding ignored
    for lib in (beras, tf):   # (a NumPy int8 array given straight to tf.nn.max_pool may come back float32)
        out = lib.nn.max_pool(lib.constant(x), [1, 2, 2, 1], [1, 2, 2, 1], "SAME").numpy()
        assert out.dtype == np.int8
        np.testing.assert_array_equal(out.ravel(), expected)


MAX_POOL_GRAD = [  # (name, input 4x4, window, stride, padding, output backprop, expected input backprop)
    ("_testMaxPoolGradDirect1_1", [1.0] * 16, 2, 1, "VALID",
     [11.0, 12.0, 13.0, 15.0, 16.0, 17.0, 19.0, 20.0, 21.0],
     [11.0, 12.0, 13.0, 0.0, 15.0, 16.0, 17.0, 0.0, 19.0, 20.0, 21.0, 0.0, 0.0, 0.0, 0.0, 0.0]),
    ("_testMaxPoolGradDirect1_2", [1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0],
     2, 1, "VALID", [11.0, 12.0, 13.0, 15.0, 16.0, 17.0, 19.0, 20.0, 21.0],
     [11.0, 0.0, 25.0, 0.0, 0.0, 31.0, 0.0, 17.0, 19.0, 0.0, 41.0, 0.0, 0.0, 0.0, 0.0, 0.0]),
    ("_testMaxPoolGradDirect1_3", [1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0],
     3, 1, "SAME", [float(v) for v in range(11, 27)],
     [54.0, 0.0, 62.0, 0.0, 0.0, 60.0, 0.0, 22.0, 47.0, 0.0, 51.0, 0.0, 0.0, 0.0, 0.0, 0.0]),
    # NaN inputs: TF's CPU kernel routes to the first cell of each window (its GPU/cuDNN expectation is zeros)
    ("_testMaxPoolGradDirectWithNans2_1", [float("nan")] * 16, 2, 1, "VALID",
     [11.0, 12.0, 13.0, 15.0, 16.0, 17.0, 19.0, 20.0, 21.0],
     [11.0, 12.0, 13.0, 0.0, 15.0, 16.0, 17.0, 0.0, 19.0, 20.0, 21.0, 0.0, 0.0, 0.0, 0.0, 0.0]),
    ("_testMaxPoolGradDirectWithNans2_2", [float("nan")] * 16, 2, 1, "VALID",
     [float("nan"), 12.0, 13.0, 15.0, float("nan"), 17.0, 19.0, 20.0, float("nan")],
     [float("nan"), 12.0, 13.0, 0.0, 15.0, float("nan"), 17.0, 0.0, 19.0, 20.0, float("nan"), 0.0, 0.0, 0.0, 0.0,
      0.0]),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,values,window,stride,padding,backprop,expected", MAX_POOL_GRAD,
                         ids=[c[0] for c in MAX_POOL_GRAD])
def test_max_pool_grad_direct(name, values, window, stride, padding, backprop, expected, dtype):
    x = np.array(values, dtype).reshape(1, 4, 4, 1)
    out_side = 4 if padding == "SAME" else 4 - window + 1
    up = np.array(backprop, dtype).reshape(1, out_side, out_side, 1)
    ours = vjp(beras, lambda a: beras.nn.max_pool2d(a, window, stride, padding), [x], up, 0)
    theirs = vjp(tf, lambda a: tf.nn.max_pool2d(a, window, stride, padding), [x], up, 0)
    expected = np.array(expected)
    np.testing.assert_array_equal(np.isnan(ours.ravel()), np.isnan(expected))     # NaN stays where it belongs
    check(ours, theirs, expected, dtype)


def test_max_pool_errors_of_pooling_ops_test():
    """testOpEdgeCases / testDepthwiseMaxPoolInvalidConfigs / explicit padding: TF rejects, so does beras."""
    x = np.zeros((1, 4, 4, 6))
    bad = [([1, 1, 1, 4], [1, 1, 1, 4], "VALID"),     # depth window must divide the depth
           ([1, 2, 2, 2], [1, 1, 1, 2], "VALID"),     # depth and spatial pooling at once
           ([1, 1, 1, 2], [1, 1, 1, 3], "VALID"),     # depth window != depth stride
           ([1, 2, 2, 1], [1, 1, 1, 1], [[0, 0], [2, 0], [0, 0], [0, 0]]),   # padding as wide as the window
           ([1, 6, 6, 1], [1, 1, 1, 1], "VALID")]     # output size would be negative
    for ksize, strides, padding in bad:
        with pytest.raises(ValueError):
            beras.nn.max_pool(x, ksize, strides, padding)
        with pytest.raises((tf.errors.InvalidArgumentError, tf.errors.UnimplementedError)):
            tf.nn.max_pool(x, ksize, strides, padding)


# ---------------------------------------------------------------------------------------------- bias_op_test
@pytest.mark.parametrize("dtype", ["float32", "float64", "int32"])
def test_bias_add_values(dtype):
    """bias_op_test.testIntTypes / testFloatTypes: [[10, 20, 30], [31, 32, 33]] + [1, 2, 3], and the same
    values NCHW (bias on axis 1)."""
    x, b = np.array([[10, 20, 30], [31, 32, 33]], dtype), np.array([1, 2, 3], dtype)
    for lib in (beras, tf):
        np.testing.assert_array_equal(lib.nn.bias_add(x, b).numpy(), [[11, 22, 33], [32, 34, 36]])
    x4 = np.arange(12, dtype=dtype).reshape(1, 3, 2, 2)
    for lib in (beras, tf):
        np.testing.assert_array_equal(lib.nn.bias_add(x4, b, data_format="NCHW").numpy(), x4 + b[:, None, None])


def test_bias_add_gradient_sums_all_other_axes():
    """bias_op_test.testGradient's fact: the bias gradient is the upstream gradient summed over every axis
    but the channel axis (last for NHWC, 1 for NCHW)."""
    x, b = np.zeros((2, 3, 4, 5)), np.zeros(5)
    up = ones_up((2, 3, 4, 5))
    for lib in (beras, tf):
        g = vjp(lib, lambda v, c: lib.nn.bias_add(v, c), [x, b], up, 1)
        np.testing.assert_array_equal(g, up.sum(axis=(0, 1, 2)))
        g = vjp(lib, lambda v, c: lib.nn.bias_add(v, c, data_format="NCHW"), [x, np.zeros(3)], up, 1)
        np.testing.assert_array_equal(g, up.sum(axis=(0, 2, 3)))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(0, 0), (2, 0), (0, 2), (4, 3, 0), (4, 0, 3), (0, 4, 3), (0, 3, 2, 2)])
@pytest.mark.parametrize("data_format", ["NHWC", "NCHW"])
def test_bias_add_empty_gradient(shape, data_format, dtype):
    """bias_op_base.testEmptyGradient: an empty value (any axis of size 0) gives an empty result and a bias
    gradient of zeros of the bias's shape (with NCHW, the bias runs along axis 1), the same as TF's."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(dtype)
    b = rng.standard_normal(shape[-1] if data_format == "NHWC" or len(shape) == 2 else shape[1]).astype(dtype)
    results = []
    for lib in (beras, tf):
        xs = [lib.constant(x), lib.constant(b)]
        with lib.GradientTape() as tape:
            tape.watch(xs)
            y = lib.nn.bias_add(xs[0], xs[1], data_format=data_format)
        results.append([y.numpy(), *(g.numpy() for g in tape.gradient(y, xs))])
    for ours, theirs in zip(*results):
        assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
        np.testing.assert_array_equal(ours, theirs)
    assert results[0][2].shape == b.shape and not results[0][2].any()


def test_bias_add_shape_errors():
    """bias_op_test.testBiasShape / testInputDims: bias must be 1-D with the channel count; input at least 2-D."""
    for x, b in [(np.zeros((2, 2)), np.zeros((1, 2))), (np.zeros((2, 2)), np.zeros(3)), (np.zeros(2), np.zeros(2))]:
        with pytest.raises(ValueError):
            beras.nn.bias_add(x, b)
        with pytest.raises((ValueError, tf.errors.InvalidArgumentError)):
            tf.nn.bias_add(x, b)


# ------------------------------------------------------------------------------------- nn_batchnorm_test
def np_batch_norm(x, m, v, beta, gamma, epsilon):
    """nn_batchnorm_test._npBatchNorm: (x - m) / sqrt(v + epsilon) * gamma + beta."""
    return (x - m) / np.sqrt(v + epsilon) * gamma + beta


@pytest.mark.parametrize("dtype", DTYPES)
def test_batch_normalization_against_nn_batchnorm_tests_numpy_reference(dtype):
    """nn_batchnorm_test.testBatchNorm: x (3, 5, 4, 3) with per-channel m, v, beta, gamma, epsilon 0.001."""
    rng = np.random.default_rng(1)
    x = rng.random((3, 5, 4, 3)).astype(dtype)
    m, v = rng.random(3).astype(dtype), rng.random(3).astype(dtype)
    beta, gamma = rng.random(3).astype(dtype), rng.random(3).astype(dtype)
    expected = np_batch_norm(x, m, v, beta, gamma, 0.001).ravel()
    ours = beras.nn.batch_normalization(x, m, v, beta, gamma, 0.001).numpy().ravel()
    theirs = tf.nn.batch_normalization(x, m, v, beta, gamma, 0.001).numpy().ravel()
    # TF's test tolerances: 1e-5 in float32 (both compute x * inv + (beta - m * inv), which rounds otherwise)
    tol = dict(rtol=1e-12, atol=0) if dtype == "float64" else dict(rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours, expected, **tol)
    np.testing.assert_allclose(theirs, expected, **tol)


def test_moments_hand_values():
    """nn_test.MomentsTest's facts: the mean and the *biased* variance, keepdims keeps the reduced axes."""
    x = np.array([[1.0, 2.0], [3.0, 6.0]])
    for lib in (beras, tf):
        mean, var = lib.nn.moments(x, [0])
        np.testing.assert_array_equal(mean.numpy(), [2.0, 4.0])
        np.testing.assert_array_equal(var.numpy(), [1.0, 4.0])
        mean, var = lib.nn.moments(x, [0, 1], keepdims=True)
        assert mean.shape == (1, 1) and float(mean.numpy()[0, 0]) == 3.0 and float(var.numpy()[0, 0]) == 3.5
