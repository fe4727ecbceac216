"""CNN ops cases that do not fit the parity table: max-pool ties, dilation with strides, bad arguments.

Values and gradients are compared with the real tf.nn ops (float64, tight).
"""
import numpy as np
import pytest
import tensorflow as tf

import beras

from .parity.rows_cnn import dilate_kernel_tf
from beras.gradcheck import rel_error


def grads(fn_b, fn_t, *arrays):
    """(beras value, beras grads, tf value, tf grads) of fn on the same float64 arrays."""
    xs = [beras.constant(a) for a in arrays]
    with beras.GradientTape() as tape:
        tape.watch(xs)
        out_b = fn_b(*xs)
    g_b = tape.gradient(out_b, xs)
    ts = [tf.constant(a) for a in arrays]
    with tf.GradientTape() as tape:
        tape.watch(ts)
        out_t = fn_t(*ts)
    g_t = tape.gradient(out_t, ts)
    return out_b.numpy(), [g.numpy() for g in g_b], out_t.numpy(), [g.numpy() for g in g_t]


# ---------------------------------------------------------------------------------- max-pool ties
def test_tie_in_a_2x2_window_goes_to_the_first_maximum():
    x = np.ones((1, 2, 2, 1))
    _, (gb,), _, (gt,) = grads(lambda x: beras.nn.max_pool2d(x, 2, 2, "VALID"),
                               lambda x: tf.nn.max_pool2d(x, 2, 2, "VALID"), x)
    assert gb[0, :, :, 0].tolist() == [[1, 0], [0, 0]]
    np.testing.assert_array_equal(gb, gt)


@pytest.mark.parametrize("ksize,strides,padding", [
    (3, 2, "SAME"), (3, 2, "VALID"), (2, 1, "SAME"), ((2, 3), (1, 2), "SAME"), (3, 1, "VALID"),
    (3, 2, [[0, 0], [1, 2], [2, 0], [0, 0]]),
])
def test_ties_route_like_tf_with_overlapping_and_padded_windows(ksize, strides, padding):
    rng = np.random.default_rng(1)
    x = rng.integers(0, 2, size=(2, 7, 8, 3)).astype(np.float64)   # many ties, across overlapping windows
    x[1] = 1.0                                                    # a whole image of ties
    ob, (gb,), ot, (gt,) = grads(lambda x: beras.nn.max_pool2d(x, ksize, strides, padding),
                                 lambda x: tf.nn.max_pool2d(x, ksize, strides, padding), x)
    np.testing.assert_array_equal(ob, ot)
    np.testing.assert_array_equal(gb, gt)


def test_negative_inputs_are_not_beaten_by_padding():
    x = -np.arange(1.0, 1 + 2 * 5 * 5).reshape(2, 5, 5, 1)
    ob, (gb,), ot, (gt,) = grads(lambda x: beras.nn.max_pool2d(x, 3, 2, "SAME"),
                                 lambda x: tf.nn.max_pool2d(x, 3, 2, "SAME"), x)
    np.testing.assert_array_equal(ob, ot)
    np.testing.assert_array_equal(gb, gt)


# ---------------------------------------------------------------------------------- dilation
@pytest.mark.parametrize("strides,padding", [
    (2, "SAME"), (3, "VALID"), ((1, 2), "SAME"), (2, [[0, 0], [2, 1], [0, 1], [0, 0]]),
])
def test_dilation_with_strides_and_padding(strides, padding):
    """TF's CPU conv2d has no gradient for dilations > 1; the reference is the undilated conv with a
    zero-inserted kernel built from TF ops (differentiable back to the original taps)."""
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal((2, 11, 10, 3)), rng.standard_normal((3, 2, 3, 4))
    ob, gb, ot, gt = grads(lambda x, w: beras.nn.conv2d(x, w, strides, padding, dilations=2),
                           lambda x, w: tf.nn.conv2d(x, dilate_kernel_tf(w, 2), strides, padding), x, w)
    assert rel_error(ob, ot) < 1e-12
    assert rel_error(ob, tf.nn.conv2d(x, w, strides, padding, dilations=2).numpy()) < 1e-12   # TF's own forward
    for a, b in zip(gb, gt):
        assert rel_error(a, b) < 1e-12


