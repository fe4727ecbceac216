"""``tf.nn.max_pool2d`` and ``tf.nn.avg_pool2d`` (NHWC), with TF's padding rules.

"The padded input values are ignored": max pooling behaves as if padded with -inf, and average
pooling divides each window's sum by the number of real (unpadded) cells in it. Ties in max
pooling send the whole gradient to the first maximum of the window in row-major order, as TF's
CPU kernel does. Windows may overlap (e.g. 3x3 with stride 2, as in AlexNet).

As in conv.py: public wrappers parse TF's arguments; ``@primitive``s call the NumPy kernels
``max_pool_forward`` / ``max_pool_backward`` / ``avg_pool_forward`` / ``avg_pool_backward``.
"""
from __future__ import annotations

import numpy as np

from ..core.tensor import primitive
from .conv import check_data_format, check_padding, crop_hw, output_shape_and_pads, pad_hw, spatial_pair, tap


# ----------------------------------------------------------------------------------------------
# Kernels (student work in beras_cnn). ``pads = ((top, bottom), (left, right))``, ``out_hw = (Ho, Wo)``.
# ----------------------------------------------------------------------------------------------
def max_pool_forward(x, ksize, strides, pads, out_hw):
    """Max over each (kh, kw) window of NHWC ``x`` (N, H, W, C) -> (N, Ho, Wo, C); padding counts as -inf.

    Separable: the max over a window is the max over its rows of the max along each row, so take
    the max over the kw columns first (N, Hp, Wo, C), then over the kh rows.
    """
    ### BEGIN SOLUTION
    (kh, kw), (sh, sw), (ho, wo) = ksize, strides, out_hw
    xp = pad_hw(x, pads, -np.inf)
    cols = tap(xp, 0, 0, (xp.shape[1], wo), (1, sw)).copy()
    for b in range(1, kw):
        np.maximum(cols, tap(xp, 0, b, (xp.shape[1], wo), (1, sw)), out=cols)
    out = tap(cols, 0, 0, out_hw, (sh, 1)).copy()
    for a in range(1, kh):
        np.maximum(out, tap(cols, a, 0, out_hw, (sh, 1)), out=out)
    return out
    ### END SOLUTION


def max_pool_backward(dout, x, out, ksize, strides, pads):
    """Gradient of :func:`max_pool_forward` w.r.t. ``x``: each ``dout`` (N, Ho, Wo, C) value goes to the
    first maximum of its window in row-major order (TF's tie rule) -> (N, H, W, C)."""
    ### BEGIN SOLUTION
    kh, kw = ksize
    out_hw = out.shape[1:3]
    xp = pad_hw(x, pads, -np.inf)
    dxp = np.zeros(xp.shape, dtype=dout.dtype)
    todo = np.ones(out.shape, dtype=bool)       # windows whose first maximum is still to be found
    hit = np.empty(out.shape, dtype=bool)       # this tap holds that first maximum
    share = np.empty_like(dout)
    for a in range(kh):                         # taps in row-major order
        for b in range(kw):
            np.equal(tap(xp, a, b, out_hw, strides), out, out=hit)
            hit &= todo
            todo ^= hit
            np.multiply(dout, hit, out=share)
            tap(dxp, a, b, out_hw, strides)[...] += share
    return crop_hw(dxp, pads)
    ### END SOLUTION


def avg_pool_forward(x, ksize, strides, pads, out_hw):
    """Mean over each (kh, kw) window of NHWC ``x`` (N, H, W, C) -> (N, Ho, Wo, C), counting only the real
    (unpadded) cells of each window. Separable like :func:`max_pool_forward`: sum along rows, then columns."""
    ### BEGIN SOLUTION
    (kh, kw), (sh, sw), (ho, wo) = ksize, strides, out_hw
    xp = pad_hw(x, pads)
    cols = tap(xp, 0, 0, (xp.shape[1], wo), (1, sw)).copy()
    for b in range(1, kw):
        cols += tap(xp, 0, b, (xp.shape[1], wo), (1, sw))
    total = tap(cols, 0, 0, out_hw, (sh, 1)).copy()
    for a in range(1, kh):
        total += tap(cols, a, 0, out_hw, (sh, 1))
    return total / window_counts(x.shape, ksize, strides, pads, out_hw, x.dtype)
    ### END SOLUTION


