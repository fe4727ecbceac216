"""``tf.nn.conv2d`` and ``tf.nn.bias_add``, plus TF's output-size / padding arithmetic.

Layout as in TensorFlow on the CPU: images NHWC ``(batch, height, width, channels)``,
filters HWIO ``(kh, kw, in_channels, out_channels)``, and conv2d is a cross-correlation:

    out[n, i, j, f] = sum_{a, b, c} xp[n, i*sh + a*dh, j*sw + b*dw, c] * w[a, b, c, f]

where ``xp`` is the input padded by ``pads = ((top, bottom), (left, right))``.

Each op has two parts:
- a public wrapper (``conv2d``, ``bias_add``) that parses and validates TF's arguments and
  does TF's padding arithmetic (:func:`conv_output_size`, written by the students too: the release
  must not answer the assignment's Part 1); and
- a ``@primitive`` whose forward value and VJP call small NumPy kernels
  (``conv2d_forward`` / ``conv2d_backward``, ``bias_add_forward`` / ``bias_add_backward``); its glue also
  gives TF's extras without a kernel of their own: leading batch dimensions are flattened, a grouped
  convolution runs the kernels per channel group, and empty results skip the kernels.
The kernels, and :func:`im2col` (the patch matrix that makes conv2d one matrix product), are what the
``beras_cnn`` assignment asks students to write.
"""
from __future__ import annotations

import itertools
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..core import ops
from ..core.tensor import primitive, unbroadcast

PADDINGS = ("SAME", "VALID")


# ----------------------------------------------------------------------------------------------
# TF's argument rules and padding arithmetic (shared with pooling)
# ----------------------------------------------------------------------------------------------
def spatial_pair(value, name):
    """An int, a pair ``(h, w)`` or a length-4 list ``[1, h, w, 1]`` (NHWC) -> ``(h, w)`` of ints."""
    if isinstance(value, (int, np.integer)):
        values = [int(value)] * 2
    else:
        values = [int(v) for v in np.asarray(value).reshape(-1)]
        if len(values) == 1:
            values = values * 2
        elif len(values) == 4:
            if values[0] != 1 or values[3] != 1:
                raise ValueError(f"{name}={list(values)}: {name} in the batch and depth dimensions must be 1 "
                                 f"(TF does not support them)")
            values = values[1:3]
        elif len(values) != 2:
            raise ValueError(f"{name} should be of length 1, 2 or 4. Received: {name}={list(values)} "
                             f"of length {len(values)}")
    if min(values) <= 0:
        raise ValueError(f"{name} must be positive integers, got {name}={tuple(values)}")
    return tuple(values)


def check_data_format(data_format, op):
    """TF's CPU kernels only implement NHWC for conv2d and pooling; say so instead of computing NCHW wrongly."""
    if data_format in (None, "NHWC"):
        return
    if data_format == "NCHW":
        raise ValueError(f"{op}: data_format='NCHW' is not implemented on the CPU (TensorFlow raises too); "
                         f"transpose the input to NHWC, e.g. with beras.transpose(x, [0, 2, 3, 1])")
    raise ValueError(f"{op}: unknown data_format {data_format!r}; valid: 'NHWC' (and 'NCHW' on GPUs only)")


