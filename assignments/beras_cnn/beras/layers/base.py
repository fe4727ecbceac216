"""The Layer base class, shaped like Keras 3's.

A layer is built on its first call from the input shape (``build``), computes in
``call(inputs, training=None)``, and creates its weights with ``add_weight``.

    >>> layer = beras.layers.Dense(3)
    >>> y = layer(np.ones((2, 4), "float32"))     # builds: kernel (4, 3), bias (3,)
    >>> [w.shape for w in layer.get_weights()]
    [(4, 3), (3,)]

Calling a layer on a symbolic :class:`KerasTensor` (from ``beras.Input``) records a
node of a functional graph instead of computing; ``beras.Model(inputs, outputs)``
replays the graph.
"""
from __future__ import annotations

import contextlib
import threading

import numpy as np

from .. import initializers
from ..core.tensor import Tensor, Variable, _to_array, as_dtype
from ..utils import to_snake_case as _snake

_state = threading.local()
_name_counts: dict[str, int] = {}


def unique_name(base):
    n = _name_counts.get(base, 0)
    _name_counts[base] = n + 1
    return base if n == 0 else f"{base}_{n}"


@contextlib.contextmanager
def _training_scope(training):
    previous = getattr(_state, "training", None)
    _state.training = training
    try:
        yield
    finally:
        _state.training = previous


class KerasTensor:
    """A symbolic tensor of the functional API: a shape (batch first, ``None``), a dtype, and
    the layer call that produced it."""

    def __init__(self, shape, dtype="float32", layer=None, inputs=(), index=0, name=None):
        self.shape = tuple(shape)
        self.dtype = as_dtype(dtype)
        self.layer, self.inputs, self.index, self.name = layer, tuple(inputs), index, name

    @property
    def ndim(self):
        return len(self.shape)

    def __repr__(self):
        made_by = f", made by '{self.layer.name}'" if self.layer else ""
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype.name}{made_by}>"


def Input(shape, batch_size=None, dtype="float32", name=None):  # noqa: N802 - Keras's name
    """Like ``keras.Input``: the symbolic start of a functional model. ``shape`` excludes the batch."""
    return KerasTensor((batch_size, *tuple(shape)), dtype, name=name or unique_name("input_layer"))


def _is_symbolic(x):
    if isinstance(x, KerasTensor):
        return True
    if isinstance(x, (list, tuple)):
        return any(_is_symbolic(v) for v in x)
    return False


def _shape_of(x):
    if isinstance(x, (list, tuple)):
        return [_shape_of(v) for v in x]
    return tuple(x.shape)