def test_dilation_3_and_non_square_dilations():
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((1, 12, 9, 2)), rng.standard_normal((2, 3, 2, 3))
    for d in (3, [1, 2], [1, 3, 1, 1]):
        ob = beras.nn.conv2d(x, w, 1, "SAME", dilations=d).numpy()
        assert rel_error(ob, tf.nn.conv2d(x, w, 1, "SAME", dilations=d).numpy()) < 1e-12


# ---------------------------------------------------------------------------------- padding wider than the kernel
@pytest.mark.parametrize("strides,padding,kernel", [
    (2, [[0, 0], [4, 0], [0, 5], [0, 0]], (2, 3)), (1, [[0, 0], [0, 3], [3, 0], [0, 0]], (2, 2)),
    (3, [[0, 0], [2, 2], [1, 4], [0, 0]], (1, 1)), (3, "VALID", (2, 2)), (2, "SAME", (5, 4)),
])
def test_conv_gradients_with_wide_padding_and_leftover_rows(strides, padding, kernel):
    rng = np.random.default_rng(5)
    x, w = rng.standard_normal((2, 8, 7, 3)), rng.standard_normal((*kernel, 3, 2))
    ob, gb, ot, gt = grads(lambda x, w: beras.nn.conv2d(x, w, strides, padding),
                           lambda x, w: tf.nn.conv2d(x, w, strides, padding), x, w)
    assert rel_error(ob, ot) < 1e-12
    for a, b in zip(gb, gt):
        assert rel_error(a, b) < 1e-12


# ---------------------------------------------------------------------------------- float32 stays float32
def test_dtypes_are_preserved():
    rng = np.random.default_rng(4)
    x = beras.constant(rng.standard_normal((2, 6, 6, 3)).astype(np.float32))
    w = beras.constant(rng.standard_normal((3, 3, 3, 4)).astype(np.float32))
    outs = [beras.nn.conv2d(x, w, 2, "SAME"), beras.nn.max_pool2d(x, 3, 2, "SAME"),
            beras.nn.avg_pool2d(x, 3, 2, "SAME"), beras.nn.bias_add(x, np.zeros(3, np.float32)),
            *beras.nn.moments(x, [0, 1, 2]), beras.nn.batch_normalization(x, 0.0, 1.0, None, None, 1e-3)]
    assert [o.dtype for o in outs] == [np.float32] * len(outs)


# ---------------------------------------------------------------------------------- bad input
X = np.zeros((2, 7, 7, 3))
W = np.zeros((3, 3, 3, 4))