def check_padding(padding, allow_explicit=True):
    """'SAME', 'VALID' or (if allowed) explicit ``[[0,0],[top,bottom],[left,right],[0,0]]``.

    Returns the string, or ``((top, bottom), (left, right))`` for explicit padding.
    """
    if isinstance(padding, str):
        if padding not in PADDINGS:
            valid = "'SAME', 'VALID'" + (" or an explicit [[0, 0], [top, bottom], [left, right], [0, 0]]"
                                         if allow_explicit else "")
            raise ValueError(f"Unknown padding {padding!r}; valid: {valid} (upper case, as in tf.nn)")
        return padding
    if not allow_explicit:
        raise ValueError(f"padding must be 'SAME' or 'VALID' here, got {padding!r}")
    pads = np.asarray(padding)
    if pads.shape != (4, 2):
        raise ValueError(f"Explicit padding must be [[0, 0], [top, bottom], [left, right], [0, 0]] "
                         f"(shape (4, 2)), got {padding!r}")
    pads = pads.astype(int)
    if (pads < 0).any():
        raise ValueError(f"All explicit paddings must be nonnegative, got {pads.tolist()}")
    if pads[0].any() or pads[3].any():
        raise ValueError(f"Nonzero explicit padding in the batch or depth dimensions is not supported, "
                         f"got {pads.tolist()}")
    return (tuple(int(p) for p in pads[1]), tuple(int(p) for p in pads[2]))


def conv_output_size(size, kernel, stride, dilation, padding):
    """TF's rule for one spatial dimension -> ``(out_size, pad_before, pad_after)``.

    ``padding``: 'VALID', 'SAME' or an explicit ``(before, after)`` pair.
    - effective kernel ``k_eff = (kernel - 1) * dilation + 1``
    - VALID / explicit: ``out = (padded - k_eff + stride) / stride`` in C++ integer division (it truncates
      toward zero), so a window up to ``stride - 1`` cells larger than the input gives an *empty* output
      (size 0) and only a negative result is an error, as in TF's ``GetWindowedOutputSize``
    - SAME:  ``out = ceil(size / stride)``, ``pad_total = max((out - 1) * stride + k_eff - size, 0)``,
      ``pad_before = pad_total // 2``: the odd pixel goes after (bottom / right)
    """
    k_eff = (kernel - 1) * dilation + 1
    if padding == "SAME":
        out = math.ceil(size / stride)
        total = max((out - 1) * stride + k_eff - size, 0)
        return out, total // 2, total - total // 2
    before, after = (0, 0) if padding == "VALID" else padding
    numerator = size + before + after - k_eff + stride
    out = numerator // stride if numerator >= 0 else -(-numerator // stride)   # C++ truncation
    if out < 0:
        raise ValueError(f"Computed output size would be negative: {out} [input_size: {size}, padding: "
                         f"{(before, after)}, effective_filter_size: {k_eff}, stride: {stride}]: the (effective) "
                         f"kernel is larger than the padded input size {size + before + after}")
    return out, before, after


def output_shape_and_pads(input_shape, kernel_hw, strides, dilations, padding):
    """NHWC ``input_shape`` -> ``((Ho, Wo), ((top, bottom), (left, right)))`` by :func:`conv_output_size`."""
    sizes, pads = [], []
    for axis in range(2):
        pad = padding if isinstance(padding, str) else padding[axis]
        try:
            out, before, after = conv_output_size(input_shape[1 + axis], kernel_hw[axis], strides[axis],
                                                  dilations[axis], pad)
        except ValueError as e:
            raise ValueError(f"{e}; input shape {tuple(input_shape)}, kernel size {tuple(kernel_hw)}, "
                             f"dilations {tuple(dilations)}") from None
        sizes.append(out)
        pads.append((before, after))
    return tuple(sizes), tuple(pads)


# ----------------------------------------------------------------------------------------------
# NumPy helpers that every kernel shares (complete; students may use them)
# ----------------------------------------------------------------------------------------------
def pad_hw(x, pads, value=0.0):
    """Pad the two spatial axes of NHWC ``x`` by ``pads = ((top, bottom), (left, right))`` with ``value``.

    A negative amount crops that side instead (used by the transposed convolution in conv2d_backward).
    """
    (t, b), (l, r) = pads
    if t == b == l == r == 0:
        return x
    if min(t, b, l, r) < 0:
        x = x[:, max(-t, 0):x.shape[1] - max(-b, 0), max(-l, 0):x.shape[2] - max(-r, 0), :]
        t, b, l, r = max(t, 0), max(b, 0), max(l, 0), max(r, 0)
        if t == b == l == r == 0:
            return x
    n, h, w, c = x.shape
    out = np.full((n, h + t + b, w + l + r, c), value, dtype=x.dtype)
    out[:, t:t + h, l:l + w, :] = x
    return out


