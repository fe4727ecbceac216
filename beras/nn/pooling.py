"""``tf.nn.max_pool2d`` and ``tf.nn.avg_pool2d`` (NHWC), with TF's padding rules.

"The padded input values are ignored": max pooling behaves as if padded with the dtype's lowest value
(TF's CPU kernel starts each window's maximum there and skips NaNs), and average pooling divides each
window's sum by the number of real (unpadded) cells in it. The gradient of max pooling follows TF's
CPU kernel, which scans each window's real cells in row-major order: the first one is taken, then
any later cell greater than the one taken. So ties send the whole gradient to the first maximum, a
window starting with NaN sends it to that NaN, and the upstream gradient is routed, not multiplied
by a mask (a NaN upstream value stays in its one cell). Windows may overlap (3x3 stride 2, AlexNet).

Also as in TF: max pooling over the channel axis (``ksize = [1, 1, 1, k]``, stride k, k dividing the
channels) runs the same kernels on the channels seen as a (C/k, k) image; a VALID window larger
than the input by less than the stride gives an empty output and a zero gradient.

As in conv.py: public wrappers parse TF's arguments; ``@primitive``s call the NumPy kernels
``max_pool_forward`` / ``max_pool_backward`` / ``avg_pool_forward`` / ``avg_pool_backward``.
"""
from __future__ import annotations

import numpy as np

from ..core.tensor import primitive
from .conv import by_blocks, check_data_format, check_padding, crop_hw, lowest, output_shape_and_pads, pad_hw, tap