@pytest.mark.parametrize("call,words", [
    (lambda: beras.nn.conv2d(X, np.zeros((3, 3, 2, 4)), 1, "SAME"), ["(2, 7, 7, 3)", "(3, 3, 2, 4)", "channels"]),
    (lambda: beras.nn.conv2d(X, np.zeros((9, 3, 3, 4)), 1, "VALID"), ["9", "(2, 7, 7, 3)", "(9, 3)"]),
    (lambda: beras.nn.conv2d(X, np.zeros((3, 3, 3, 4)), 1, "VALID", dilations=4), ["9", "7"]),
    (lambda: beras.nn.conv2d(X, W, 1, "FULL"), ["'FULL'", "'SAME'", "'VALID'"]),
    (lambda: beras.nn.conv2d(X, W, 1, "same"), ["'same'", "'SAME'", "'VALID'"]),
    (lambda: beras.nn.conv2d(X[0], W, 1, "SAME"), ["4-dimensional", "(7, 7, 3)"]),
    (lambda: beras.nn.conv2d(X, W[0], 1, "SAME"), ["4-dimensional", "(3, 3, 4)"]),
    (lambda: beras.nn.conv2d(X, W, 0, "SAME"), ["strides", "(0, 0)"]),
    (lambda: beras.nn.conv2d(X, W, [1, -1], "SAME"), ["strides", "(1, -1)"]),
    (lambda: beras.nn.conv2d(X, W, [2, 1, 1, 1], "SAME"), ["strides", "batch"]),
    (lambda: beras.nn.conv2d(X, W, [1, 1, 1], "SAME"), ["length 1, 2 or 4", "[1, 1, 1]"]),
    (lambda: beras.nn.conv2d(X, W, 1, "SAME", dilations=0), ["dilations", "(0, 0)"]),
    (lambda: beras.nn.conv2d(X, W, 1, [[0, 0], [-1, 2], [0, 3], [0, 0]]), ["nonnegative", "-1"]),
    (lambda: beras.nn.conv2d(X, W, 1, [[1, 0], [1, 2], [0, 3], [0, 0]]), ["batch or depth"]),
    (lambda: beras.nn.conv2d(X, W, 1, [[1, 2], [0, 3]]), ["[[0, 0], [top, bottom]", "[[1, 2], [0, 3]]"]),
    (lambda: beras.nn.conv2d(X, W, 1, "SAME", data_format="NCHW"), ["NCHW", "NHWC"]),
    (lambda: beras.nn.conv2d(X, W, 1, "SAME", data_format="HWCN"), ["'HWCN'", "'NHWC'"]),
    (lambda: beras.nn.max_pool2d(X, 2, 2, "valid"), ["'valid'", "'SAME'", "'VALID'"]),
    (lambda: beras.nn.max_pool2d(X, 2, 2, "VALID", data_format="NCHW"), ["NCHW"]),
    (lambda: beras.nn.max_pool2d(X, 9, 1, "VALID"), ["negative", "9", "(2, 7, 7, 3)"]),
    (lambda: beras.nn.max_pool2d(X, 2, 0, "VALID"), ["strides", "(0, 0)"]),
    (lambda: beras.nn.max_pool2d(X, [2, 2, 2, 1], 2, "VALID"), ["ksize", "batch"]),
    (lambda: beras.nn.max_pool2d(X, [1, 2, 2, 3], [1, 1, 1, 3], "VALID"), ["depth", "width/height", "[1, 2, 2, 3]"]),
    (lambda: beras.nn.avg_pool2d(X[0], 2, 2, "VALID"), ["4-dimensional", "(7, 7, 3)"]),
    (lambda: beras.nn.avg_pool2d(X, 2, 2, [[0, 0], [1, 1], [1, 1], [0, 0]]), ["'SAME' or 'VALID'"]),
    (lambda: beras.nn.bias_add(X, np.zeros((1, 3))), ["1-D", "(1, 3)"]),
    (lambda: beras.nn.bias_add(X, np.zeros(4)), ["(4,)", "(2, 7, 7, 3)"]),
    (lambda: beras.nn.bias_add(np.zeros(3), np.zeros(3)), ["at least 2-D", "(3,)"]),
    (lambda: beras.nn.bias_add(X, np.zeros(3), data_format="XYZ"), ["N...C", "XYZ"]),
    (lambda: beras.nn.moments(X, [4]), ["axis 4", "rank 4"]),
])
def test_bad_arguments_raise_value_errors_naming_them(call, words):
    with pytest.raises(ValueError) as info:
        call()
    for word in words:
        assert word in str(info.value), f"{word!r} not in {str(info.value)!r}"


def test_tf_rejects_what_beras_rejects():
    """The same bad calls fail in TF too (TF's CPU kernels raise their own error types)."""
    bad = [lambda nn: nn.conv2d(X, np.zeros((3, 3, 2, 4)), 1, "SAME"),
           lambda nn: nn.conv2d(X, np.zeros((9, 3, 3, 4)), 1, "VALID"),
           lambda nn: nn.conv2d(X, W, 1, "same"),
           lambda nn: nn.conv2d(X[0], W, 1, "SAME"),
           lambda nn: nn.conv2d(X, W, 0, "SAME"),
           lambda nn: nn.conv2d(X, W, 1, "SAME", data_format="NCHW"),
           lambda nn: nn.max_pool2d(X, 2, 2, "VALID", data_format="NCHW"),
           lambda nn: nn.bias_add(X, np.zeros(4))]
    for call in bad:
        with pytest.raises((ValueError, tf.errors.InvalidArgumentError, tf.errors.UnimplementedError)):
            call(tf.nn)
        with pytest.raises(ValueError):
            call(beras.nn)


# ---------------------------------------------------------------------------------- TF's CPU semantics (issue 11)
def grads_up(fn_b, fn_t, x, up):
    """Like ``grads`` for one input, with an explicit upstream gradient ``up``."""
    xb = beras.constant(x)
    with beras.GradientTape() as tape:
        tape.watch(xb)
        out_b = fn_b(xb)
    g_b = tape.gradient(out_b, xb, output_gradients=beras.constant(up))
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        out_t = fn_t(xt)
    g_t = tape.gradient(out_t, xt, output_gradients=tf.constant(up))
    return out_b.numpy(), g_b.numpy(), out_t.numpy(), g_t.numpy()


