"""Parity rows for the CNN ops: conv2d, bias_add, max/avg pooling, moments, batch_normalization.

Every row draws random sizes (odd, even and non-square; batch and channels from 1) and fills the
arrays with seeded normal noise. Gradients are compared w.r.t. every input (input, filters, bias,
mean, variance, offset, scale). Ties in max pooling and bad arguments live in tests/beras/test_cnn_ops.py.
"""
import numpy as np
import tensorflow as tf
from hypothesis import strategies as st

import beras

from .strategies import seeded
from .table import Row

EXPLICIT = [[0, 0], [1, 2], [0, 3], [0, 0]]


def _min_side(k, dilation, padding):
    """Smallest input side that gives a non-empty output."""
    k_eff = (k - 1) * dilation + 1
    return k_eff if padding == "VALID" else 1


def image_inputs(kernel=(1, 1), dilation=1, padding="SAME", batch=(1, 3), channels=(1, 4), max_side=9,
                 extra=lambda c, f: []):
    """Strategy of [x (N, H, W, C), *extra(C)] with random N, H, W, C; ``extra(C)`` lists more shapes."""
    def inputs(dtype):
        dims = st.tuples(st.integers(*batch), st.integers(_min_side(kernel[0], dilation, padding), max_side),
                         st.integers(_min_side(kernel[1], dilation, padding), max_side), st.integers(*channels),
                         st.integers(1, 4))
        return dims.flatmap(lambda t: seeded(dtype, st.just(t[:4]), *[st.just(s) for s in extra(t[3], t[4])]))
    return inputs


def conv_row(name, kh, kw, strides, padding, dilations=1, **kw_inputs):
    return Row(f"conv2d/{name}",
               lambda x, w: beras.nn.conv2d(x, w, strides, padding, dilations=dilations),
               lambda x, w: tf.nn.conv2d(x, w, strides, padding, dilations=dilations),
               image_inputs((kh, kw), 1, padding if isinstance(padding, str) else "SAME",
                            extra=lambda c, f: [(kh, kw, c, f)], **kw_inputs))


def dilate_kernel_tf(w, d):
    """HWIO kernel with d-1 zeros between taps, built from TF ops so gradients flow back to ``w``."""
    kh, kw, c, f = w.shape
    z = tf.zeros_like(w)
    w = tf.reshape(tf.stack([w] + [z] * (d - 1), axis=1), [kh * d, kw, c, f])[:(kh - 1) * d + 1]
    z = tf.zeros_like(w)
    return tf.reshape(tf.stack([w] + [z] * (d - 1), axis=2), [w.shape[0], kw * d, c, f])[:, :(kw - 1) * d + 1]


def dilated_row(name, kh, kw, strides, padding, d=2):
    """TF's CPU conv2d has no gradient for dilations > 1: the reference is the undilated conv with the
    zero-inserted kernel (identical forward; its gradient w.r.t. the original taps is the true one)."""
    return Row(f"conv2d/dilated-{name}",
               lambda x, w: beras.nn.conv2d(x, w, strides, padding, dilations=d),
               lambda x, w: tf.nn.conv2d(x, dilate_kernel_tf(w, d), strides, padding),
               image_inputs((kh, kw), d, padding, extra=lambda c, f: [(kh, kw, c, f)]))


def pool_row(kind, name, ksize, strides, padding):
    b_fn, t_fn = {"max": (beras.nn.max_pool2d, tf.nn.max_pool2d), "avg": (beras.nn.avg_pool2d, tf.nn.avg_pool2d)}[kind]
    k = (ksize, ksize) if isinstance(ksize, int) else ksize
    return Row(f"{kind}_pool2d/{name}", lambda x: b_fn(x, ksize, strides, padding),
               lambda x: t_fn(x, ksize, strides, padding),
               image_inputs(k, 1, padding if isinstance(padding, str) else "SAME"))