class Layer:
    """Base class of every beras layer (and of models)."""

    def __init__(self, trainable=True, name=None, dtype=None, input_shape=None, **kwargs):
        if kwargs:
            raise TypeError(f"{type(self).__name__} got unexpected keyword arguments: {sorted(kwargs)}")
        object.__setattr__(self, "_layers", [])
        self._trainable_variables: list[Variable] = []
        self._non_trainable_variables: list[Variable] = []
        self._trainable = bool(trainable)
        self.name = name or unique_name(_snake(type(self).__name__))
        self.dtype = as_dtype(dtype) or np.dtype("float32")
        self.built = False
        self._build_shape = None
        self._input_shape_arg = None if input_shape is None else (None, *tuple(input_shape))

    # --- tracking of sub-layers ---------------------------------------------------------
    def __setattr__(self, key, value):
        if isinstance(value, Layer) and key != "_layers":
            self.__dict__.setdefault("_layers", []).append(value)
        elif isinstance(value, (list, tuple)) and value and all(isinstance(v, Layer) for v in value):
            self.__dict__.setdefault("_layers", []).extend(value)
        object.__setattr__(self, key, value)

    # --- weights -------------------------------------------------------------------------
    def add_weight(self, shape=None, initializer=None, dtype=None, trainable=True, autocast=True,
                   regularizer=None, constraint=None, aggregation="none", overwrite_with_gradient=False,
                   name=None):
        """Keras 3's ``Layer.add_weight``, same parameter order: ``shape`` (default ``()``),
        ``initializer`` (default ``"glorot_uniform"`` for float dtypes, ``"zeros"`` otherwise), ``dtype``
        (default: the layer's), ``trainable``, ..., ``name``. ``autocast`` and ``aggregation`` are
        accepted and have no effect (beras has no mixed precision and no replicas); ``regularizer``,
        ``constraint`` and ``overwrite_with_gradient`` are not supported."""
        if isinstance(shape, str):
            raise ValueError(f"`name` must be passed as a keyword argument. Received: add_weight({shape!r}, ...). "
                             f"Use: add_weight(shape=..., name={shape!r}).")
        for arg, value in (("regularizer", regularizer), ("constraint", constraint)):
            if value is not None:
                raise NotImplementedError(f"add_weight: `{arg}` is not supported by beras (got {value!r})")
        if overwrite_with_gradient:
            raise NotImplementedError("add_weight: `overwrite_with_gradient` is not supported by beras")
        dtype = as_dtype(dtype) or self.dtype
        if initializer is None:
            initializer = "glorot_uniform" if np.issubdtype(dtype, np.floating) else "zeros"
        init = initializers.get(initializer)
        value = np.asarray(init(tuple(() if shape is None else shape), dtype=dtype)).astype(dtype)
        var = Variable(value, trainable=trainable, name=f"{self.name}/{name or 'variable'}")
        (self._trainable_variables if trainable else self._non_trainable_variables).append(var)
        return var

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        self._trainable = bool(value)
        for layer in self._layers:
            layer.trainable = value

    @property
    def trainable_weights(self):
        if not self.trainable:
            return []
        own = [v for v in self._trainable_variables if v.trainable]
        return _unique(own + [w for layer in self._layers for w in layer.trainable_weights])

    @property
    def non_trainable_weights(self):
        if not self.trainable:
            return self.weights
        own = [v for v in self._trainable_variables if not v.trainable] + self._non_trainable_variables
        return _unique(own + [w for layer in self._layers for w in layer.non_trainable_weights])

    @property
    def weights(self):
        own = self._trainable_variables + self._non_trainable_variables
        return _unique(own + [w for layer in self._layers for w in layer.weights])

    variables = weights
    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights

    def get_weights(self):
        """The weights as NumPy arrays, in Keras's order."""
        return [np.array(w.numpy()) for w in self.weights]

    def set_weights(self, weights):
        """Set weights from NumPy arrays in Keras's order (``b.set_weights(k.get_weights())``)."""
        mine = self.weights
        weights = list(weights)
        if len(weights) != len(mine):
            raise ValueError(f"Layer '{self.name}' expects {len(mine)} weight arrays "
                             f"(shapes {[tuple(w.shape) for w in mine]}), got {len(weights)} "
                             f"(shapes {[tuple(np.shape(w)) for w in weights]})")
        for var, value in zip(mine, weights):
            if tuple(np.shape(value)) != tuple(var.shape):
                raise ValueError(f"Weight '{var.name}' has shape {tuple(var.shape)}; "
                                 f"got an array of shape {tuple(np.shape(value))}")
            var.assign(np.asarray(value))

    def count_params(self):
        if not self.built:
            raise ValueError(f"Layer '{self.name}' is not built yet: call it on an input first "
                             f"so its weights exist, then count its parameters.")
        return int(sum(np.prod(w.shape) for w in self.weights))

    # --- build and call ------------------------------------------------------------------
    def build(self, input_shape):
        """Create the weights from the input shape. Layers without weights need not override it."""
        self.built = True

    def call(self, inputs, training=None):
        raise NotImplementedError(f"{type(self).__name__}.call is not implemented")

    def compute_output_shape(self, input_shape):
        """Output shape for an input shape (batch axis may be None). By default: run ``call`` on zeros."""
        def concrete(s):
            return [concrete(x) for x in s] if isinstance(s, list) else tuple(1 if d is None else d for d in s)

        def zeros(s):
            return [zeros(x) for x in s] if isinstance(s, list) else Tensor(np.zeros(s, self.dtype))
        out = self.call(zeros(concrete(input_shape)), training=False)

        def shape(o):
            if isinstance(o, (list, tuple)):
                return [shape(x) for x in o]
            return (None, *tuple(o.shape[1:]))
        return shape(out)

    def _maybe_build(self, inputs):
        if not self.built:
            shape = _shape_of(inputs)
            self.build(shape)
            self._build_shape = shape
            self.built = True

    def __call__(self, inputs, training=None, **kwargs):
        if _is_symbolic(inputs):
            return self._call_symbolic(inputs, **kwargs)
        inputs = _to_tensors(inputs, self.dtype)
        self._maybe_build(inputs)
        if training is None:
            training = getattr(_state, "training", None)
        if not self.trainable:
            training = False  # Keras 3: a frozen layer runs in inference mode
        with _training_scope(training):
            return self.call(inputs, training=training, **kwargs)

    def _call_symbolic(self, inputs, **kwargs):
        self._maybe_build(inputs)
        out_shape = self.compute_output_shape(_shape_of(inputs))
        flat_inputs = inputs if isinstance(inputs, (list, tuple)) else [inputs]
        if isinstance(out_shape, list) and out_shape and isinstance(out_shape[0], (list, tuple)):
            return [KerasTensor(s, self.dtype, self, flat_inputs, i) for i, s in enumerate(out_shape)]
        return KerasTensor(out_shape, self.dtype, self, flat_inputs)

    def get_config(self):
        """The constructor arguments, as Keras's ``get_config`` (initializers serialized as
        ``{"class_name", "config", ...}``): ``type(layer).from_config(layer.get_config())`` rebuilds it."""
        return {"name": self.name, "trainable": self.trainable, "dtype": self.dtype.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


def _to_tensors(x, dtype):
    if isinstance(x, (list, tuple)):
        return [_to_tensors(v, dtype) for v in x]
    if isinstance(x, Tensor):
        return x
    arr = _to_array(x)
    if np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer):
        arr = arr.astype(dtype)  # Keras casts layer inputs to the layer's compute dtype
    return Tensor(arr)


def _unique(variables):
    seen, out = set(), []
    for v in variables:
        if id(v) not in seen:
            seen.add(id(v))
            out.append(v)
    return out