NAN = np.nan
TIGHT = {"float64": 1e-15, "float32": 1e-7}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("window,ksize,strides,padding", [
    ([[1, NAN], [3, 2]], 2, 2, "VALID"),                 # a later NaN never wins
    ([[NAN, 5], [3, 2]], 2, 2, "VALID"),                 # a NaN taken first stays taken (gradient there)
    ([[NAN, NAN], [NAN, NAN]], 2, 2, "VALID"),           # all NaN: the value is the dtype's lowest
    ([[NAN, 1, 2], [3, 4, 0], [1, 1, 1]], 3, 1, "SAME"),  # padded windows: the first *real* cell counts
    ([[-np.inf, -np.inf], [-np.inf, 7]], 2, 1, "SAME"),  # -inf never beats the lowest start value
])
def test_max_pool_with_nan_and_inf_inputs_follows_tfs_cpu_kernel(window, ksize, strides, padding, dtype):
    x = np.array(window, dtype)[None, :, :, None].repeat(3, axis=-1)
    x[..., 1] = np.nan_to_num(x[..., 1], nan=-1.0)
    fn_b, fn_t = (lambda a: beras.nn.max_pool2d(a, ksize, strides, padding),
                  lambda a: tf.nn.max_pool2d(a, ksize, strides, padding))
    out_shape = fn_t(x).shape
    up = np.random.default_rng(0).standard_normal(out_shape).astype(dtype)
    ob, gb, ot, gt = grads_up(fn_b, fn_t, x, up)
    np.testing.assert_array_equal(ob, ot)
    np.testing.assert_array_equal(gb == 0, gt == 0)      # the same cells receive gradient...
    assert rel_error(gb, gt) < TIGHT[dtype]               # ...the same sums (overlapping windows: any order)


def test_nan_upstream_gradient_stays_in_the_maximal_cell():
    x = np.array([[1.0, 4.0, 0.5], [3.0, 2.0, 0.0], [1.0, 1.0, 1.0]])[None, :, :, None]
    for ksize, strides, padding in [(2, 2, "VALID"), (3, 2, "SAME"), (2, 1, "SAME")]:
        fn_b, fn_t = (lambda a: beras.nn.max_pool2d(a, ksize, strides, padding),
                      lambda a: tf.nn.max_pool2d(a, ksize, strides, padding))
        up = np.full(fn_t(x).shape, np.nan)
        _, gb, _, gt = grads_up(fn_b, fn_t, x, up)
        np.testing.assert_array_equal(gb, gt)            # NaN only where a window's maximum is
        assert np.isnan(gb).sum() == np.isnan(gt).sum() < x.size


@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "int64", "uint8"])
def test_integer_max_pooling_pads_with_the_dtypes_lowest_value(dtype):
    x = (-np.arange(1, 51)).reshape(2, 5, 5, 1).astype(dtype)        # uint8 wraps: large values
    for ksize, strides, padding in [(2, 2, "SAME"), (3, 2, "SAME"), (3, 1, [[0, 0], [2, 1], [1, 0], [0, 0]])]:
        ours = beras.nn.max_pool2d(x, ksize, strides, padding).numpy()
        assert ours.dtype == np.dtype(dtype)
        theirs = tf.nn.max_pool2d(tf.constant(x), ksize, strides, padding).numpy()
        assert theirs.dtype == ours.dtype
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("padding,words", [
    ([[0, 0], [2, 0], [0, 0], [0, 0]], ["Top padding 2", "window size 2"]),
    ([[0, 0], [0, 0], [0, 3], [0, 0]], ["Right padding 3", "window size 2"]),
    ([[0, 0], [0, 2], [0, 0], [0, 0]], ["Bottom padding 2", "window size 2"]),
])
def test_explicit_pooling_padding_must_be_smaller_than_the_window(padding, words):
    x = np.zeros((1, 5, 5, 2))
    with pytest.raises(ValueError) as info:
        beras.nn.max_pool2d(x, 2, 2, padding)
    for word in words:
        assert word in str(info.value)
    with pytest.raises(tf.errors.InvalidArgumentError, match="needs to be smaller than the window size"):
        tf.nn.max_pool2d(x, 2, 2, padding)