def crop_hw(xp, pads):
    """Undo :func:`pad_hw`: the inner ``(N, H, W, C)`` part of a padded array."""
    (t, b), (l, r) = pads
    return xp[:, t:xp.shape[1] - b, l:xp.shape[2] - r, :]


def lowest(dtype):
    """The smallest finite value of ``dtype`` (``-FLT_MAX`` for float32, -128 for int8): TF's CPU max pooling
    starts every window's maximum there, so it also stands for the padding (-inf cast to an integer is 0)."""
    dtype = np.dtype(dtype)
    return (np.finfo(dtype) if dtype.kind == "f" else np.iinfo(dtype)).min


def tap(xp, a, b, out_hw, strides, dilations=(1, 1)):
    """The (N, Ho, Wo, C) strided view of the padded input seen by kernel tap ``(a, b)``:

    ``tap(...)[n, i, j, c] == xp[n, i*sh + a*dh, j*sw + b*dw, c]`` (a view, no copy; writable).
    """
    (ho, wo), (sh, sw), (dh, dw) = out_hw, strides, dilations
    return xp[:, a * dh: a * dh + (ho - 1) * sh + 1: sh, b * dw: b * dw + (wo - 1) * sw + 1: sw, :]


_BLOCKS = {"lock": threading.Lock(), "pid": None, "pool": None, "blas": None}
_in_blocks = threading.local()


def run_blocks(job, count):
    """``[job(0), ..., job(count - 1)]``, computed on two threads (this one and a pooled worker, which take
    the next index as they finish one) while BLAS (OpenBLAS) is limited to one thread, so that neither
    thread's matrix products wait for BLAS's own threads. NumPy releases the GIL in its copies, arithmetic
    and BLAS calls, so jobs made of those run on both cores at once. Each job must write only its own
    results. Runs the jobs in order on this thread if ``count`` <= 1, when called from within a job, if
    threadpoolctl (installed with scikit-learn) is missing, or if no thread can be started."""
    if count <= 1 or getattr(_in_blocks, "active", False):
        return [job(i) for i in range(count)]
    with _BLOCKS["lock"]:
        if _BLOCKS["pid"] != os.getpid():     # first call, or a forked child (the parent's worker is gone)
            try:   # optional (it comes with scikit-learn): without it, the jobs run on this thread
                from threadpoolctl import ThreadpoolController
                blas = ThreadpoolController().select(user_api="blas")
            except ImportError:
                blas = None
            _BLOCKS.update(pid=os.getpid(), pool=ThreadPoolExecutor(1, thread_name_prefix="beras-blocks"), blas=blas)
        if _BLOCKS["blas"] is None:
            return [job(i) for i in range(count)]
        results, indices = [None] * count, itertools.count()

        def work():
            _in_blocks.active = True
            try:
                for i in indices:            # itertools.count hands out each index once, under the GIL
                    if i >= count:
                        return
                    results[i] = job(i)
            finally:
                _in_blocks.active = False

        with _BLOCKS["blas"].limit(limits=1):
            try:
                other = _BLOCKS["pool"].submit(work)
            except RuntimeError:                # no thread to be had (interpreter exiting, thread limit)
                other = None
            try:
                work()
            finally:
                if other is not None and not other.cancel():   # cancelled: the worker never started
                    other.result()
        return results


BLOCK_BYTES = 2**20             # work per block: the forward kernels (patches) and pooling (input)
BACKWARD_BLOCK_BYTES = 2**21    # conv2d_backward: more calls per block, so fewer, larger blocks measured faster


