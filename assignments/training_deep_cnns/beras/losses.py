"""Keras 3 losses: the per-sample functions and the reducing ``Loss`` classes.

Each function (``mean_squared_error``, ``categorical_crossentropy``, ...) returns one loss per
sample (the last axis is reduced), exactly like ``keras.losses.<name>``. Each class wraps its
function and reduces the per-sample losses ('sum_over_batch_size' by default: their mean)::

    loss_fn = beras.losses.CategoricalCrossentropy()        # probabilities in, scalar out
    with beras.GradientTape() as tape:
        loss = loss_fn(y_true, model(x))                     # y_true (N, C), y_pred (N, C)
    tape.gradient(loss, model.trainable_weights)

Probabilities are clipped to ``[1e-7, 1 - 1e-7]`` like Keras, and categorical cross-entropy
first rescales each row of ``y_pred`` to sum to 1. With ``from_logits=True`` the numerically
stable ``beras.nn`` cross-entropies are used instead -- and, as in Keras, also when ``y_pred``
comes straight from ``beras.activations.softmax`` / ``sigmoid`` (e.g. a Dense layer with
``activation="softmax"``): those outputs remember their logits (:func:`keep_logits`).

dtype: Keras's loss *classes* compute in ``dtype`` (default floatx, float32) whatever the input;
beras's default ``dtype=None`` computes in ``y_pred``'s float dtype so float64 stays float64
(pass ``dtype='float32'`` for Keras's casting). The functions follow ``y_pred``'s dtype in both.
"""
from __future__ import annotations

import weakref

import numpy as np

from . import nn
from .core import ops
from .core.tensor import Tensor, as_dtype, convert_to_tensor
from .utils import to_snake_case as _snake

EPSILON = 1e-7  # keras.backend.epsilon()

__all__ = [
    "Loss", "LossFunctionWrapper", "MeanSquaredError", "BinaryCrossentropy", "CategoricalCrossentropy",
    "SparseCategoricalCrossentropy", "mean_squared_error", "binary_crossentropy", "categorical_crossentropy",
    "sparse_categorical_crossentropy", "get", "keep_logits",
]


# ---------------------------------------------------------------- helpers

# Keras 3 (TF backend) tags the output of its softmax / sigmoid *activations* (keras.activations,
# so Dense(..., activation="softmax") too; not tf.nn.softmax) with the logits they came from, and
# its cross-entropies then compute from those logits: no 1e-7 clipping, and the stable formula.
_LOGITS = weakref.WeakKeyDictionary()


def keep_logits(output, logits):
    """Remember that ``output`` = softmax/sigmoid(``logits``) (what Keras's ``_keras_logits`` does)."""
    _LOGITS[output] = logits
    return output


def _get_logits(y_pred, from_logits):
    logits = _LOGITS.get(y_pred) if isinstance(y_pred, Tensor) else None
    return (y_pred, from_logits) if logits is None else (logits, True)


def _tensor(x, dtype=None):
    """A Tensor of ``dtype``; Tensors are cast differentiably (so gradients still reach them)."""
    if isinstance(x, Tensor):
        return x if dtype is None or x.dtype == as_dtype(dtype) else ops.cast(x, dtype)
    return convert_to_tensor(x, dtype)


def squeeze_or_expand_to_same_rank(x1, x2, expand_rank_1=True):
    """Keras's rule: if the ranks differ by one and the longer has a trailing 1, drop it (or expand a rank-1)."""
    r1, r2 = len(x1.shape), len(x2.shape)
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1 and expand_rank_1:
            x2 = ops.expand_dims(x2, -1)
        else:
            x1 = ops.squeeze(x1, -1)
    if r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1 and expand_rank_1:
            x1 = ops.expand_dims(x1, -1)
        else:
            x2 = ops.squeeze(x2, -1)
    return x1, x2


def _check_same_shape(name, y_true, y_pred):
    if len(y_true.shape) != len(y_pred.shape) or tuple(y_true.shape) != tuple(y_pred.shape):
        raise ValueError(f"{name}: y_true and y_pred must have the same shape. "
                         f"Received: y_true.shape={tuple(y_true.shape)}, y_pred.shape={tuple(y_pred.shape)}")


# ---------------------------------------------------------------- per-sample loss functions


