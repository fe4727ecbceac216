"""CNN ops cases that do not fit the parity table: max-pool ties, dilation with strides, bad arguments.

Values and gradients are compared with the real tf.nn ops (float64, tight).
"""
import numpy as np
import pytest
import tensorflow as tf

import beras

from .parity.rows_cnn import dilate_kernel_tf
from .test_parity import rel_error


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
