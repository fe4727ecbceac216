"""Every differentiable math and array op, with TensorFlow's names and arguments.

Each op is one :func:`primitive`: the forward value and the VJP side by side. The
VJP receives the upstream gradient ``g`` (shaped like the output) and returns one
gradient per tensor input; broadcasting is undone centrally by the tape.
"""
from __future__ import annotations

import numpy as np

from .tensor import Tensor, _cast_like, _to_array, as_dtype, primitive

# ---------------------------------------------------------------- elementwise arithmetic


@primitive
def add(x, y):
    return x + y, lambda g: (g, g)


@primitive
def subtract(x, y):
    return x - y, lambda g: (g, -g)


@primitive
def multiply(x, y):
    return x * y, lambda g: (g * y, g * x)


@primitive
def divide(x, y):
    return x / y, lambda g: (g / y, -g * x / (y * y))


@primitive
def pow(x, y):  # noqa: A001 - TF's name
    out = np.power(x, y)

    def vjp(g):
        gx = g * y * np.power(x, y - 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            gy = np.where(x > 0, g * out * np.log(np.where(x > 0, x, 1)), 0)
        return gx, gy
    return out, vjp


@primitive
def negative(x):
    return -x, lambda g: (-g,)


@primitive
def exp(x):
    out = np.exp(x)
    return out, lambda g: (g * out,)


@primitive
def log(x):
    return np.log(x), lambda g: (g / x,)


@primitive
def sqrt(x):
    out = np.sqrt(x)
    return out, lambda g: (g / (2 * out),)


@primitive
def square(x):
    return x * x, lambda g: (2 * g * x,)


@primitive
def abs(x):  # noqa: A001 - TF's name
    return np.abs(x), lambda g: (g * np.sign(x),)


@primitive
def tanh(x):
    out = np.tanh(x)
    return out, lambda g: (g * (1 - out * out),)


@primitive
def sigmoid(x):
    out = _sigmoid(x)
    return out, lambda g: (g * out * (1 - out),)


def _sigmoid(x):
    # exp of a non-positive number only: no overflow warnings for large |x|
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


@primitive
def maximum(x, y):
    # TF routes the gradient of a tie to x
    mask = x >= y
    return np.maximum(x, y), lambda g: (g * mask, g * ~mask)


@primitive
def minimum(x, y):
    mask = x <= y
    return np.minimum(x, y), lambda g: (g * mask, g * ~mask)


@primitive(n_inputs=2)
def _where(x, y, condition):
    return np.where(condition, x, y), lambda g: (np.where(condition, g, 0), np.where(condition, 0, g))


def where(condition, x=None, y=None):
    """Like ``tf.where``: elementwise choice; with only ``condition``, the indices of True entries."""
    cond = np.asarray(_to_array(condition), dtype=bool)
    if x is None and y is None:
        return Tensor(np.argwhere(cond).astype(np.int64))
    if x is None or y is None:
        raise ValueError("where() needs both x and y, or neither")
    return _where(x, y, cond)


@primitive(n_inputs=1)
def clip_by_value(t, clip_value_min, clip_value_max):
    lo, hi = _to_array(clip_value_min, t.dtype), _to_array(clip_value_max, t.dtype)
    inside = (t >= lo) & (t <= hi)
    return np.clip(t, lo, hi), lambda g: (g * inside,)


# ---------------------------------------------------------------- reductions


def _axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    axis = np.asarray(_to_array(axis)).reshape(-1).tolist()
    for a in axis:
        if not -ndim <= a < max(ndim, 1):
            raise ValueError(f"axis {a} is out of range for a tensor of rank {ndim}")
    return tuple(a % max(ndim, 1) for a in axis)


def _expand(g, axes, keepdims):
    return g if keepdims else np.expand_dims(g, axes)


@primitive(n_inputs=1)
def reduce_sum(input_tensor, axis=None, keepdims=False):
    axes = _axes(axis, input_tensor.ndim)
    out = np.sum(input_tensor, axis=axes, keepdims=keepdims)
    return out, lambda g: (np.broadcast_to(_expand(g, axes, keepdims), input_tensor.shape),)


@primitive(n_inputs=1)
def reduce_mean(input_tensor, axis=None, keepdims=False):
    axes = _axes(axis, input_tensor.ndim)
    out = np.mean(input_tensor, axis=axes, keepdims=keepdims)
    count = int(np.prod([input_tensor.shape[a] for a in axes]))
    return out.astype(input_tensor.dtype, copy=False), lambda g: (
        np.broadcast_to(_expand(g, axes, keepdims) / count, input_tensor.shape),)


@primitive(n_inputs=1)
def reduce_max(input_tensor, axis=None, keepdims=False):
    axes = _axes(axis, input_tensor.ndim)
    out = np.max(input_tensor, axis=axes, keepdims=True)
    # TF splits the gradient evenly between tied maxima
    mask = input_tensor == out
    share = mask / mask.sum(axis=axes, keepdims=True)
    return (out if keepdims else np.squeeze(out, axes)), lambda g: (_expand(g, axes, keepdims) * share,)


@primitive(n_inputs=1)
def reduce_min(input_tensor, axis=None, keepdims=False):
    axes = _axes(axis, input_tensor.ndim)
    out = np.min(input_tensor, axis=axes, keepdims=True)
    mask = input_tensor == out
    share = mask / mask.sum(axis=axes, keepdims=True)
    return (out if keepdims else np.squeeze(out, axes)), lambda g: (_expand(g, axes, keepdims) * share,)


def argmax(input, axis=None, output_type="int64"):  # noqa: A002 - TF's name
    """Like ``tf.argmax`` (axis defaults to 0, as in TF). Not differentiable."""
    return Tensor(np.argmax(_to_array(input), axis=0 if axis is None else axis).astype(as_dtype(output_type)))


# ---------------------------------------------------------------- linear algebra and shapes


@primitive
def matmul(a, b):
    if a.ndim < 2 or b.ndim < 2:
        raise ValueError(f"matmul needs tensors of rank >= 2, got shapes {a.shape} and {b.shape}")
    if a.shape[-1] != b.shape[-2]:
        raise ValueError(
            f"Matrix size-incompatible: In[0]: {list(a.shape)}, In[1]: {list(b.shape)} "
            f"(inner dimensions {a.shape[-1]} and {b.shape[-2]} differ)")
    return a @ b, lambda g: (g @ np.swapaxes(b, -1, -2), np.swapaxes(a, -1, -2) @ g)


@primitive(n_inputs=1)
def reshape(tensor, shape):
    shape = tuple(int(s) for s in np.asarray(_to_array(shape)).reshape(-1))
    try:
        out = tensor.reshape(shape)
    except ValueError:
        raise ValueError(f"Cannot reshape a tensor with {tensor.size} elements (shape {tensor.shape}) "
                         f"to shape {list(shape)}") from None
    return out, lambda g: (g.reshape(tensor.shape),)


@primitive(n_inputs=1)
def transpose(a, perm=None):
    perm = tuple(range(a.ndim))[::-1] if perm is None else tuple(int(p) for p in perm)
    inverse = np.argsort(perm)
    return np.transpose(a, perm), lambda g: (np.transpose(g, inverse),)


@primitive(n_inputs=1)
def expand_dims(input, axis):  # noqa: A002
    return np.expand_dims(input, axis), lambda g: (g.reshape(input.shape),)


@primitive(n_inputs=1)
def squeeze(input, axis=None):  # noqa: A002
    return np.squeeze(input, axis), lambda g: (g.reshape(input.shape),)


@primitive(n_inputs=1)
def _getitem(x, key):
    def vjp(g):
        out = np.zeros_like(x, dtype=g.dtype)
        np.add.at(out, key, g)
        return (out,)
    return x[key], vjp


@primitive
def _concat(*values, axis):
    ends = np.cumsum([v.shape[axis] for v in values])[:-1]
    return np.concatenate(values, axis=axis), lambda g: tuple(np.split(g, ends, axis=axis))


def concat(values, axis):
    """Like ``tf.concat``."""
    values = list(values)
    ranks = {np.ndim(v) for v in values}
    if len(ranks) != 1:
        raise ValueError(f"concat: all inputs need the same rank, got shapes {[np.shape(v) for v in values]}")
    axis = axis % ranks.pop()
    shapes = [tuple(np.shape(v)) for v in values]
    if len({s[:axis] + s[axis + 1:] for s in shapes}) != 1:
        raise ValueError(f"concat: shapes {shapes} differ outside axis {axis}")
    return _concat(*values, axis=axis)


@primitive
def _stack(*values, axis):
    return np.stack(values, axis=axis), lambda g: tuple(np.moveaxis(g, axis, 0))


def stack(values, axis=0):
    """Like ``tf.stack``."""
    shapes = {tuple(np.shape(v)) for v in values}
    if len(shapes) != 1:
        raise ValueError(f"stack: all inputs need the same shape, got {[np.shape(v) for v in values]}")
    return _stack(*values, axis=axis)


@primitive(n_inputs=1)
def _cast(x, dtype):
    differentiable = np.issubdtype(x.dtype, np.floating) and np.issubdtype(dtype, np.floating)
    return x.astype(dtype), lambda g: (g.astype(x.dtype) if differentiable else None,)


def cast(x, dtype):
    """Like ``tf.cast``. Gradients flow between float types only."""
    return _cast(x, as_dtype(dtype))


def one_hot(indices, depth, on_value=1.0, off_value=0.0, axis=-1, dtype="float32"):
    """Like ``tf.one_hot`` (out-of-range indices give an all-off row). Not differentiable."""
    idx = np.asarray(_to_array(indices)).astype(np.int64)
    out = (idx[..., None] == np.arange(depth)).astype(as_dtype(dtype))
    out = out * (on_value - off_value) + off_value
    return Tensor(np.moveaxis(out, -1, axis).astype(as_dtype(dtype)))


def zeros(shape, dtype="float32"):
    return Tensor(np.zeros(shape, as_dtype(dtype)))


def ones(shape, dtype="float32"):
    return Tensor(np.ones(shape, as_dtype(dtype)))


def zeros_like(x, dtype=None):
    return Tensor(np.zeros_like(_to_array(x), dtype=as_dtype(dtype)))


def ones_like(x, dtype=None):
    return Tensor(np.ones_like(_to_array(x), dtype=as_dtype(dtype)))


def shape(x):
    return Tensor(np.asarray(np.shape(_to_array(x)), dtype=np.int32))


def equal(x, y):
    return Tensor(np.equal(_to_array(x), _to_array(y)))


# ---------------------------------------------------------------- operators on Tensor


def _attach_operators():
    T = Tensor
    T.__add__ = lambda a, b: add(a, b)
    T.__radd__ = lambda a, b: add(b, a)
    T.__sub__ = lambda a, b: subtract(a, b)
    T.__rsub__ = lambda a, b: subtract(b, a)
    T.__mul__ = lambda a, b: multiply(a, b)
    T.__rmul__ = lambda a, b: multiply(b, a)
    T.__truediv__ = lambda a, b: divide(a, b)
    T.__rtruediv__ = lambda a, b: divide(b, a)
    T.__pow__ = lambda a, b: pow(a, b)
    T.__rpow__ = lambda a, b: pow(b, a)
    T.__matmul__ = lambda a, b: matmul(a, b)
    T.__rmatmul__ = lambda a, b: matmul(b, a)
    T.__neg__ = lambda a: negative(a)
    T.__abs__ = lambda a: abs(a)
    T.__getitem__ = lambda a, key: _getitem(a, key._value if isinstance(key, Tensor) else key)
    T.__lt__ = lambda a, b: Tensor(a._value < _cast_like(b, a.dtype))
    T.__le__ = lambda a, b: Tensor(a._value <= _cast_like(b, a.dtype))
    T.__gt__ = lambda a, b: Tensor(a._value > _cast_like(b, a.dtype))
    T.__ge__ = lambda a, b: Tensor(a._value >= _cast_like(b, a.dtype))
    T.T = property(lambda a: transpose(a))


_attach_operators()