def test_filters_with_zero_elements():
    x = np.random.default_rng(0).standard_normal((2, 5, 5, 4))
    for shape, message in [((0, 3, 4, 2), "zero elements"), ((3, 0, 4, 2), "zero elements"),
                           ((3, 3, 0, 2), "strictly positive")]:
        with pytest.raises(ValueError, match=message) as info:
            beras.nn.conv2d(x, np.zeros(shape), 1, "SAME")
        assert str(shape) in str(info.value)
        with pytest.raises(tf.errors.InvalidArgumentError):
            tf.nn.conv2d(x, np.zeros(shape), 1, "SAME")
    # zero out_channels is fine in TF: an empty output, and zero gradients (it used to crash in backward)
    for shape, strides, padding in [((3, 3, 4, 0), 2, "SAME"), ((0, 3, 4, 0), 1, "VALID"), ((2, 2, 4, 0), 1, "VALID")]:
        ob, gb, ot, gt = grads(lambda a, b: beras.nn.conv2d(a, b, strides, padding),
                               lambda a, b: tf.nn.conv2d(a, b, strides, padding), x, np.zeros(shape))
        assert ob.shape == ot.shape
        assert beras.nn.conv2d(x, np.zeros(shape[:2] + (2, 0)), strides, padding).shape == ot.shape   # grouped
        for a, b in zip(gb, gt):
            assert a.shape == b.shape
            np.testing.assert_array_equal(a, b)


def test_empty_outputs_have_zero_gradients():
    """TF returns empty outputs when a VALID window is larger than the input by less than the stride (its
    C++ output size truncates toward zero; max pooling raises there instead, see the next test). Its gradients
    there cannot serve as references: the conv2d input gradient crashes the process (segfault in
    Conv2DBackpropInput); beras returns zeros, like TF's avg_pool gradient. An empty batch gives zeros too."""
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 3, 5, 2)), rng.standard_normal((4, 3, 2, 3))
    for fn in [lambda a: beras.nn.conv2d(a, w, 2, "VALID"), lambda a: beras.nn.avg_pool2d(a, (4, 1), 2, "VALID"),
               lambda a: beras.nn.conv2d(a[:0], w, 1, "SAME"), lambda a: beras.nn.max_pool2d(a[:0], 2, 2, "SAME")]:
        xb = beras.constant(x)
        with beras.GradientTape() as tape:
            tape.watch(xb)
            out = fn(xb)
        assert 0 in out.shape
        g = tape.gradient(out, xb).numpy()
        assert g.shape == x.shape and not g.any()
    assert beras.nn.conv2d(x, w, 2, "VALID").shape == tuple(tf.nn.conv2d(x, w, 2, "VALID").shape) == (2, 0, 2, 3)
    assert beras.nn.avg_pool2d(x, (4, 6), 2, "VALID").shape == tuple(tf.nn.avg_pool2d(x, (4, 6), 2, "VALID").shape)
    with pytest.raises(ValueError, match="negative"):            # (3 - 5 + 1) // 1 < 0: TF raises too
        beras.nn.max_pool2d(x, 5, 1, "VALID")
    with pytest.raises(tf.errors.InvalidArgumentError, match="negative"):
        tf.nn.max_pool2d(x, 5, 1, "VALID")


ONE = np.ones((1, 1, 1, 1))
X235 = np.zeros((2, 3, 5, 2))


@pytest.mark.parametrize("x,ksize,strides,padding,window,seen", [
    (ONE, [1, 1, 2, 1], 1, "VALID", "1x2 window", "input's 1x1"),       # pooling_ops_test.testMaxPoolInvalidFilterSize
    (ONE, 2, 1, "VALID", "2x2 window", "input's 1x1"),
    (ONE, 2, 2, "VALID", "2x2 window", "input's 1x1"),
    (X235, 4, 2, "VALID", "4x4 window", "input's 3x5"),                 # larger by less than the stride
    (X235, (4, 6), 2, "VALID", "4x6 window", "input's 3x5"),
    (ONE, 3, 2, [[0, 0], [1, 0], [1, 0], [0, 0]], "3x3 window", "padded input's 2x2"),
])
def test_max_pool_window_larger_than_the_input_raises(x, ksize, strides, padding, window, seen):
    """TF's MaxPool raises when a (VALID or explicitly padded) window is larger than the padded input: its shape
    function says 'Negative dimension size' (what testMaxPoolInvalidFilterSize checks; eagerly, TF's default
    oneDNN CPU kernel aborts or kills the process with SIGFPE, only the plain Eigen kernel used here returns an
    empty output). beras raises a ValueError naming the window and the input shape."""
    with pytest.raises(ValueError) as info:
        beras.nn.max_pool2d(x, ksize, strides, padding)
    for word in [window, seen, str(x.shape)]:
        assert word in str(info.value), f"{word!r} not in {str(info.value)!r}"
    with pytest.raises(ValueError, match="Negative dimension size"):
        tf.function(lambda a: tf.nn.max_pool2d(a, ksize, strides, padding))(x)
    assert beras.nn.max_pool2d(x, ksize, strides, "SAME").shape == tuple(tf.nn.max_pool2d(x, ksize, strides, "SAME").shape)