def mean_squared_error(y_true, y_pred):
    """``mean(square(y_true - y_pred), axis=-1)``: shape ``y_pred.shape[:-1]``."""
    y_pred = _tensor(y_pred)
    y_true = _tensor(y_true, y_pred.dtype)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    return ops.reduce_mean(ops.square(y_true - y_pred), axis=-1)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """One-hot ``y_true`` (N, C) against probabilities (or logits) ``y_pred`` (N, C): shape (N,).

    Probabilities: each row is rescaled to sum to 1, clipped to [1e-7, 1 - 1e-7], then
    ``-sum(y_true * log(y_pred), axis)``. Logits: ``beras.nn.softmax_cross_entropy_with_logits``.
    """
    y_pred = _tensor(y_pred)
    y_true = _tensor(y_true, y_pred.dtype)
    if len(y_true.shape) < 1:
        raise ValueError(f"categorical_crossentropy: y_true and y_pred must be at least rank 1. "
                         f"Received: y_true.shape={tuple(y_true.shape)}, y_pred.shape={tuple(y_pred.shape)}")
    _check_same_shape("categorical_crossentropy", y_true, y_pred)
    if label_smoothing:
        num_classes = y_true.shape[-1]
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / num_classes
    y_pred, from_logits = _get_logits(y_pred, from_logits)
    if from_logits:
        return nn.softmax_cross_entropy_with_logits(labels=y_true, logits=y_pred, axis=axis)
    y_pred = y_pred / ops.reduce_sum(y_pred, axis=axis, keepdims=True)
    y_pred = ops.clip_by_value(y_pred, EPSILON, 1.0 - EPSILON)
    return -ops.reduce_sum(y_true * ops.log(y_pred), axis=axis)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, axis=-1):
    """Integer class ids ``y_true`` (N,) (or (N, 1)) against ``y_pred`` (N, C): shape (N,).

    Probabilities are clipped to [1e-7, 1 - 1e-7] and their log used as logits of
    ``beras.nn.sparse_softmax_cross_entropy_with_logits`` (as Keras does).
    """
    y_pred = _tensor(y_pred)
    if axis not in (-1, len(y_pred.shape) - 1):
        raise ValueError(f"Only axis=-1 is currently supported. Received: axis={axis}")
    labels = np.asarray(y_true).astype(np.int64)  # not differentiable
    if labels.ndim == len(y_pred.shape) and labels.shape[-1] == 1:
        labels = labels.squeeze(-1)
    if labels.shape != tuple(y_pred.shape[:-1]):
        raise ValueError(f"sparse_categorical_crossentropy: y_true must have the shape of y_pred without "
                         f"its last axis. Received: y_true.shape={labels.shape}, "
                         f"y_pred.shape={tuple(y_pred.shape)}")
    y_pred, from_logits = _get_logits(y_pred, from_logits)
    if not from_logits:
        y_pred = ops.log(ops.clip_by_value(y_pred, EPSILON, 1 - EPSILON))
    return nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=y_pred)


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """0/1 ``y_true`` against probabilities (or logits) of the same shape, averaged over ``axis``.

    Probabilities are clipped to [1e-7, 1 - 1e-7]; then ``-(y log p + (1 - y) log(1 - p))``.
    Logits: ``beras.nn.sigmoid_cross_entropy_with_logits``. Shape: ``y_pred.shape`` without ``axis``.
    """
    y_pred = _tensor(y_pred)
    y_true = _tensor(y_true, y_pred.dtype)
    _check_same_shape("binary_crossentropy", y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    y_pred, from_logits = _get_logits(y_pred, from_logits)
    if from_logits:
        bce = nn.sigmoid_cross_entropy_with_logits(labels=y_true, logits=y_pred)
    else:
        y_pred = ops.clip_by_value(y_pred, EPSILON, 1.0 - EPSILON)
        bce = y_true * ops.log(y_pred)
        bce = -(bce + (1 - y_true) * ops.log(1 - y_pred))
    return ops.reduce_mean(bce, axis=axis)


# ---------------------------------------------------------------- reducing Loss classes

REDUCTIONS = ("sum_over_batch_size", "sum", "none", None, "mean", "mean_with_sample_weight")


def reduce_values(values, sample_weight=None, reduction="sum_over_batch_size"):
    """Keras's reduction of per-sample losses: 'sum_over_batch_size'/'mean' = sum / number of values."""
    if reduction in (None, "none") or values.shape == () or values.shape == (0,):
        return values
    loss = ops.reduce_sum(values)
    if reduction in ("sum_over_batch_size", "mean", "mean_with_sample_weight"):
        if reduction == "mean_with_sample_weight" and sample_weight is not None:
            divisor = ops.cast(ops.reduce_sum(sample_weight), loss.dtype)
        else:
            divisor = np.asarray(int(np.prod(values.shape)), loss.dtype)
        if not np.all(np.asarray(divisor) == 0):  # divide_no_nan
            loss = loss / divisor
        else:
            loss = loss * 0
    return loss


class Loss:
    """Base class: ``loss(y_true, y_pred, sample_weight=None)`` -> reduced loss tensor.

    Subclasses implement ``call(y_true, y_pred)`` returning per-sample losses.
    """

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        if reduction not in REDUCTIONS:
            raise ValueError(f"Invalid value for argument `reduction`. Expected one of {list(REDUCTIONS)}. "
                             f"Received: reduction={reduction!r}")
        self.name = name or _snake(type(self).__name__)
        self.reduction = reduction
        self.dtype = None if dtype is None else as_dtype(dtype).name

    def __call__(self, y_true, y_pred, sample_weight=None):
        y_pred = _tensor(y_pred, self.dtype)
        dtype = y_pred.dtype if np.issubdtype(y_pred.dtype, np.floating) else np.dtype("float32")
        y_pred = _tensor(y_pred, dtype)
        y_true = _tensor(y_true, dtype)
        values = self.call(y_true, y_pred)
        if sample_weight is not None:
            sample_weight = _tensor(sample_weight, values.dtype)
            values, sample_weight = squeeze_or_expand_to_same_rank(values, sample_weight)
            values = values * sample_weight
        return reduce_values(values, sample_weight, self.reduction)

    def call(self, y_true, y_pred):
        raise NotImplementedError

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}

    def __repr__(self):
        return f"<beras.losses.{type(self).__name__} name={self.name!r} reduction={self.reduction!r}>"