def _bn_train(nn, axes):
    """Training-mode batch norm, weighted by a fixed non-uniform pattern: the plain sum of a batch-normalized
    output does not depend on x (its gradient is pure rounding noise), the weighted one does."""
    def f(x, offset, scale):
        mean, variance = nn.moments(x, axes)
        y = nn.batch_normalization(x, mean, variance, offset, scale, 1e-3)
        return y * np.cos(np.arange(np.prod(x.shape))).reshape(x.shape).astype(x.dtype.name)
    return f


def _positive_variance(strategy, index):
    return strategy.map(lambda arrays: [np.abs(a) + 0.1 if i == index else a for i, a in enumerate(arrays)])


ROWS = [
    # conv2d: SAME with TF's asymmetric split, VALID, strides 1-3, non-square kernels, 1x1, explicit padding
    conv_row("k3x3-s1-same", 3, 3, 1, "SAME"),
    conv_row("k3x2-s2-same", 3, 2, 2, "SAME"),
    conv_row("k2x3-s3-same", 2, 3, 3, "SAME"),
    conv_row("k4x4-s2-same", 4, 4, [1, 2, 2, 1], "SAME"),
    conv_row("k3x3-s1-valid", 3, 3, 1, "VALID"),
    conv_row("k2x3-s2-valid", 2, 3, (2, 2), "VALID"),
    conv_row("k3x3-s3-valid", 3, 3, 3, "VALID"),
    conv_row("k3x3-s1x2-same", 3, 3, (1, 2), "SAME"),
    conv_row("1x1-s1", 1, 1, 1, "VALID"),
    conv_row("1x1-s2-same", 1, 1, 2, "SAME"),
    conv_row("explicit-k3x3-s1", 3, 3, 1, EXPLICIT),
    conv_row("explicit-k2x3-s2", 2, 3, 2, EXPLICIT),
    conv_row("batch1-channel1-k3x3-s2-same", 3, 3, 2, "SAME", batch=(1, 1), channels=(1, 1)),
    dilated_row("k3x3-s1-same", 3, 3, 1, "SAME"),
    dilated_row("k2x3-s1-valid", 2, 3, 1, "VALID"),
    Row("conv2d/dilated-forward-vs-tf-k3x2-s1-same",
        lambda x, w: beras.nn.conv2d(x, w, 1, "SAME", dilations=2),
        lambda x, w: tf.nn.conv2d(x, w, 1, "SAME", dilations=2),
        image_inputs((3, 2), 2, "SAME", extra=lambda c, f: [(3, 2, c, f)]), grad=False),
    Row("conv2d+bias_add/k3x3-s2-same",
        lambda x, w, b: beras.nn.bias_add(beras.nn.conv2d(x, w, 2, "SAME"), b),
        lambda x, w, b: tf.nn.bias_add(tf.nn.conv2d(x, w, 2, "SAME"), b),
        image_inputs((3, 3), 1, "SAME", extra=lambda c, f: [(3, 3, c, f), (f,)])),
    # bias_add on 2-D and 4-D values, NHWC and NCHW
    Row("bias_add/2d", lambda x, b: beras.nn.bias_add(x, b), lambda x, b: tf.nn.bias_add(x, b),
        lambda d: st.tuples(st.integers(1, 5), st.integers(1, 5)).flatmap(
            lambda t: seeded(d, st.just(t), st.just(t[1:])))),
    Row("bias_add/4d", lambda x, b: beras.nn.bias_add(x, b), lambda x, b: tf.nn.bias_add(x, b),
        image_inputs(extra=lambda c, f: [(c,)])),
    Row("bias_add/nchw", lambda x, b: beras.nn.bias_add(x, b, "NCHW"), lambda x, b: tf.nn.bias_add(x, b, "NCHW"),
        lambda d: st.tuples(st.integers(1, 3), st.integers(1, 4), st.integers(1, 5), st.integers(1, 5)).flatmap(
            lambda t: seeded(d, st.just(t), st.just(t[1:2])))),
    # pooling: non-overlapping, overlapping 3x3/2, SAME (padding ignored), non-square windows
    pool_row("max", "2x2-s2-valid", 2, 2, "VALID"),
    pool_row("max", "3x3-s2-valid", 3, 2, "VALID"),
    pool_row("max", "3x3-s2-same", 3, 2, "SAME"),
    pool_row("max", "2x3-s1x2-same", (2, 3), (1, 2), "SAME"),
    pool_row("max", "3x3-s1-same", 3, [1, 1, 1, 1], "SAME"),
    pool_row("max", "3x3-s3-same", 3, 3, "SAME"),
    pool_row("max", "explicit-3x3-s2", 3, 2, [[0, 0], [1, 2], [2, 0], [0, 0]]),
    pool_row("avg", "2x2-s2-valid", 2, 2, "VALID"),
    pool_row("avg", "3x3-s2-valid", 3, 2, "VALID"),
    pool_row("avg", "3x3-s2-same", 3, 2, "SAME"),
    pool_row("avg", "2x3-s1x2-same", (2, 3), (1, 2), "SAME"),
    pool_row("avg", "3x3-s1-same", 3, 1, "SAME"),
    pool_row("avg", "2x2-s3-same", 2, 3, "SAME"),
    # moments (biased variance) and batch_normalization, gradients w.r.t. every input
    Row("moments/nhwc-axes012", lambda x: beras.nn.moments(x, [0, 1, 2]), lambda x: tf.nn.moments(x, [0, 1, 2]),
        image_inputs()),
    Row("moments/axis0-keepdims", lambda x: beras.nn.moments(x, [0], keepdims=True),
        lambda x: tf.nn.moments(x, [0], keepdims=True), image_inputs(batch=(2, 4))),
    Row("moments/negative-axes", lambda x: beras.nn.moments(x, [-1, 1]), lambda x: tf.nn.moments(x, [-1, 1]),
        image_inputs()),
    Row("batch_normalization/params-c",
        lambda x, m, v, o, s: beras.nn.batch_normalization(x, m, v, o, s, 1e-3),
        lambda x, m, v, o, s: tf.nn.batch_normalization(x, m, v, o, s, 1e-3),
        lambda d: _positive_variance(image_inputs(extra=lambda c, f: [(c,)] * 4)(d), 2)),
    Row("batch_normalization/keepdims-params-no-offset-scale",
        lambda x, m, v: beras.nn.batch_normalization(x, m, v, None, None, 1e-5),
        lambda x, m, v: tf.nn.batch_normalization(x, m, v, None, None, 1e-5),
        lambda d: _positive_variance(image_inputs(extra=lambda c, f: [(1, 1, 1, c)] * 2)(d), 2)),
    # an offset spanning axes neither the statistics nor the scale span (LayerNormalization over H, W with
    # scale=False: a per-sample mean, a per-position beta)
    Row("batch_normalization/offset-beyond-mean-and-scale",
        lambda x, m, v, o: beras.nn.batch_normalization(x, m, v, o, None, 1e-3),
        lambda x, m, v, o: tf.nn.batch_normalization(x, m, v, o, None, 1e-3),
        lambda d: st.tuples(st.integers(1, 3), st.integers(1, 5), st.integers(1, 5), st.integers(1, 4)).flatmap(
            lambda t: _positive_variance(seeded(d, st.just(t), st.just((t[0], 1, 1, t[3])),
                                                st.just((t[0], 1, 1, t[3])), st.just((1, *t[1:3], 1))), 2))),
    Row("batch_normalization/training-moments-nhwc", _bn_train(beras.nn, [0, 1, 2]), _bn_train(tf.nn, [0, 1, 2]),
        image_inputs(batch=(2, 3), extra=lambda c, f: [(c,), (c,)])),
    # A batch of 2 normalizes to about +-1 whatever x is: its x-gradient, ~variance_epsilon / |x1 - x2|^3, is
    # smaller than float32's rounding of the O(1 / |x1 - x2|) terms that cancel into it (both libraries are
    # ~1e-4 off the float64 gradient there), so float32 draws 3 or more rows; float64 keeps the batch of 2.
    Row("batch_normalization/training-moments-2d", _bn_train(beras.nn, [0]), _bn_train(tf.nn, [0]),
        lambda d: st.tuples(st.integers(2 if d == "float64" else 3, 8), st.integers(1, 5)).flatmap(
            lambda t: seeded(d, st.just(t), st.just(t[1:]), st.just(t[1:])))),
]