# ----------------------------------------------------------------------------------------------
# Kernels (student work in beras_cnn). ``pads = ((top, bottom), (left, right))``, ``out_hw = (Ho, Wo)``.
# ----------------------------------------------------------------------------------------------
def max_pool_forward(x, ksize, strides, pads, out_hw):
    """Max over each (kh, kw) window of NHWC ``x`` (N, H, W, C) -> (N, Ho, Wo, C).

    As TF's CPU kernel: each window's maximum starts at ``lowest(x.dtype)`` (so padding, and -inf, never
    win) and NaNs are skipped (``np.fmax``, not ``np.maximum``). Separable: the max over a window is the
    max over its columns of the max down each column, so take the max over the kh rows first
    (N, Ho, W, C: whole contiguous rows), then over the kw columns. The padding never wins, so it need
    not be built: each tap only reaches the outputs whose window has it inside the input.
    """
    ### BEGIN SOLUTION
    low = lowest(x.dtype)
    out = x
    for axis, k, s, (before, _), size in zip((1, 2), ksize, strides, pads, out_hw):   # rows, then columns
        full, partial = [], []
        for t in range(k):                            # tap t reads input cell i*s + t - before for output i
            lo = max(0, -(-(before - t) // s))        # the first and last outputs whose cell is inside
            hi = min(size, (out.shape[axis] - 1 + before - t) // s + 1)
            if hi > lo:
                cells = [slice(None)] * 4
                cells[axis] = slice(lo * s + t - before, (hi - 1) * s + t - before + 1, s)
                (full if hi - lo == size else partial).append((lo, hi, out[tuple(cells)]))
        if len(full) >= 2:
            acc = np.fmax(full[0][2], full[1][2])
        elif full:
            acc = full[0][2].copy()
        else:
            acc = np.full(out.shape[:axis] + (size,) + out.shape[axis + 1:], low, out.dtype)
        for lo, hi, cells in full[2:] + partial:
            part = (slice(None),) * axis + (slice(lo, hi),)
            np.fmax(acc[part], cells, out=acc[part])
        out = acc
    smallest = out.min(initial=low)                                  # NaN if any window is all NaN
    if not smallest >= low:                                          # all -inf / all NaN windows: TF's start value
        out = np.fmax(out, low)
    return out
    ### END SOLUTION


def max_pool_backward(dout, x, out, ksize, strides, pads):
    """Gradient of :func:`max_pool_forward` w.r.t. ``x`` -> (N, H, W, C); ``out`` is the forward output.

    Each ``dout`` (N, Ho, Wo, C) value goes to one cell of its window, chosen as TF's CPU kernel does:
    scan the window's real (unpadded) cells in row-major order, take the first, then any later cell
    greater than the one taken. So ties go to the first maximum, which is the first cell equal to
    ``out``; only windows whose first real cell is NaN (it stays taken: later cells are never greater
    than NaN), or whose cells never equal ``out`` (all -inf: ``out`` is the dtype's lowest value), route
    to their first real cell instead. Route ``dout`` without multiplying NaNs by 0 (NaN * 0 is NaN: a
    NaN of ``dout`` would spread over the whole window).
    """
    ### BEGIN SOLUTION
    (kh, kw), (sh, sw), ((top, _), (left, _)) = ksize, strides, pads
    ho, wo = out.shape[1:3]
    xp = pad_hw(x, pads, np.nan if x.dtype.kind == "f" else lowest(x.dtype))
    arg = np.zeros(out.shape, np.int16)            # row-major index of the tap each window routes to
    found = np.zeros(out.shape, bool)
    hit = np.empty(out.shape, bool)
    for t in range(kh * kw):                        # first cell equal to the window's maximum
        np.equal(tap(xp, t // kw, t % kw, (ho, wo), strides), out, out=hit)
        np.greater(hit, found, out=hit)              # hit and not found before
        found |= hit
        arg += hit * np.int16(t)
    # each window's first real cell is tap (a0, b0): a0 = max(0, top - i*sh), b0 = max(0, left - j*sw)
    a0 = np.maximum(0, top - np.arange(ho) * sh)[:, None]
    b0 = np.maximum(0, left - np.arange(wo) * sw)[None, :]
    first = xp[:, np.arange(ho)[:, None] * sh + a0, np.arange(wo)[None, :] * sw + b0, :]
    special = ~found | (first != first)             # (first != first: the first real cell is NaN)
    if special.any():
        arg = np.where(special, (a0 * kw + b0)[None, :, :, None].astype(np.int16), arg)
    dxp = np.zeros(xp.shape, dtype=dout.dtype)
    finite = bool(np.isfinite(dout).all())
    for t in range(kh * kw):
        np.equal(arg, t, out=hit)
        share = dout * hit if finite else np.where(hit, dout, np.zeros((), dout.dtype))
        tap(dxp, t // kw, t % kw, (ho, wo), strides)[...] += share
    return crop_hw(dxp, pads)
    ### END SOLUTION


def avg_pool_forward(x, ksize, strides, pads, out_hw):
    """Mean over each (kh, kw) window of NHWC ``x`` (N, H, W, C) -> (N, Ho, Wo, C), counting only the real
    (unpadded) cells of each window. Separable like :func:`max_pool_forward`: sum down the rows, then across."""
    ### BEGIN SOLUTION
    (kh, kw), (sh, sw), (ho, _) = ksize, strides, out_hw
    xp = pad_hw(x, pads)
    rows = tap(xp, 0, 0, (ho, xp.shape[2]), (sh, 1))                 # sum the kh rows (contiguous runs)
    for a in range(1, kh):
        rows = np.add(rows, tap(xp, a, 0, (ho, xp.shape[2]), (sh, 1)), out=None if a == 1 else rows)
    total = tap(rows, 0, 0, out_hw, (1, sw))                         # then the kw columns
    for b in range(1, kw):
        total = np.add(total, tap(rows, 0, b, out_hw, (1, sw)), out=None if b == 1 else total)
    counts = window_counts(x.shape, ksize, strides, pads, out_hw, x.dtype)
    if (counts == counts.flat[0]).all():                             # no window reaches the padding:
        counts = counts.flat[0]                                      # one number, not a broadcast array
    return total / counts
    ### END SOLUTION


def avg_pool_backward(dout, x_shape, ksize, strides, pads):
    """Gradient of :func:`avg_pool_forward`: each window spreads ``dout / count`` over its real cells
    -> (N, H, W, C) with ``x_shape``. Undoes the two separable sums in reverse order."""
    ### BEGIN SOLUTION
    (kh, kw), (sh, sw), ((t, b_), (l, r)) = ksize, strides, pads
    ho, wo = dout.shape[1:3]
    share = dout / window_counts(x_shape, ksize, strides, pads, (ho, wo), dout.dtype)
    hp, wp = x_shape[1] + t + b_, x_shape[2] + l + r
    drows = np.zeros((x_shape[0], ho, wp, x_shape[3]), dtype=dout.dtype)
    for b in range(kw):                                              # undo the column sums
        tap(drows, 0, b, (ho, wo), (1, sw))[...] += share
    dxp = np.zeros((x_shape[0], hp, wp, x_shape[3]), dtype=dout.dtype)
    for a in range(kh):                                              # then the row sums (contiguous runs)
        tap(dxp, a, 0, (ho, wp), (sh, 1))[...] += drows
    return crop_hw(dxp, pads)
    ### END SOLUTION


def window_counts(x_shape, ksize, strides, pads, out_hw, dtype=np.float64):
    """Number of real (unpadded) cells in each pooling window, shaped (1, Ho, Wo, 1) to broadcast: per axis,
    the overlap of each window [i * stride - pad_before, ... + k) with the input [0, size), as a product."""
    def real_cells(size, k, stride, before, n):
        start = np.arange(n) * stride - before
        return np.clip(np.minimum(start + k, size) - np.maximum(start, 0), 0, None)
    rows = real_cells(x_shape[1], ksize[0], strides[0], pads[0][0], out_hw[0])
    cols = real_cells(x_shape[2], ksize[1], strides[1], pads[1][0], out_hw[1])
    return np.multiply.outer(rows, cols).astype(dtype)[None, :, :, None]


# ----------------------------------------------------------------------------------------------
# Primitives and public wrappers
# ----------------------------------------------------------------------------------------------
def _blockwise(kernel, arrays, out_shape, dtype):
    """``kernel(*(a[rows] for a in arrays))`` written to ``out[rows]`` for blocks of images (by_blocks: about
    1 MB of input per block, on two threads) -> ``out``. Every pooling kernel treats its images apart."""
    out = np.empty(out_shape, dtype)

    def job(rows):
        out[rows] = kernel(*(a[rows] for a in arrays))
    by_blocks(out_shape[0], sum(a[:1].nbytes for a in arrays), job)
    return out


@primitive(n_inputs=1)
def _max_pool(x, ksize, strides, pads, out_hw):
    if 0 in out_hw or x.size == 0:                          # an empty output: no window, zero gradient
        return np.zeros((x.shape[0], *out_hw, x.shape[3]), x.dtype), lambda g: (np.zeros_like(x),)
    out = _blockwise(lambda xb: max_pool_forward(xb, ksize, strides, pads, out_hw), [x],
                     (x.shape[0], *out_hw, x.shape[3]), x.dtype)
    return out, lambda g: (_blockwise(lambda gb, xb, ob: max_pool_backward(gb, xb, ob, ksize, strides, pads),
                                      [g, x, out], x.shape, g.dtype),)


@primitive(n_inputs=1)
def _max_pool_depth(x, depth):
    """Max over groups of ``depth`` consecutive channels: the kernels on the channels seen as an image,
    (N*H*W, C/depth, depth, 1) pooled by (1, depth) windows with stride (1, depth)."""
    n, h, w, c = x.shape
    if x.size == 0:
        return np.zeros((n, h, w, c // depth), x.dtype), lambda g: (np.zeros_like(x),)
    xr = x.reshape(n * h * w, c // depth, depth, 1)
    args = dict(ksize=(1, depth), strides=(1, depth), pads=((0, 0), (0, 0)))
    out = max_pool_forward(xr, out_hw=(c // depth, 1), **args)
    return out.reshape(n, h, w, c // depth), lambda g: (
        max_pool_backward(g.reshape(out.shape), xr, out, **args).reshape(x.shape),)


@primitive(n_inputs=1)
def _avg_pool(x, ksize, strides, pads, out_hw):
    if 0 in out_hw or x.size == 0:
        return np.zeros((x.shape[0], *out_hw, x.shape[3]), x.dtype), lambda g: (np.zeros_like(x),)
    out = _blockwise(lambda xb: avg_pool_forward(xb, ksize, strides, pads, out_hw), [x],
                     (x.shape[0], *out_hw, x.shape[3]), x.dtype)
    return out, lambda g: (_blockwise(lambda gb: avg_pool_backward(gb, (len(gb), *x.shape[1:]), ksize, strides, pads),
                                      [g], x.shape, g.dtype),)


def pool_window(value, name):
    """``ksize`` / ``strides`` as TF's pooling reads them: an int, a pair ``(h, w)`` or a length-4 list
    ``[batch, h, w, depth]`` -> the 4 ints ``[batch, h, w, depth]``."""
    if isinstance(value, (int, np.integer)):
        values = [1, int(value), int(value), 1]
    else:
        values = [int(v) for v in np.asarray(value).reshape(-1)]
        if len(values) == 1:
            values = [1, values[0], values[0], 1]
        elif len(values) == 2:
            values = [1, *values, 1]
        elif len(values) != 4:
            raise ValueError(f"{name} should be of length 1, 2 or 4. Received: {name}={list(values)} "
                             f"of length {len(values)}")
    if min(values) <= 0:
        raise ValueError(f"{name} must be positive integers, got {name}={value!r} (as [batch, height, width, "
                         f"depth]: {values}; spatial {tuple(values[1:3])})")
    return values


def _pool_args(op, input, ksize, strides, padding, data_format, allow_explicit):  # noqa: A002
    """TF's pooling arguments -> the primitive's options (``depth`` set for pooling over channels)."""
    check_data_format(data_format, op)
    shape = tuple(np.shape(input))
    if len(shape) != 4:
        raise ValueError(f"{op} input must be 4-dimensional (N, H, W, C), got shape {shape}")
    k, s = pool_window(ksize, "ksize"), pool_window(strides, "strides")
    if k[0] != 1 or s[0] != 1:
        raise ValueError(f"{op}: pooling is not supported on the batch dimension (TF raises too): "
                         f"ksize={k}, strides={s} must start with 1")
    padding = check_padding(padding, allow_explicit)
    if not isinstance(padding, str):
        for (before, after), size, (side1, side2) in zip(padding, k[1:3], (("Top", "Bottom"), ("Left", "Right"))):
            for side, amount in ((side1, before), (side2, after)):
                if amount >= size:
                    raise ValueError(f"{op}: {side} padding {amount} needs to be smaller than the window size "
                                     f"{size} (ksize={k}, padding={padding}), as TF requires")
    if k[3] != 1:
        if op.startswith("avg"):
            raise ValueError(f"{op}: pooling over the depth (channel) axis is not supported (TF: 'Non-spatial "
                             f"pooling is not yet supported'); ksize={k} must be [1, kh, kw, 1]")
        if k[1] != 1 or k[2] != 1:
            raise ValueError(f"{op}: pooling supports exactly one of pooling across depth or pooling across "
                             f"width/height, got ksize={k}")
        if k[3] != s[3]:
            raise ValueError(f"{op}: depthwise max pooling requires the depth window to equal the depth stride, "
                             f"got ksize={k}, strides={s}")
        if shape[3] % k[3]:
            raise ValueError(f"{op}: depthwise max pooling requires the depth window {k[3]} to evenly divide the "
                             f"input depth {shape[3]} (input shape {shape})")
        return dict(depth=k[3])      # TF ignores the spatial strides here
    # TF ignores a depth stride when the window does not pool over depth
    ksize, strides = (k[1], k[2]), (s[1], s[2])
    out_hw, pads = output_shape_and_pads(shape, ksize, strides, (1, 1), padding)
    padded = tuple(size + before + after for size, (before, after) in zip(shape[1:3], pads))
    if op.startswith("max") and (padded[0] < ksize[0] or padded[1] < ksize[1]):
        # TF's MaxPool shape function raises here (pooling_ops_test.testMaxPoolInvalidFilterSize), and its
        # default (oneDNN) CPU kernel aborts or crashes; only avg_pool2d and conv2d give TF's empty output
        raise ValueError(f"{op}: the {ksize[0]}x{ksize[1]} window (ksize={k}) is larger than the "
                         f"{'padded ' if padding != 'VALID' else ''}input's {padded[0]}x{padded[1]} (input shape "
                         f"{shape}, padding={padding!r}) (TF raises too: 'Negative dimension size'). Use a smaller "
                         f"window or padding='SAME'")
    return dict(ksize=ksize, strides=strides, pads=pads, out_hw=out_hw)


def max_pool2d(input, ksize, strides, padding, data_format="NHWC", name=None):  # noqa: A002
    """Like ``tf.nn.max_pool2d``: NHWC (N, H, W, C) -> (N, Ho, Wo, C). ``ksize`` / ``strides``: int, pair or
    ``[1, k, k, 1]``; ``padding``: 'SAME', 'VALID' or explicit ``[[0,0],[t,b],[l,r],[0,0]]``.
    ``ksize = strides = [1, 1, 1, k]`` pools over groups of k channels instead: (N, H, W, C/k)."""
    args = _pool_args("max_pool2d", input, ksize, strides, padding, data_format, True)
    return _max_pool_depth(input, **args) if "depth" in args else _max_pool(input, **args)


def avg_pool2d(input, ksize, strides, padding, data_format="NHWC", name=None):  # noqa: A002
    """Like ``tf.nn.avg_pool2d``: NHWC (N, H, W, C) -> (N, Ho, Wo, C); ``padding``: 'SAME' or 'VALID'.
    Floating-point input only, as in TF (a mean of integers is not an integer)."""
    dtype = getattr(input, "dtype", None)
    dtype = np.asarray(input).dtype if dtype is None else np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"avg_pool2d: input dtype {dtype.name} is not supported; valid: float16, float32, float64 "
                        f"(as in TF). Cast first, e.g. beras.cast(x, 'float32')")
    return _avg_pool(input, **_pool_args("avg_pool2d", input, ksize, strides, padding, data_format, False))


def max_pool(input, ksize, strides, padding, data_format="NHWC", name=None):  # noqa: A002
    """Like ``tf.nn.max_pool`` for 4-D NHWC input (same as :func:`max_pool2d`)."""
    return max_pool2d(input, ksize, strides, padding, data_format, name)


def avg_pool(input, ksize, strides, padding, data_format="NHWC", name=None):  # noqa: A002
    """Like ``tf.nn.avg_pool`` for 4-D NHWC input (same as :func:`avg_pool2d`)."""
    return avg_pool2d(input, ksize, strides, padding, data_format, name)