def images_per_block(n, per_image, target=BLOCK_BYTES):
    """How many of a batch's ``n`` images make a block of about ``target`` bytes of work (``per_image``
    bytes each): the whole batch if it is smaller, at least one image."""
    return n if n * per_image < target else max(1, int(target // per_image))


def by_blocks(n, per_image, job, target=BLOCK_BYTES):
    """Cut a batch of ``n`` images into blocks (:func:`images_per_block`) and run ``job(rows)`` on each
    block's slice ``rows`` of the batch, on two threads (:func:`run_blocks`) -> the results in block order.
    Blocks keep each step's temporaries in the cache, and both cores work."""
    step = images_per_block(n, per_image, target)
    blocks = [slice(i, i + step) for i in range(0, n, step)]
    return run_blocks(lambda i: job(blocks[i]), len(blocks))


def _out_hw(padded_hw, kernel_hw, strides, dilations):
    """Output size of a VALID correlation over an already padded input (by :func:`conv_output_size`)."""
    return tuple(conv_output_size(p, k, s, d, "VALID")[0] for p, k, s, d in zip(padded_hw, kernel_hw, strides, dilations))


# ----------------------------------------------------------------------------------------------
# Kernels (student work in beras_cnn)
# ----------------------------------------------------------------------------------------------
def im2col(xp, kernel_hw, out_hw, strides, dilations=(1, 1)):
    """Padded NHWC ``xp`` (N, Hp, Wp, C) -> the patch matrix (N*Ho*Wo, kh*kw*C): one row per output pixel
    ``(n, i, j)`` (row-major), holding the window that pixel sees, flattened in HWIO order ``(a, b, c)``:

        cols[(n*Ho + i)*Wo + j, (a*kw + b)*C + c] == xp[n, i*sh + a*dh, j*sw + b*dw, c]

    so that ``cols @ w.reshape(kh*kw*C, F)`` is the convolution (like ``tf.image.extract_patches``, flattened).
    No Python loop over pixels: loop at most over the ``kh*kw`` taps (``tap`` gives each tap's strided view),
    or build all windows at once as a strided view (``numpy.lib.stride_tricks.as_strided``) and reshape it.
    """
    n, _, _, c = xp.shape
    sn, sh_, sw_, sc = xp.strides
    (kh, kw), (ho, wo), (sh, sw), (dh, dw) = kernel_hw, out_hw, strides, dilations
    windows = as_strided(xp, (n, ho, wo, kh, kw, c), (sn, sh_ * sh, sw_ * sw, sh_ * dh, sw_ * dw, sc),
                         writeable=False)                     # a view: no copy until the reshape
    return windows.reshape(n * ho * wo, kh * kw * c)


def conv2d_forward(x, w, strides, pads, dilations):
    """Cross-correlation of NHWC ``x`` (N, H, W, C) with HWIO ``w`` (kh, kw, C, F) -> (N, Ho, Wo, F).

    ``strides = (sh, sw)``, ``pads = ((top, bottom), (left, right))``, ``dilations = (dh, dw)``.
    One big matrix product: the im2col patch matrix (N*Ho*Wo, kh*kw*C) @ w as (kh*kw*C, F).
    """
    kh, kw, c, f = w.shape
    n, (t, b), (l, r) = x.shape[0], *pads
    out_hw = _out_hw((x.shape[1] + t + b, x.shape[2] + l + r), (kh, kw), strides, dilations)
    w2 = w.reshape(kh * kw * c, f)
    out = np.empty((n, *out_hw, f), dtype=np.result_type(x, w))

    # A few images at a time (by_blocks: ~1 MB of patches per block, two threads): each block's patch
    # matrix stays in the cache while its product reads it. The same sums as one product.
    def block(rows):
        cols = im2col(pad_hw(x[rows], pads), (kh, kw), out_hw, strides, dilations)
        np.matmul(cols, w2, out=out[rows].reshape(-1, f))
    by_blocks(n, out_hw[0] * out_hw[1] * kh * kw * c * x.itemsize, block)
    return out


def conv2d_backward(dout, x, w, strides, pads, dilations):
    """Gradients of :func:`conv2d_forward`: ``dout`` (N, Ho, Wo, F) -> ``(dx, dw)`` shaped like x and w.

    - ``dw`` is the correlation of the (padded) input with ``dout``: ``im2col(x).T @ dout``.
    - ``dx`` is the transposed convolution of ``dout`` with the filter. For stride 1 it is a plain
      correlation of ``dout`` (zero-padded by ``k_eff - 1 - pad``) with the 180°-rotated filter whose
      in/out channels are swapped (kh, kw, F, C). For larger strides, each output pixel sends
      ``dout[n, i, j] @ w[a, b].T`` back to the input pixel that tap ``(a, b)`` read: one matrix
      product, then a strided scatter-add per tap.
    """
    kh, kw, c, f = w.shape
    n, ho, wo, _ = dout.shape
    w2 = w.reshape(kh * kw * c, f)
    stride_1 = tuple(strides) == (1, 1)
    if stride_1:
        (dh, dw_), ((t, b), (l, r)) = dilations, pads
        full_pads = ((kh - 1) * dh - t, (kh - 1) * dh - b), ((kw - 1) * dw_ - l, (kw - 1) * dw_ - r)
        w_rot = np.ascontiguousarray(w[::-1, ::-1].transpose(0, 1, 3, 2)).reshape(kh * kw * f, c)
    dx = np.empty(x.shape, dtype=np.result_type(dout, w) if stride_1 else dout.dtype)

    # As in conv2d_forward, a few images at a time, in larger blocks (BACKWARD_BLOCK_BYTES); dw sums the
    # blocks' partial products in block order (the same result on every run).
    def block(rows):
        xp = pad_hw(x[rows], pads)
        g = dout[rows].reshape(-1, f)
        dw = im2col(xp, (kh, kw), (ho, wo), strides, dilations).T @ g
        if stride_1:                     # dx: dout correlated with the rotated, channel-swapped filter
            cols = im2col(pad_hw(dout[rows], full_pads), (kh, kw), x.shape[1:3], (1, 1), dilations)
            np.matmul(cols, w_rot, out=dx[rows].reshape(-1, c))
            return dw
        dcols = (g @ w2.T).reshape(xp.shape[0], ho, wo, kh, kw, c)
        dxp = np.zeros(xp.shape, dtype=dout.dtype)
        for a in range(kh):
            for b in range(kw):
                tap(dxp, a, b, (ho, wo), strides, dilations)[...] += dcols[:, :, :, a, b, :]
        dx[rows] = crop_hw(dxp, pads)
        return dw
    parts = by_blocks(n, ho * wo * kh * kw * max(c, f) * x.itemsize, block, BACKWARD_BLOCK_BYTES)
    dw = parts[0]
    for part in parts[1:]:
        dw += part
    return dx, dw.reshape(w.shape)


def bias_add_forward(value, bias, axis):
    """Add the 1-D ``bias`` (C,) along ``axis`` of ``value`` (the channel axis) -> shaped like ``value``."""
    shape = [1] * value.ndim
    shape[axis] = -1
    return value + bias.reshape(shape)


def bias_add_backward(dout, axis):
    """Gradients of :func:`bias_add_forward` -> ``(dvalue, dbias)``; ``dbias`` (C,) sums every other axis."""
    kept = (dout.shape[axis],) + (1,) * (dout.ndim - 1 - axis)     # (C,) for channels last, (C, 1, 1) for NCHW
    return dout, unbroadcast(dout, kept).reshape(-1)             # channels last: one BLAS product


# ----------------------------------------------------------------------------------------------
# Primitives and public wrappers
# ----------------------------------------------------------------------------------------------
def _grouped(fn, groups, *arrays):
    """Run a kernel once per channel group: each array's last axis is cut into ``groups`` equal slices,
    slice g of every array goes to call g; the results are joined on their last axis again."""
    if groups == 1:
        return fn(*arrays)
    parts = [fn(*(a[..., g * (a.shape[-1] // groups):(g + 1) * (a.shape[-1] // groups)] for a in arrays))
             for g in range(groups)]
    if isinstance(parts[0], tuple):
        return tuple(np.concatenate(p, axis=-1) for p in zip(*parts))
    return np.concatenate(parts, axis=-1)


@primitive(n_inputs=2)
def _conv2d(x, w, strides, pads, dilations, groups):
    """Glue around the kernels: leading batch dimensions are flattened into one, a grouped convolution
    (``groups`` = input channels / the filters' in_channels) runs the kernels once per group on its
    channel slices, and an empty result (zero batch, output size or out_channels) skips them."""
    batch_shape, (h, wd, c), (kh, kw, _, f) = x.shape[:-3], x.shape[-3:], w.shape
    x4 = x.reshape(int(np.prod(batch_shape)), h, wd, c)
    (t, b), (l, r) = pads
    out_hw = _out_hw((h + t + b, wd + l + r), (kh, kw), strides, dilations)
    out_shape = (*batch_shape, *out_hw, f)
    if 0 in out_shape:
        return np.zeros(out_shape, x.dtype), lambda g: (np.zeros_like(x), np.zeros_like(w))

    def forward(xg, wg):
        return conv2d_forward(xg, wg, strides, pads, dilations)

    def vjp(g):
        def backward(gg, xg, wg):
            return conv2d_backward(gg, xg, wg, strides, pads, dilations)
        dx, dw = _grouped(backward, groups, g.reshape(x4.shape[0], *out_hw, f), x4, w)
        return dx.reshape(x.shape), dw
    return _grouped(forward, groups, x4, w).reshape(out_shape), vjp


def conv2d(input, filters, strides, padding, data_format="NHWC", dilations=None, name=None):  # noqa: A002
    """Like ``tf.nn.conv2d``: NHWC ``input`` (N, H, W, C), HWIO ``filters`` (kh, kw, C, F) -> (N, Ho, Wo, F).

    ``strides`` / ``dilations``: int, pair or ``[1, s, s, 1]``; ``padding``: 'SAME', 'VALID' or
    explicit ``[[0, 0], [top, bottom], [left, right], [0, 0]]``. As in TF, ``input`` may have more leading
    batch dimensions (``(*batch, H, W, C)``), and ``C`` may be a multiple of the filters' in_channels:
    a grouped convolution with ``groups = C / in_channels`` (F divisible by groups); group g convolves
    input channels ``[g*in, (g+1)*in)`` with output filters ``[g*F/groups, (g+1)*F/groups)``.
    """
    check_data_format(data_format, "conv2d")
    x_shape, w_shape = tuple(np.shape(input)), tuple(np.shape(filters))
    if len(x_shape) < 4:
        raise ValueError(f"conv2d input must be 4-dimensional (N, H, W, C) or more (*batch, H, W, C), "
                         f"got shape {x_shape}")
    if len(w_shape) != 4:
        raise ValueError(f"conv2d filters must be 4-dimensional (kh, kw, in_channels, out_channels), "
                         f"got shape {w_shape}")
    c, (kh, kw, c_in, f) = x_shape[-1], w_shape
    if c_in == 0:
        raise ValueError(f"conv2d: filter depth (in_channels) must be strictly positive, got filters shape "
                         f"{w_shape} (TF raises too)")
    if c % c_in or c == 0:
        raise ValueError(f"conv2d: input channels {c} (input shape {x_shape}) must match the filters' "
                         f"in_channels {c_in} (filters shape {w_shape}), or be a multiple of it for a grouped "
                         f"convolution")
    groups = c // c_in
    if f % groups:
        raise ValueError(f"conv2d: a grouped convolution with {groups} groups (input shape {x_shape}, filters "
                         f"shape {w_shape}) needs out_channels divisible by the groups: {f} vs {groups}")
    if f and 0 in (kh, kw):
        raise ValueError(f"conv2d: filter must not have zero elements (i.e. all dimensions must be non-zero), "
                         f"got filters shape {w_shape} (TF raises too)")
    strides = spatial_pair(strides, "strides")
    dilations = spatial_pair(1 if dilations is None else dilations, "dilations")
    padding = check_padding(padding)
    _, pads = output_shape_and_pads(x_shape[-4:], (kh, kw), strides, dilations, padding)
    return _conv2d(input, filters, strides=strides, pads=pads, dilations=dilations, groups=groups)


def depthwise_conv2d(input, filter, strides, padding, data_format=None, dilations=None, name=None):  # noqa: A002
    """Like ``tf.nn.depthwise_conv2d``: NHWC ``input`` (N, H, W, C), ``filter`` (kh, kw, C, M) -> (N, Ho, Wo, C*M),
    output channel ``c*M + m`` convolving input channel ``c`` with ``filter[:, :, c, m]``.

    The grouped convolution with ``groups = C`` and the filter reshaped to (kh, kw, 1, C*M). ``strides``
    must be ``[1, s, s, 1]`` with equal spatial strides, as in TF; ``dilations`` is a pair (or int).
    """
    f_shape, x_shape = tuple(np.shape(filter)), tuple(np.shape(input))
    if len(f_shape) != 4 or len(x_shape) != 4 or f_shape[2] != x_shape[3]:
        raise ValueError(f"depthwise_conv2d: input (N, H, W, C) and filter (kh, kw, C, channel_multiplier) must be "
                         f"4-D with the same C; got input shape {x_shape} and filter shape {f_shape}")
    s = [int(v) for v in np.asarray(strides).reshape(-1)]
    if len(s) != 4 or s[0] != 1 or s[3] != 1 or s[1] != s[2]:
        raise ValueError(f"depthwise_conv2d: strides must be [1, s, s, 1] (equal spatial strides, as TF requires), "
                         f"got strides={strides!r}")
    d = spatial_pair(1 if dilations is None else dilations, "dilations")
    if max(d) > 1 and s[1] > 1:
        raise ValueError(f"depthwise_conv2d: strides > 1 are not supported in conjunction with dilations > 1 "
                         f"(TF raises too); got strides={s}, dilations={d}")
    kh, kw, c, m = f_shape
    return conv2d(input, ops.reshape(filter, (kh, kw, 1, c * m)), s, padding,
                  "NHWC" if data_format is None else data_format, d)


@primitive(n_inputs=2)
def _bias_add(value, bias, axis):
    return bias_add_forward(value, bias, axis), lambda g: bias_add_backward(g, axis)


def bias_add(value, bias, data_format=None, name=None):
    """Like ``tf.nn.bias_add``: add a 1-D ``bias`` (C,) on the channel axis (last for 'N...C', 1 for 'NC...')."""
    if data_format is None or (data_format.startswith("N") and data_format.endswith("C")):
        channel_last = True
    elif data_format.startswith("NC"):
        channel_last = False
    else:
        raise ValueError(f"`data_format` must be of the form `N...C` or `NC...`. Received: data_format={data_format}")
    v_shape, b_shape = np.shape(value), np.shape(bias)
    if len(v_shape) < 2:
        raise ValueError(f"bias_add: input tensor must be at least 2-D, got shape {tuple(v_shape)}")
    if len(b_shape) != 1:
        raise ValueError(f"bias_add: biases must be 1-D, got shape {tuple(b_shape)}")
    axis = len(v_shape) - 1 if channel_last else 1
    if b_shape[0] != v_shape[axis]:
        raise ValueError(f"bias_add: must provide as many biases as the channel dimension of the input: "
                         f"bias shape {tuple(b_shape)} vs. input shape {tuple(v_shape)} (axis {axis})")
    return _bias_add(value, bias, axis=axis)