# ---------------------------------------------------------------------------------------------- TF's extras
def grouped_inputs(groups, kernel, padding="SAME", batch_dims=()):
    """[x (*batch_dims, N, H, W, groups*c), w (kh, kw, c, groups*f)] with random N, H, W, c, f."""
    def inputs(dtype):
        dims = st.tuples(st.integers(1, 3), st.integers(_min_side(kernel[0], 1, padding), 9),
                         st.integers(_min_side(kernel[1], 1, padding), 9), st.integers(1, 3), st.integers(1, 3))
        return dims.flatmap(lambda t: seeded(dtype, st.just((*batch_dims, *t[:3], groups * t[3])),
                                             st.just((*kernel, t[3], groups * t[4]))))
    return inputs


def grouped_conv_tf(x, w, strides, padding, groups):
    """TF's CPU conv2d computes grouped convolutions but has no gradient for them ("Gradients for grouped
    convolutions are not supported on CPU"): the reference is one tf.nn.conv2d per group, concatenated."""
    xs, ws = tf.split(x, groups, axis=-1), tf.split(w, groups, axis=-1)
    return tf.concat([tf.nn.conv2d(a, b, strides, padding) for a, b in zip(xs, ws)], axis=-1)


def grouped_row(name, groups, kh, kw, strides, padding):
    return Row(f"conv2d/grouped{groups}-{name}",
               lambda x, w: beras.nn.conv2d(x, w, strides, padding),
               lambda x, w: grouped_conv_tf(x, w, strides, padding, groups),
               grouped_inputs(groups, (kh, kw), padding if isinstance(padding, str) else "SAME"))


