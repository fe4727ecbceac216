"""Keras 3 metrics: per-sample accuracy functions and stateful metric objects.

The functions return one value per sample (1.0 for a hit, 0.0 for a miss, float32 like Keras)::

    beras.metrics.categorical_accuracy(y_true, y_pred)   # (N, C) one-hot vs (N, C) scores -> (N,)
    beras.metrics.sparse_top_k_categorical_accuracy(labels, scores, k=5)   # label among the 5 best? -> (N,)

The classes accumulate a running mean over batches::

    acc = beras.metrics.SparseCategoricalAccuracy()
    acc.update_state(labels, scores)      # once per batch
    acc.result()                          # mean so far (a float32 Tensor)
    acc.reset_state()                     # start a new epoch
"""
from __future__ import annotations

import numpy as np

from .core.tensor import Tensor, as_dtype

__all__ = [
    "accuracy", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
    "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy", "in_top_k",
    "Metric", "Mean", "MeanMetricWrapper", "Accuracy", "BinaryAccuracy", "CategoricalAccuracy",
    "SparseCategoricalAccuracy", "TopKCategoricalAccuracy", "SparseTopKCategoricalAccuracy", "get", "get_metric",
]

FLOATX = np.float32  # keras.backend.floatx()


def _array(x, dtype=None):
    arr = np.asarray(x)
    if not isinstance(x, (np.ndarray, Tensor, np.generic)):
        # Python lists/numbers follow TF's conversion (floats -> float32, ints -> int32)
        arr = np.asarray(Tensor(x))
    return arr if dtype is None else arr.astype(dtype)


def _same_rank(a, b):
    """keras.losses.loss.squeeze_or_expand_to_same_rank, on NumPy arrays."""
    if a.ndim == b.ndim + 1 and a.shape[-1] == 1:
        if b.ndim == 1:
            b = b[..., None]
        else:
            a = a.squeeze(-1)
    if b.ndim == a.ndim + 1 and b.shape[-1] == 1:
        if a.ndim == 1:
            a = a[..., None]
        else:
            b = b.squeeze(-1)
    return a, b


# ---------------------------------------------------------------- per-sample functions (not differentiable)


def accuracy(y_true, y_pred):
    """1.0 where ``y_true == y_pred`` exactly (elementwise), else 0.0."""
    y_pred = _array(y_pred)
    y_true, y_pred = _same_rank(_array(y_true, y_pred.dtype), y_pred)
    return Tensor(np.equal(y_true, y_pred).astype(FLOATX))


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """1.0 where ``(y_pred > threshold) == y_true``. Shape: like ``y_pred`` (Keras does not average)."""
    y_pred, y_true = _array(y_pred), _array(y_true)
    y_true, y_pred = _same_rank(y_true, y_pred)
    y_pred = (y_pred > threshold).astype(y_true.dtype)
    return Tensor(np.equal(y_true, y_pred).astype(FLOATX))


def categorical_accuracy(y_true, y_pred):
    """1.0 where ``argmax(y_true, -1) == argmax(y_pred, -1)``: one-hot (N, C) vs scores (N, C) -> (N,)."""
    y_pred = _array(y_pred)
    y_true = np.argmax(_array(y_true), axis=-1).astype(y_pred.dtype)
    shape, reshape = y_true.shape, False
    if y_true.ndim == y_pred.ndim:
        y_true, reshape = y_true.squeeze(-1), True
    matches = np.equal(y_true, np.argmax(y_pred, axis=-1).astype(y_true.dtype)).astype(FLOATX)
    return Tensor(matches.reshape(shape) if reshape else matches)


def sparse_categorical_accuracy(y_true, y_pred):
    """1.0 where ``y_true == argmax(y_pred, -1)``: labels (N,) or (N, 1) vs scores (N, C) -> (N,)."""
    y_pred = _array(y_pred)
    y_true = _array(y_true, y_pred.dtype)
    shape, reshape = y_true.shape, False
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true, reshape = y_true.squeeze(-1), True
    matches = np.equal(y_true, np.argmax(y_pred, axis=-1).astype(y_true.dtype)).astype(FLOATX)
    if reshape:
        matches = matches.reshape(shape)
    if matches.ndim > 1 and matches.shape[-1] == 1:
        matches = matches.squeeze(-1)
    return Tensor(matches)


