"""Tensors, variables and the tape: the whole of beras's reverse-mode autodiff.

A :class:`Tensor` wraps a NumPy array. Every differentiable op is a *primitive*
(see :func:`primitive`): a function that returns its forward value together with
its vector-Jacobian product (VJP). When a :class:`GradientTape` is recording and
an op touches something the tape watches, the tape keeps ``(inputs, output, vjp)``;
``tape.gradient`` replays those records backwards. Broadcasting is undone once,
here (:func:`unbroadcast`), never inside an op.

    >>> x = beras.Variable([1.0, 2.0])
    >>> with beras.GradientTape() as tape:
    ...     y = beras.reduce_sum(x * x)
    >>> tape.gradient(y, x).numpy()
    array([2., 4.], dtype=float32)
"""
from __future__ import annotations

import functools
import itertools
import math

import numpy as np

__all__ = [
    "Tensor", "Variable", "GradientTape", "constant", "convert_to_tensor",
    "primitive", "unbroadcast", "as_dtype",
]

_FLOATS = (np.float16, np.float32, np.float64)
_DTYPE_NAMES = {
    "float16": np.float16, "half": np.float16, "float32": np.float32, "float": np.float32,
    "float64": np.float64, "double": np.float64, "int8": np.int8, "int16": np.int16,
    "int32": np.int32, "int64": np.int64, "uint8": np.uint8, "bool": np.bool_,
}


def as_dtype(dtype):
    """Normalise a dtype given as a string, a NumPy dtype, or a TF dtype (anything with `.name`)."""
    if dtype is None:
        return None
    name = getattr(dtype, "name", dtype)
    if isinstance(name, str):
        if name not in _DTYPE_NAMES:
            raise ValueError(f"Unknown dtype {dtype!r}. Valid dtypes: {sorted(_DTYPE_NAMES)}")
        return np.dtype(_DTYPE_NAMES[name])
    return np.dtype(dtype)


def _to_array(value, dtype=None):
    """TF's conversion rules: Python floats -> float32, Python ints -> int32, NumPy keeps its dtype."""
    if isinstance(value, Tensor):
        arr = value._value
    elif isinstance(value, np.ndarray) or np.isscalar(value) and isinstance(value, np.generic):
        arr = np.asarray(value)
    else:
        arr = np.asarray(value)
        if dtype is not None:  # Python numbers go straight to the requested dtype (0.1 stays exact in float64)
            return arr.astype(as_dtype(dtype))
        if arr.dtype == np.float64:
            arr = arr.astype(np.float32)
        elif arr.dtype == np.int64:
            arr = arr.astype(np.int32)
    if dtype is not None:
        arr = arr.astype(as_dtype(dtype), copy=False)
    return arr


# ----------------------------------------------------------------------------------------------
# Tensor and Variable
# ----------------------------------------------------------------------------------------------
class Tensor:
    """An immutable NumPy-backed value, like an eager ``tf.Tensor``."""

    __array_priority__ = 1000  # make `ndarray + Tensor` call Tensor.__radd__
    __slots__ = ("_value", "__weakref__")

    def __init__(self, value, dtype=None):
        self._value = _to_array(value, dtype)

    # --- NumPy interop -------------------------------------------------------------------
    def numpy(self):
        return self._value

    def __array__(self, dtype=None, copy=None):
        return self._value if dtype is None else self._value.astype(dtype)

    @property
    def shape(self):
        return self._value.shape

    @property
    def dtype(self):
        return self._value.dtype

    @property
    def ndim(self):
        return self._value.ndim

    def __len__(self):
        return len(self._value)

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __float__(self):
        return float(self._value)

    def __int__(self):
        return int(self._value)

    def __bool__(self):
        return bool(self._value)

    def __index__(self):
        return int(self._value)

    def __repr__(self):
        return f"<beras.Tensor: shape={self.shape}, dtype={self.dtype.name}, numpy=\n{self._value!r}>"

    __hash__ = object.__hash__

    # Operator overloads are attached in beras.core.ops (one place for every op).