def depth_pool_tf(x, k):
    """TF's CPU max pooling over channels has no gradient ("MaxPoolingGrad is not yet supported on the depth
    dimension"): the reference is TF's spatial max pooling of the channels seen as a (C/k, k) image."""
    n, h, w, c = x.shape
    out = tf.nn.max_pool2d(tf.reshape(x, (n * h * w, c // k, k, 1)), (1, k), (1, k), "VALID")
    return tf.reshape(out, (n, h, w, c // k))


def depth_pool_inputs(k):
    def inputs(dtype):
        dims = st.tuples(st.integers(1, 3), st.integers(1, 6), st.integers(1, 6), st.integers(1, 4))
        return dims.flatmap(lambda t: seeded(dtype, st.just((*t[:3], k * t[3]))))
    return inputs


def depthwise_row(name, kh, kw, strides, padding, dilations=None, multiplier=(1, 3)):
    def inputs(dtype):
        side = 1 if padding == "SAME" else ((max(kh, kw) - 1) * (dilations or 1) + 1)
        dims = st.tuples(st.integers(1, 3), st.integers(side, 9), st.integers(side, 9), st.integers(1, 4),
                         st.integers(*multiplier))
        return dims.flatmap(lambda t: seeded(dtype, st.just(t[:4]), st.just((kh, kw, t[3], t[4]))))
    d = None if dilations is None else [dilations, dilations]
    return Row(f"depthwise_conv2d/{name}",
               lambda x, w: beras.nn.depthwise_conv2d(x, w, [1, strides, strides, 1], padding, dilations=d),
               lambda x, w: tf.nn.depthwise_conv2d(x, w, [1, strides, strides, 1], padding, dilations=d),
               inputs)


ROWS += [
    # grouped convolution (input channels a multiple of the filters' in_channels)
    grouped_row("k3x3-s1-same", 2, 3, 3, 1, "SAME"),
    grouped_row("k3x2-s2-same", 3, 3, 2, 2, "SAME"),
    grouped_row("k2x3-s3-same", 2, 2, 3, 3, "SAME"),
    grouped_row("k3x3-s2-valid", 4, 3, 3, 2, "VALID"),
    grouped_row("explicit-k2x2-s2", 2, 2, 2, 2, EXPLICIT),
    # extra leading batch dimensions (TF: input of shape batch_shape + [H, W, C])
    Row("conv2d/batch-dims-5d-k3x3-s2-same", lambda x, w: beras.nn.conv2d(x, w, 2, "SAME"),
        lambda x, w: tf.nn.conv2d(x, w, 2, "SAME"), grouped_inputs(1, (3, 3), batch_dims=(2,))),
    Row("conv2d/batch-dims-6d-grouped2-k2x2-s1-valid", lambda x, w: beras.nn.conv2d(x, w, 1, "VALID"),
        lambda x, w: tf.concat([tf.nn.conv2d(a, b, 1, "VALID") for a, b in
                                zip(tf.split(x, 2, axis=-1), tf.split(w, 2, axis=-1))], axis=-1),
        grouped_inputs(2, (2, 2), "VALID", batch_dims=(2, 1))),
    # depthwise convolution (TF differentiates it on the CPU)
    depthwise_row("k3x3-s1-same", 3, 3, 1, "SAME"),
    depthwise_row("k3x2-s2-same", 3, 2, 2, "SAME"),
    depthwise_row("k2x2-s3-valid", 2, 2, 3, "VALID"),
    depthwise_row("k3x3-dilation2-same", 3, 3, 1, "SAME", dilations=2),
    # max pooling over the channel axis
    Row("max_pool/depth-window2", lambda x: beras.nn.max_pool(x, [1, 1, 1, 2], [1, 1, 1, 2], "VALID"),
        lambda x: depth_pool_tf(x, 2), depth_pool_inputs(2)),
    Row("max_pool/depth-window3-same", lambda x: beras.nn.max_pool2d(x, [1, 1, 1, 3], [1, 1, 1, 3], "SAME"),
        lambda x: depth_pool_tf(x, 3), depth_pool_inputs(3)),
    # VALID windows larger than the input (by less than the stride): empty outputs, zero gradients (max pooling
    # raises there, as TF's MaxPool does: tests/beras/test_cnn_ops.py)
    Row("avg_pool2d/valid-window-larger-than-input", lambda x: beras.nn.avg_pool2d(x, (2, 5), 2, "VALID"),
        lambda x: tf.nn.avg_pool2d(x, (2, 5), 2, "VALID"),
        lambda d: st.tuples(st.integers(1, 3), st.integers(2, 6), st.integers(4, 4), st.integers(1, 3)).flatmap(
            lambda t: seeded(d, st.just(t)))),
    # (values only: TF's CPU gradient of an empty conv2d output crashes the process (segfault in
    # Conv2DBackpropInput); the zero gradients are checked in tests/beras/test_cnn_ops.py)
    Row("conv2d/valid-filter-larger-than-input", lambda x, w: beras.nn.conv2d(x, w, 2, "VALID"),
        lambda x, w: tf.nn.conv2d(x, w, 2, "VALID"),
        lambda d: st.tuples(st.integers(1, 3), st.integers(3, 3), st.integers(3, 7), st.integers(1, 3)).flatmap(
            lambda t: seeded(d, st.just(t), st.just((4, 3, t[3], 2)))), grad=False),
]
