"""tf.nn's activations and cross-entropies, each forward and VJP side by side."""
from __future__ import annotations

import numpy as np

from ..core.ops import _sigmoid, sigmoid, tanh  # noqa: F401 - re-exported as beras.nn.*
from ..core.tensor import Tensor, _to_array, primitive


@primitive
def relu(features):
    return np.maximum(features, 0), lambda g: (g * (features > 0),)


@primitive(n_inputs=1)
def leaky_relu(features, alpha=0.2):
    # TF stores alpha as a float32 attribute, so float64 inputs see float32(alpha) (0.2 -> 0.20000000298)
    slope = np.where(features > 0, 1, np.float64(np.float32(alpha))).astype(features.dtype)
    return features * slope, lambda g: (g * slope,)


@primitive(n_inputs=1)
def relu6(features):
    inside = (features > 0) & (features < 6)
    return np.clip(features, 0, 6), lambda g: (g * inside,)


@primitive(n_inputs=1)
def elu(features):
    neg = np.exp(np.minimum(features, 0)) - 1
    out = np.where(features > 0, features, neg)
    return out, lambda g: (g * np.where(features > 0, 1, neg + 1),)


@primitive(n_inputs=1)
def softplus(features):
    out = np.logaddexp(0, features).astype(features.dtype)
    return out, lambda g: (g * _sigmoid(features),)


def _log_softmax(x, axis):
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


@primitive(n_inputs=1)
def softmax(logits, axis=-1):
    out = np.exp(_log_softmax(logits, axis))

    def vjp(g):
        return (out * (g - np.sum(g * out, axis=axis, keepdims=True)),)
    return out, vjp


@primitive(n_inputs=1)
def log_softmax(logits, axis=-1):
    out = _log_softmax(logits, axis)
    return out, lambda g: (g - np.exp(out) * np.sum(g, axis=axis, keepdims=True),)


@primitive
def _softmax_xent(labels, logits, axis):
    logp = _log_softmax(logits, axis)
    loss = -np.sum(labels * logp, axis=axis)

    def vjp(g):
        # TF's kernel: d/dlogits = softmax - labels, which assumes each label row sums to 1
        g = np.expand_dims(g, axis)
        return -g * logp, g * (np.exp(logp) - labels)
    return loss, vjp


def softmax_cross_entropy_with_logits(labels, logits, axis=-1):
    """Like ``tf.nn.softmax_cross_entropy_with_logits``: one loss per row, not reduced.

    As in TF, the gradient w.r.t. logits is ``softmax(logits) - labels``: exact when each label row
    sums to 1 (one-hot or a distribution); for other labels it is TF's, not the true derivative.
    """
    _same_shape("softmax_cross_entropy_with_logits", labels, logits)
    return _softmax_xent(labels, logits, axis=axis)


@primitive(n_inputs=1)
def _sparse_softmax_xent(logits, labels):
    logp = _log_softmax(logits, -1)
    rows = np.arange(labels.size).reshape(labels.shape)
    loss = -logp.reshape(-1, logp.shape[-1])[rows.reshape(-1), labels.reshape(-1)].reshape(labels.shape)

    def vjp(g):
        grad = np.exp(logp)
        flat = grad.reshape(-1, grad.shape[-1])
        flat[rows.reshape(-1), labels.reshape(-1)] -= 1
        return (g[..., None] * grad,)
    return loss, vjp


def sparse_softmax_cross_entropy_with_logits(labels, logits):
    """Like ``tf.nn.sparse_softmax_cross_entropy_with_logits``: integer class ids, loss per row."""
    labels = np.asarray(_to_array(labels))
    logits_shape = np.shape(logits)
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be integer class ids, got dtype {labels.dtype}")
    if labels.shape != tuple(logits_shape[:-1]):
        raise ValueError(f"labels shape {labels.shape} must equal logits shape {tuple(logits_shape)} "
                         f"without its last axis")
    if labels.size and (labels.min() < 0 or labels.max() >= logits_shape[-1]):
        raise ValueError(f"Received a label value of {labels.max() if labels.max() >= 0 else labels.min()} "
                         f"which is outside the valid range of [0, {logits_shape[-1]})")
    return _sparse_softmax_xent(logits, labels.astype(np.int64))


@primitive
def _sigmoid_xent(labels, logits):
    # max(x, 0) - x * z + log(1 + exp(-|x|)), TF's stable form
    e = np.exp(-np.abs(logits))
    loss = np.maximum(logits, 0) - logits * labels + np.log1p(e)
    # TF's derivative of that formula: sigmoid(x) - z without the cancellation 1/(1+e) - 1 for large x
    s = e / (1 + e)
    grad_logits = np.where(logits >= 0, (1 - labels) - s, s - labels)
    return loss, lambda g: (-g * logits, g * grad_logits)


def sigmoid_cross_entropy_with_logits(labels=None, logits=None):
    """Like ``tf.nn.sigmoid_cross_entropy_with_logits``: elementwise, not reduced."""
    _same_shape("sigmoid_cross_entropy_with_logits", labels, logits)
    return _sigmoid_xent(labels, logits)


def _same_shape(name, labels, logits):
    if np.shape(labels) != np.shape(logits):
        raise ValueError(f"{name}: labels shape {tuple(np.shape(labels))} and logits shape "
                         f"{tuple(np.shape(logits))} must be equal")


__all__ = ["relu", "leaky_relu", "relu6", "elu", "softplus", "sigmoid", "tanh", "softmax", "log_softmax",
           "softmax_cross_entropy_with_logits", "sparse_softmax_cross_entropy_with_logits",
           "sigmoid_cross_entropy_with_logits", "Tensor"]