def in_top_k(targets, predictions, k):
    """Like ``tf.math.in_top_k``: True where ``predictions[i, targets[i]]`` is among the ``k`` largest of row i.

    Ties, as the installed TF (2.21) computes it: a target is in the top k when *fewer than k* classes score
    strictly higher than it, so every class tied with the k-th best counts as in the top k (with scores
    [0.5, 0.2, 0.2, 0.1], classes 1 and 2 are both in the top 2; with [0.3, 0.3, 0.3], every class is "top 1").
    A row is False for every target if any of its scores is NaN or infinite, and so is a target outside
    [0, C); k <= 0 gives False. Unlike TF (float32 only), any float dtype is accepted.
    ``targets`` (N,) integers, ``predictions`` (N, C) -> (N,) bool.
    """
    targets, predictions = np.asarray(targets), np.asarray(predictions)
    if predictions.ndim != 2 or targets.shape != predictions.shape[:1]:
        raise ValueError(f"in_top_k: expected predictions of shape (N, C) and targets of shape (N,); got "
                         f"predictions {predictions.shape} and targets {targets.shape}")
    n, c = predictions.shape
    valid = (targets >= 0) & (targets < c)
    target_scores = predictions[np.arange(n), np.where(valid, targets, 0)]
    with np.errstate(invalid="ignore"):
        higher = np.count_nonzero(predictions > target_scores[:, None], axis=1)
    return valid & np.isfinite(predictions).all(axis=1) & (higher < k)


def _top_k_matches(labels, y_pred, k, from_sorted_ids=False):
    """Keras's shared body of the top-k accuracies: ``y_pred`` flattened to (-1, C), ``labels`` to (-1,);
    the 0/1 result takes the labels' shape."""
    shape = labels.shape
    if y_pred.ndim > 2:
        y_pred = y_pred.reshape(-1, y_pred.shape[-1])
    if y_pred.ndim != 2 or labels.size != y_pred.shape[0]:
        raise ValueError(f"top-k accuracy: y_pred must have one row of scores per label; got labels of shape "
                         f"{shape} and y_pred of shape {y_pred.shape}")
    labels = labels.reshape(-1)
    if from_sorted_ids:    # y_pred holds class ids, best first: is the label among the first k?
        matches = np.any(labels[:, None] == y_pred[:, :max(k, 0)], axis=1)
    else:
        matches = in_top_k(labels, y_pred, k)
    return Tensor(matches.astype(FLOATX).reshape(shape))


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    """1.0 where the class of one-hot ``y_true`` (its argmax) is among the ``k`` best scores of ``y_pred``:
    (N, C) vs (N, C) -> (N,). Ties and non-finite scores: :func:`in_top_k` (a class tied with the k-th best
    counts as a hit)."""
    y_pred = _array(y_pred)
    return _top_k_matches(np.argmax(_array(y_true, y_pred.dtype), axis=-1), y_pred, k)


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5, from_sorted_ids=False):
    """1.0 where the integer label ``y_true`` is among the ``k`` best scores of ``y_pred``: labels (N,) or
    (N, 1) vs scores (N, C) -> the labels' shape. With ``from_sorted_ids=True``, ``y_pred`` holds class ids
    sorted best first, and a hit is the label among its first ``k``. Ties: :func:`in_top_k`."""
    y_pred = _array(y_pred)
    labels = _array(y_true, y_pred.dtype if from_sorted_ids else np.int32)
    return _top_k_matches(labels, y_pred, k, from_sorted_ids)


# ---------------------------------------------------------------- stateful metrics


class Metric:
    """Base class: ``update_state(...)`` accumulates, ``result()`` reads, ``reset_state()`` clears.

    Calling a metric updates its state and returns the current result, as in Keras.
    """

    def __init__(self, name=None, dtype=None):
        self.name = name or type(self).__name__.lower()
        self.dtype = as_dtype(dtype or "float32")

    def update_state(self, *args, **kwargs):
        raise NotImplementedError

    def result(self):
        raise NotImplementedError

    def reset_state(self):
        raise NotImplementedError

    def __call__(self, *args, **kwargs):
        self.update_state(*args, **kwargs)
        return self.result()

    def __repr__(self):
        return f"<beras.metrics.{type(self).__name__} name={self.name!r}>"