class Variable(Tensor):
    """A mutable tensor, like ``tf.Variable``. Trainable variables are watched by tapes."""

    __slots__ = ("trainable", "name")
    _ids = itertools.count()

    def __init__(self, initial_value, trainable=True, name=None, dtype=None):
        if callable(initial_value):
            initial_value = initial_value()
        super().__init__(initial_value, dtype)
        self._value = np.array(self._value)  # own a writable copy
        self.trainable = bool(trainable)
        self.name = name or f"Variable:{next(Variable._ids)}"

    def _check(self, value):
        arr = _to_array(value, self.dtype)
        if arr.shape != self.shape:
            raise ValueError(
                f"Cannot assign a value of shape {arr.shape} to variable '{self.name}' of shape {self.shape}")
        return arr

    def assign(self, value):
        self._value = np.array(self._check(value))
        return self

    def assign_add(self, delta):
        self._value = self._value + self._check(delta)
        return self

    def assign_sub(self, delta):
        self._value = self._value - self._check(delta)
        return self

    @property
    def value(self):
        return Tensor(self._value)

    def __repr__(self):
        return (f"<beras.Variable '{self.name}' shape={self.shape} dtype={self.dtype.name}, "
                f"numpy=\n{self._value!r}>")


def constant(value, dtype=None, shape=None):
    """Like ``tf.constant``."""
    arr = _to_array(value, dtype)
    if shape is not None:
        arr = np.broadcast_to(arr, shape).copy() if arr.size == 1 else arr.reshape(shape)
    return Tensor(arr)


def convert_to_tensor(value, dtype=None):
    """Like ``tf.convert_to_tensor``: Tensors pass through, everything else becomes a Tensor."""
    if isinstance(value, Tensor) and (dtype is None or value.dtype == as_dtype(dtype)):
        return value
    return Tensor(value, dtype)


# ----------------------------------------------------------------------------------------------
# The tape
# ----------------------------------------------------------------------------------------------
_active_tapes: list["GradientTape"] = []


class GradientTape:
    """Records ops for reverse-mode differentiation, like ``tf.GradientTape``.

    Trainable Variables are watched automatically (``watch_accessed_variables=True``);
    other tensors with :meth:`watch`. ``gradient`` of a non-scalar target is the gradient
    of its sum; a source the target does not depend on gets ``None``.
    """

    def __init__(self, persistent=False, watch_accessed_variables=True):
        self._persistent = persistent
        self._watch_vars = watch_accessed_variables
        self._watched = set()   # ids of tensors the tape follows
        self._keep = []         # keeps watched tensors alive so their ids stay unique
        self._records = []      # (inputs, output, vjp) in execution order
        self._used = False
        self._recording = False

    def __enter__(self):
        self._recording = True
        _active_tapes.append(self)
        return self

    def __exit__(self, *exc):
        self._recording = False
        _active_tapes.remove(self)
        return False

    def watch(self, tensor):
        for t in _flatten(tensor):
            if not isinstance(t, Tensor):
                raise TypeError(f"GradientTape.watch expects Tensors or Variables, got {type(t).__name__}")
            self._watched.add(id(t))
            self._keep.append(t)

    def watched_variables(self):
        return list({id(t): t for t in self._keep if isinstance(t, Variable)}.values())

    def _follows(self, t):
        if id(t) in self._watched:
            return True
        if self._watch_vars and isinstance(t, Variable) and t.trainable:
            self.watch(t)
            return True
        return False

    def _record(self, inputs, output, vjp):
        self._records.append((inputs, output, vjp))
        self._watched.add(id(output))
        self._keep.append(output)

    def gradient(self, target, sources, output_gradients=None, unconnected_gradients="none"):
        if self._used and not self._persistent:
            raise RuntimeError(
                "A non-persistent GradientTape can only be used to compute one set of gradients "
                "(or jacobians). Use GradientTape(persistent=True) to call gradient() several times.")
        if unconnected_gradients not in ("none", "zero"):
            raise ValueError(f"Unknown unconnected_gradients {unconnected_gradients!r}; valid: 'none', 'zero'")
        self._used = True
        targets = _flatten(target)
        seeds = _flatten(output_gradients) if output_gradients is not None else [None] * len(targets)
        grads: dict[int, np.ndarray] = {}
        for t, s in zip(targets, seeds):
            if not isinstance(t, Tensor):
                raise TypeError(f"gradient() target must be a Tensor, got {type(t).__name__}")
            seed = np.ones_like(t._value) if s is None else _to_array(s, t.dtype)
            _accumulate(grads, t, seed)
        for inputs, output, vjp in reversed(self._records):
            g = grads.get(id(output))
            if g is None:
                continue
            for x, gx in zip(inputs, vjp(g)):
                if gx is not None and isinstance(x, Tensor) and id(x) in self._watched:
                    _accumulate(grads, x, unbroadcast(gx, x.shape).astype(x.dtype, copy=False))
        if not self._persistent:  # free the recorded graph; remember which variables were watched
            self._records, self._keep = [], self.watched_variables()

        def lookup(src):
            if not isinstance(src, Tensor):
                raise TypeError(f"gradient() sources must be Tensors or Variables, got {type(src).__name__}")
            g = grads.get(id(src))
            if g is None:
                return None if unconnected_gradients == "none" else Tensor(np.zeros_like(src._value))
            return Tensor(g)

        return _map_structure(lookup, sources)