def avg_pool_backward(dout, x_shape, ksize, strides, pads):
    """Gradient of :func:`avg_pool_forward`: each window spreads ``dout / count`` over its real cells
    -> (N, H, W, C) with ``x_shape``. Undoes the two separable sums in reverse order."""
    ### BEGIN SOLUTION
    (kh, kw), (sh, sw), ((t, b_), (l, r)) = ksize, strides, pads
    ho, wo = dout.shape[1:3]
    share = dout / window_counts(x_shape, ksize, strides, pads, (ho, wo), dout.dtype)
    hp, wp = x_shape[1] + t + b_, x_shape[2] + l + r
    dcols = np.zeros((x_shape[0], hp, wo, x_shape[3]), dtype=dout.dtype)
    for a in range(kh):
        tap(dcols, a, 0, (ho, wo), (sh, 1))[...] += share
    dxp = np.zeros((x_shape[0], hp, wp, x_shape[3]), dtype=dout.dtype)
    for b in range(kw):
        tap(dxp, 0, b, (hp, wo), (1, sw))[...] += dcols
    return crop_hw(dxp, pads)
    ### END SOLUTION


def window_counts(x_shape, ksize, strides, pads, out_hw, dtype=np.float64):
    """Number of real (unpadded) cells in each pooling window, shaped (1, Ho, Wo, 1) to broadcast."""
    ones = pad_hw(np.ones((1, x_shape[1], x_shape[2], 1), dtype), pads)
    counts = np.zeros((1, *out_hw, 1), dtype)
    for a in range(ksize[0]):
        for b in range(ksize[1]):
            counts += tap(ones, a, b, out_hw, strides)
    return counts


# ----------------------------------------------------------------------------------------------
# Primitives and public wrappers
# ----------------------------------------------------------------------------------------------
@primitive(n_inputs=1)
def _max_pool(x, ksize, strides, pads, out_hw):
    out = max_pool_forward(x, ksize, strides, pads, out_hw)
    return out, lambda g: (max_pool_backward(g, x, out, ksize, strides, pads),)


@primitive(n_inputs=1)
def _avg_pool(x, ksize, strides, pads, out_hw):
    out = avg_pool_forward(x, ksize, strides, pads, out_hw)
    return out, lambda g: (avg_pool_backward(g, x.shape, ksize, strides, pads),)


def _pool_args(op, input, ksize, strides, padding, data_format, allow_explicit):  # noqa: A002
    check_data_format(data_format, op)
    shape = np.shape(input)
    if len(shape) != 4:
        raise ValueError(f"{op} input must be 4-dimensional (N, H, W, C), got shape {tuple(shape)}")
    ksize = spatial_pair(ksize, "ksize")
    strides = spatial_pair(strides, "strides")
    padding = check_padding(padding, allow_explicit)
    out_hw, pads = output_shape_and_pads(shape, ksize, strides, (1, 1), padding)
    return dict(ksize=ksize, strides=strides, pads=pads, out_hw=out_hw)


def max_pool2d(input, ksize, strides, padding, data_format="NHWC", name=None):  # noqa: A002
    """Like ``tf.nn.max_pool2d``: NHWC (N, H, W, C) -> (N, Ho, Wo, C). ``ksize`` / ``strides``: int, pair or
    ``[1, k, k, 1]``; ``padding``: 'SAME', 'VALID' or explicit ``[[0,0],[t,b],[l,r],[0,0]]``."""
    return _max_pool(input, **_pool_args("max_pool2d", input, ksize, strides, padding, data_format, True))


def avg_pool2d(input, ksize, strides, padding, data_format="NHWC", name=None):  # noqa: A002
    """Like ``tf.nn.avg_pool2d``: NHWC (N, H, W, C) -> (N, Ho, Wo, C); ``padding``: 'SAME' or 'VALID'."""
    return _avg_pool(input, **_pool_args("avg_pool2d", input, ksize, strides, padding, data_format, False))


def max_pool(input, ksize, strides, padding, data_format="NHWC", name=None):  # noqa: A002
    """Like ``tf.nn.max_pool`` for 4-D NHWC input (same as :func:`max_pool2d`)."""
    return max_pool2d(input, ksize, strides, padding, data_format, name)


def avg_pool(input, ksize, strides, padding, data_format="NHWC", name=None):  # noqa: A002
    """Like ``tf.nn.avg_pool`` for 4-D NHWC input (same as :func:`avg_pool2d`)."""
    return avg_pool2d(input, ksize, strides, padding, data_format, name)