@pytest.mark.parametrize("op", ["avg_pool2d", "conv2d"])
def test_avg_pool_and_conv2d_windows_larger_than_the_input_are_empty_as_in_tf(op):
    """Unlike max pooling, TF's avg_pool2d and conv2d kernels (oneDNN or not) return an empty output when a VALID
    window is larger than the input by less than the stride (conv_ops_test's 'Filter larger than input' checks
    are disabled for TF 2's eager mode), and beras mirrors that; a larger excess raises in both."""
    def run(lib, x, k, s):
        if op == "conv2d":
            return lib.nn.conv2d(x, np.ones((k, k, x.shape[-1], 3)), s, "VALID")
        return lib.nn.avg_pool2d(x, k, s, "VALID")
    for x, k, s in [(ONE, 2, 1), (ONE, 2, 2), (X235, 4, 2)]:
        ours = run(beras, x, k, s)
        assert 0 in ours.shape and ours.shape == tuple(run(tf, x, k, s).shape)
    with pytest.raises(ValueError, match="negative"):
        run(beras, X235, 5, 1)
    with pytest.raises(tf.errors.InvalidArgumentError, match="negative"):
        run(tf, X235, 5, 1)


def test_grouped_conv2d_forward_matches_tfs_own_grouped_kernel():
    """TF's CPU conv2d computes grouped convolutions forward (no gradient: the parity rows use a per-group
    reference), here TF's own kernel is the reference, with extra batch dimensions too."""
    rng = np.random.default_rng(7)
    for x_shape, w_shape, strides, padding in [((2, 9, 8, 6), (3, 3, 2, 6), 2, "SAME"),
                                               ((3, 2, 7, 7, 4), (2, 3, 1, 8), 1, "VALID"),
                                               ((1, 6, 5, 8), (3, 2, 4, 2), 3, [[0, 0], [1, 2], [0, 1], [0, 0]])]:
        x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
        assert rel_error(beras.nn.conv2d(x, w, strides, padding).numpy(),
                         tf.nn.conv2d(x, w, strides, padding).numpy()) < 1e-12
    x = rng.standard_normal((2, 5, 5, 6))
    for shape, words in [((3, 3, 4, 2), ["6", "4", "multiple"]), ((3, 3, 2, 5), ["3 groups", "5 vs 3"])]:
        with pytest.raises(ValueError) as info:
            beras.nn.conv2d(x, np.zeros(shape), 1, "SAME")
        for word in words + [str(shape), "(2, 5, 5, 6)"]:
            assert word in str(info.value)
        with pytest.raises(tf.errors.InvalidArgumentError, match="evenly divisible"):
            tf.nn.conv2d(x, np.zeros(shape), 1, "SAME")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_depth_max_pooling_matches_tfs_kernel(dtype):
    """TF pools over channels on the CPU (forward only: "MaxPoolingGrad is not yet supported on the depth
    dimension"; the parity rows check the gradient). Spatial strides are ignored, as in TF. TF's float64
    depth pooling returns some maxima rounded to float32 (found here: about 1e-7 relative), so float64
    is compared at float32 precision with TF and exactly with NumPy."""
    x = np.random.default_rng(3).standard_normal((2, 3, 4, 6)).astype(dtype)
    for k, strides in [(2, [1, 1, 1, 2]), (3, [1, 2, 2, 3]), (6, [1, 1, 1, 6])]:
        ours = beras.nn.max_pool(x, [1, 1, 1, k], strides, "VALID").numpy()
        np.testing.assert_array_equal(ours, x.reshape(2, 3, 4, 6 // k, k).max(-1))
        theirs = tf.nn.max_pool(x, [1, 1, 1, k], strides, "VALID").numpy()
        if dtype == "float32":
            np.testing.assert_array_equal(ours, theirs)
        else:
            assert rel_error(ours, theirs) < 1e-6


@pytest.mark.parametrize("ksize,strides,words", [
    ([1, 1, 1, 4], [1, 1, 1, 4], ["evenly divide", "4", "6"]),
    ([1, 1, 1, 2], [1, 1, 1, 1], ["equal the depth stride"]),
    ([1, 2, 2, 2], [1, 1, 1, 2], ["exactly one of"]),
    ([2, 1, 1, 1], [1, 1, 1, 1], ["batch"]),
])
def test_depth_pooling_rejects_what_tf_rejects(ksize, strides, words):
    x = np.zeros((1, 3, 3, 6))
    with pytest.raises(ValueError) as info:
        beras.nn.max_pool(x, ksize, strides, "VALID")
    for word in words:
        assert word in str(info.value)
    with pytest.raises((tf.errors.UnimplementedError, tf.errors.InvalidArgumentError)):
        tf.nn.max_pool(x, ksize, strides, "VALID")
    with pytest.raises(ValueError, match="depth"):
        beras.nn.avg_pool(x, [1, 1, 1, 2], [1, 1, 1, 2], "VALID")
    with pytest.raises(tf.errors.UnimplementedError, match="Non-spatial"):
        tf.nn.avg_pool(x, [1, 1, 1, 2], [1, 1, 1, 2], "VALID")


# ---------------------------------------------------------------------------------- batch blocks
@pytest.mark.parametrize("op", ["conv s1", "conv s2", "max 3x3/2 SAME", "avg 2x2/2 VALID", "avg 3x3/1 SAME"])
def test_large_batches_run_in_blocks_with_the_same_results(monkeypatch, op):
    """A batch above ~1 MB of work is cut into blocks as beras.nn.conv.images_per_block says, every block
    is handed to run_blocks (the two-thread runner) and computed exactly once, and the values and
    gradients equal those of the images one at a time (dw: their sum). Which thread ran which block is
    the scheduler's business: test_run_blocks_runs_two_jobs_at_once checks that two can run at once."""
    from beras.nn import conv as conv_mod
    from beras.nn import pooling as pool_mod
    calls, by_blocks, run_blocks = [], conv_mod.by_blocks, conv_mod.run_blocks

    def by_blocks_spy(n, per_image, job, target=conv_mod.BLOCK_BYTES):
        call = {"n": n, "per_image": per_image, "target": target, "rows": [], "dispatched": []}
        calls.append(call)
        return by_blocks(n, per_image, lambda rows: call["rows"].append(rows.indices(n)[:2]) or job(rows),
                         target)

    def run_blocks_spy(job, count):
        calls[-1]["dispatched"].append(count)
        return run_blocks(job, count)
    monkeypatch.setattr(conv_mod, "by_blocks", by_blocks_spy)      # conv2d_forward / conv2d_backward
    monkeypatch.setattr(pool_mod, "by_blocks", by_blocks_spy)      # the pooling kernels (imported by name)
    monkeypatch.setattr(conv_mod, "run_blocks", run_blocks_spy)    # what by_blocks hands the blocks to
    rng = np.random.default_rng(3)
    x = rng.standard_normal((24, 32, 32, 16))
    w = rng.standard_normal((3, 3, 16, 8))
    fn = {"conv s1": lambda x, w: beras.nn.conv2d(x, w, 1, "SAME"),
          "conv s2": lambda x, w: beras.nn.conv2d(x, w, 2, "SAME"),
          "max 3x3/2 SAME": lambda x, w: beras.nn.max_pool2d(x, 3, 2, "SAME") * 1.0,
          "avg 2x2/2 VALID": lambda x, w: beras.nn.avg_pool2d(x, 2, 2, "VALID"),
          "avg 3x3/1 SAME": lambda x, w: beras.nn.avg_pool2d(x, 3, 1, "SAME")}[op]

    shape = fn(beras.constant(x), beras.constant(w)).shape
    upstream = np.cos(np.arange(np.prod(shape))).reshape(shape)      # a different weight on every output

    def value_and_grads(x, g_out):
        xs = [beras.constant(x), beras.constant(w)]
        with beras.GradientTape() as tape:
            tape.watch(xs)
            out = fn(*xs)
            loss = beras.reduce_sum(out * g_out)
        dx, dw = tape.gradient(loss, xs, unconnected_gradients="zero")
        return out.numpy(), dx.numpy(), dw.numpy()
    calls.clear()
    out, dx, dw = value_and_grads(x, upstream)
    assert len(calls) >= 2, calls                  # the forward and the backward kernel went by blocks
    cut = 0
    for call in calls:                             # each as the rule says (a small one: the whole batch)
        step = conv_mod.images_per_block(call["n"], call["per_image"], call["target"])
        blocks = [(i, min(i + step, call["n"])) for i in range(0, call["n"], step)]
        assert call["n"] == len(x), call                          # the whole batch
        assert call["dispatched"] == [len(blocks)], call          # one run_blocks of every block
        assert sorted(call["rows"]) == blocks, call               # each block computed exactly once
        cut += len(blocks) > 1
    assert cut, calls                              # above ~1 MB of work: cut into blocks
    one = [value_and_grads(x[i:i + 1], upstream[i:i + 1]) for i in range(len(x))]
    np.testing.assert_allclose(out, np.concatenate([o[0] for o in one]), rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(dx, np.concatenate([o[1] for o in one]), rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(dw, sum(o[2] for o in one), rtol=1e-12, atol=1e-11)


def test_run_blocks_runs_two_jobs_at_once():
    """run_blocks computes on two threads at once: two jobs that each wait for the other (a barrier)
    both finish. On one thread the first would wait forever: the barrier's timeout fails the test."""
    import threading

    from beras.nn.conv import run_blocks
    barrier = threading.Barrier(2, timeout=60)

    def job(i):
        barrier.wait()                  # BrokenBarrierError after 60 s if the other job never starts
        return i * i
    assert run_blocks(job, 2) == [0, 1]
    assert run_blocks(lambda i: i + 1, 5) == [1, 2, 3, 4, 5]       # results in index order


def test_float32_kernels_compute_in_float32():
    """Every CNN kernel keeps float32 inputs in float32 (a NumPy integer scalar or a float64 constant in a
    formula would promote whole arrays to float64: twice the memory traffic, then a cast back)."""
    from beras.nn import conv, normalization, pooling
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 6, 6, 4)).astype(np.float32)
    w = rng.standard_normal((3, 3, 4, 5)).astype(np.float32)
    pads, ones = ((1, 1), (1, 1)), np.ones(4, np.float32)
    results = {"conv2d_forward": conv.conv2d_forward(x, w, (1, 1), pads, (1, 1))}
    results["conv2d_backward"] = conv.conv2d_backward(results["conv2d_forward"], x, w, (1, 1), pads, (1, 1))
    results["conv2d_backward s2"] = conv.conv2d_backward(conv.conv2d_forward(x, w, (2, 2), pads, (1, 1)), x, w,
                                                         (2, 2), pads, (1, 1))
    results["bias_add"] = (conv.bias_add_forward(x, ones, 3), *conv.bias_add_backward(x, 3))
    pool = dict(ksize=(3, 3), strides=(2, 2), pads=((0, 1), (0, 1)))
    out = pooling.max_pool_forward(x, out_hw=(3, 3), **pool)
    results["max_pool"] = (out, pooling.max_pool_backward(out, x, out, **pool))
    out = pooling.avg_pool_forward(x, out_hw=(3, 3), **pool)
    results["avg_pool"] = (out, pooling.avg_pool_backward(out, x.shape, **pool))
    mean, var = normalization.moments_forward(x, (0, 1, 2))
    results["moments"] = (mean, var, normalization.moments_backward(mean, var, x, mean, (0, 1, 2)))
    out, cache = normalization.batch_norm_forward(x, mean, var, ones * 0, ones, 1e-3)
    results["batch_norm"] = (out, *normalization.batch_norm_backward(out, cache))
    dtypes = {name: sorted({np.asarray(a).dtype.name for a in (r if isinstance(r, tuple) else (r,))})
              for name, r in results.items()}
    assert all(d == ["float32"] for d in dtypes.values()), dtypes