class LossFunctionWrapper(Loss):
    """Turns a per-sample function ``fn(y_true, y_pred, **kwargs)`` into a reducing Loss."""

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, dtype=None, **kwargs):
        super().__init__(name=name or getattr(fn, "__name__", None), reduction=reduction, dtype=dtype)
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true, y_pred):
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        return self.fn(y_true, y_pred, **self._fn_kwargs)


class MeanSquaredError(LossFunctionWrapper):
    """Mean of ``square(y_true - y_pred)`` (last axis, then the batch)."""

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, reduction=reduction, name=name, dtype=dtype)


class BinaryCrossentropy(LossFunctionWrapper):
    """Binary cross-entropy on probabilities (``from_logits=False``) or logits."""

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size",
                 name="binary_crossentropy", dtype=None):
        super().__init__(binary_crossentropy, reduction=reduction, name=name, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)
        self.from_logits, self.label_smoothing, self.axis = from_logits, label_smoothing, axis


class CategoricalCrossentropy(LossFunctionWrapper):
    """Cross-entropy between one-hot labels (N, C) and probabilities or logits (N, C)."""

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size",
                 name="categorical_crossentropy", dtype=None):
        super().__init__(categorical_crossentropy, reduction=reduction, name=name, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)
        self.from_logits, self.label_smoothing, self.axis = from_logits, label_smoothing, axis


class SparseCategoricalCrossentropy(LossFunctionWrapper):
    """Cross-entropy between integer labels (N,) and probabilities or logits (N, C)."""

    def __init__(self, from_logits=False, reduction="sum_over_batch_size", axis=-1,
                 name="sparse_categorical_crossentropy", dtype=None):
        super().__init__(sparse_categorical_crossentropy, reduction=reduction, name=name, dtype=dtype,
                         from_logits=from_logits, axis=axis)
        self.from_logits, self.axis = from_logits, axis


# ---------------------------------------------------------------- lookup

_CLASSES = {
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError, "MSE": MeanSquaredError,
    "binary_crossentropy": BinaryCrossentropy, "bce": BinaryCrossentropy, "BCE": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
}
_CLASSES.update({cls.__name__: cls for cls in set(_CLASSES.values())})


def get(identifier):
    """A Loss object from a name ('mse', 'categorical_crossentropy', 'CategoricalCrossentropy', ...),
    a Loss class, a Loss instance, or a per-sample function (wrapped in :class:`LossFunctionWrapper`).

    Unlike ``keras.losses.get`` (which returns the bare per-sample function for names like 'mse'),
    this always returns a reducing Loss, which is what ``Model.compile`` needs; the per-sample
    functions are ``beras.losses.mean_squared_error`` etc. ``None`` gives ``None``.
    """
    if identifier is None or isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        if identifier not in _CLASSES:
            raise ValueError(f"Unknown loss {identifier!r}. Valid names: {sorted(_CLASSES)}")
        return _CLASSES[identifier]()
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if callable(identifier):
        return LossFunctionWrapper(identifier)
    raise ValueError(f"Could not interpret loss identifier: {identifier!r}. "
                     f"Use a Loss, a function, or one of {sorted(_CLASSES)}")