class Mean(Metric):
    """The (weighted) mean of all values seen: ``total / count`` (both float32, like Keras).

    Values of rank > 1 are first averaged per sample (over every axis but the first).
    """

    def __init__(self, name="mean", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.reset_state()

    def reset_state(self):
        self.total = self.dtype.type(0)
        self.count = self.dtype.type(0)

    def update_state(self, values, sample_weight=None):
        values = _array(values, self.dtype)
        if sample_weight is not None:
            sample_weight = _array(sample_weight, self.dtype)
            values, sample_weight = _same_rank(values, sample_weight)
            if values.ndim > sample_weight.ndim:
                values = values.mean(axis=tuple(range(sample_weight.ndim, values.ndim)), dtype=self.dtype)
            sample_weight = np.broadcast_to(sample_weight, values.shape)
            values = values * sample_weight
            if sample_weight.ndim > 1:
                sample_weight = sample_weight.mean(axis=tuple(range(1, sample_weight.ndim)), dtype=self.dtype)
        if values.ndim > 1:
            values = values.mean(axis=tuple(range(1, values.ndim)), dtype=self.dtype)
        self.total = self.dtype.type(self.total + values.sum(dtype=self.dtype))
        if sample_weight is not None:
            n = sample_weight.sum(dtype=self.dtype)
        else:
            n = values.shape[0] if values.ndim >= 1 else 1
        self.count = self.dtype.type(self.count + self.dtype.type(n))

    def result(self):
        return Tensor(self.dtype.type(0) if self.count == 0 else self.dtype.type(self.total / self.count))


class MeanMetricWrapper(Mean):
    """The running mean of a per-sample function ``fn(y_true, y_pred, **kwargs)``."""

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        super().__init__(name=name or getattr(fn, "__name__", "mean"), dtype=dtype)
        self._fn = fn
        self._fn_kwargs = kwargs

    def update_state(self, y_true, y_pred, sample_weight=None):
        values = self._fn(y_true, y_pred, **self._fn_kwargs)
        return super().update_state(values, sample_weight=sample_weight)


class Accuracy(MeanMetricWrapper):
    """How often ``y_pred`` equals ``y_true`` exactly."""

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(accuracy, name=name, dtype=dtype)


class BinaryAccuracy(MeanMetricWrapper):
    """How often ``(y_pred > threshold)`` matches the 0/1 labels."""

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        super().__init__(binary_accuracy, name=name, dtype=dtype, threshold=threshold)


class CategoricalAccuracy(MeanMetricWrapper):
    """How often the argmax of ``y_pred`` matches the argmax of one-hot ``y_true``."""

    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(categorical_accuracy, name=name, dtype=dtype)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """How often the argmax of ``y_pred`` matches the integer label ``y_true``."""

    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(sparse_categorical_accuracy, name=name, dtype=dtype)


class TopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the class of one-hot ``y_true`` is among the ``k`` best scores (top-5 accuracy by default)."""

    def __init__(self, k=5, name="top_k_categorical_accuracy", dtype=None):
        super().__init__(top_k_categorical_accuracy, name=name, dtype=dtype, k=k)
        self.k = k


class SparseTopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the integer label ``y_true`` is among the ``k`` best scores (top-5 accuracy by default)."""

    def __init__(self, k=5, name="sparse_top_k_categorical_accuracy", dtype=None, from_sorted_ids=False):
        super().__init__(sparse_top_k_categorical_accuracy, name=name, dtype=dtype, k=k,
                         from_sorted_ids=from_sorted_ids)
        self.k, self.from_sorted_ids = k, from_sorted_ids


# ---------------------------------------------------------------- lookup

_FUNCTIONS = {f.__name__: f for f in (accuracy, binary_accuracy, categorical_accuracy,
                                      sparse_categorical_accuracy, top_k_categorical_accuracy,
                                      sparse_top_k_categorical_accuracy)}
_CLASSES = {c.__name__: c for c in (Mean, Accuracy, BinaryAccuracy, CategoricalAccuracy,
                                    SparseCategoricalAccuracy, TopKCategoricalAccuracy,
                                    SparseTopKCategoricalAccuracy)}
VALID_NAMES = sorted(set(_FUNCTIONS) | set(_CLASSES) | {"acc"})


def get(identifier):
    """Like ``keras.metrics.get``: a name of a function ('categorical_accuracy') gives the function,
    a class name ('CategoricalAccuracy') or class gives an instance, a callable is returned as is.
    Unknown names raise ValueError listing the valid ones."""
    if identifier is None:
        return None
    obj = identifier
    if isinstance(identifier, str):
        name = "accuracy" if identifier == "acc" else identifier
        obj = _FUNCTIONS.get(name) or _CLASSES.get(name)
        if obj is None:
            raise ValueError(f"Unknown metric {identifier!r}. Valid names: {VALID_NAMES}")
    if isinstance(obj, type):
        return obj()
    if callable(obj):
        return obj
    raise ValueError(f"Could not interpret metric identifier: {identifier!r}. Valid names: {VALID_NAMES}")


def get_metric(identifier, y_true, y_pred):
    """A stateful Metric for ``Model.compile(metrics=[...])``, exactly as Keras's compile resolves it.

    'accuracy' / 'acc' pick by shape: y_pred with one column -> BinaryAccuracy; y_true of lower rank
    than y_pred (or one column against many) -> SparseCategoricalAccuracy; else CategoricalAccuracy.
    Functions are wrapped in :class:`MeanMetricWrapper`. The metric's name is the string given
    (so the History key is 'accuracy' when you asked for 'accuracy').
    """
    if identifier is None:
        raise ValueError("Expected metric, received `None`")
    if str(identifier).lower() in ("accuracy", "acc"):
        t_shape, p_shape = np.shape(y_true), np.shape(y_pred)
        if p_shape[-1] == 1:
            obj = BinaryAccuracy()
        elif len(t_shape) < len(p_shape) or (t_shape[-1] == 1 and p_shape[-1] > 1):
            obj = SparseCategoricalAccuracy()
        else:
            obj = CategoricalAccuracy()
    else:
        obj = get(identifier)
    if not isinstance(obj, Metric):
        obj = MeanMetricWrapper(obj)
    if isinstance(identifier, str):
        obj.name = identifier
    return obj