def _accumulate(grads, x, g):
    key = id(x)
    grads[key] = g if key not in grads else grads[key] + g


def _flatten(structure):
    if isinstance(structure, (list, tuple)):
        return [leaf for item in structure for leaf in _flatten(item)]
    if isinstance(structure, dict):
        return [leaf for k in structure for leaf in _flatten(structure[k])]
    return [structure]


def _map_structure(fn, structure):
    if isinstance(structure, (list, tuple)):
        return type(structure)(_map_structure(fn, s) for s in structure)
    if isinstance(structure, dict):
        return {k: _map_structure(fn, v) for k, v in structure.items()}
    return fn(structure)


# ----------------------------------------------------------------------------------------------
# Primitives: one definition per op, forward and VJP side by side
# ----------------------------------------------------------------------------------------------
def unbroadcast(grad, shape):
    """Sum ``grad`` down to ``shape``, undoing NumPy broadcasting (the one place this happens)."""
    grad = np.asarray(grad)
    if grad.shape == tuple(shape):
        return grad
    extra = grad.ndim - len(shape)
    summed = (*range(extra), *(extra + i for i, n in enumerate(shape) if n == 1 and grad.shape[extra + i] != 1))
    if summed == tuple(range(len(summed))) and grad.dtype in _BLAS_DTYPES and grad.flags.c_contiguous:
        # the common case, a bias or a per-channel statistic (every leading axis summed, e.g. NHWC -> C),
        # as one BLAS product with a ones vector: NumPy's reduction over many short rows is ~8x slower
        # (both sizes spelled out: with an empty batch, rows == 0 and reshape could not infer the other)
        rows, cols = math.prod(grad.shape[:len(summed)]), math.prod(grad.shape[len(summed):])
        return (_ones(rows, grad.dtype) @ grad.reshape(rows, cols)).reshape(shape)
    return grad.sum(axis=summed).reshape(shape)


_BLAS_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_ONES = {}


def _ones(n, dtype):
    """A read-only vector of ``n`` ones (kept per dtype, grown as needed)."""
    ones = _ONES.get(dtype)
    if ones is None or ones.shape[0] < n:
        ones = np.ones(max(n, 1024), dtype)
        ones.flags.writeable = False
        _ONES[dtype] = ones
    return ones[:n]


def _common_dtype(args):
    """The dtype that Python numbers and NumPy arrays take when combined with beras Tensors."""
    for a in args:
        if isinstance(a, Tensor):
            return a.dtype
    return None


def primitive(fn=None, *, n_inputs=None):
    """Turn ``fn(*arrays, **options) -> (value, vjp)`` into a differentiable op on Tensors.

    The first ``n_inputs`` positional arguments (all of them by default) are tensor inputs;
    ``vjp(g)`` returns one gradient (or None) per tensor input, in the inputs' broadcast shape.
    Python numbers and NumPy arrays mixed with Tensors take the Tensor's dtype, as in TF.
    """
    if fn is None:
        return functools.partial(primitive, n_inputs=n_inputs)

    @functools.wraps(fn)
    def op(*args, **kwargs):
        n = len(args) if n_inputs is None else n_inputs
        tensor_args, rest = args[:n], args[n:]
        dtype = _common_dtype(tensor_args)
        inputs = [a if isinstance(a, Tensor) else Tensor(_cast_like(a, dtype)) for a in tensor_args]
        value, vjp = fn(*(t._value for t in inputs), *rest, **kwargs)
        out = Tensor.__new__(Tensor)
        out._value = np.asarray(value)
        for tape in _active_tapes:
            if tape._recording and any([tape._follows(t) for t in inputs]):
                tape._record(inputs, out, vjp)
        return out

    op.primitive = fn
    return op


def _cast_like(value, dtype):
    if dtype is not None and not isinstance(value, (Tensor, np.ndarray, np.generic)):
        # like TF, Python numbers convert straight to the tensor's dtype (0.1 stays exact in float64)
        arr = np.asarray(value)
        return arr if arr.dtype == dtype else arr.astype(dtype)
    arr = _to_array(value)
    return arr if dtype is None or arr.dtype == dtype else arr.astype(dtype)
