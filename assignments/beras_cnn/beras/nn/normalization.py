"""``tf.nn.moments`` and ``tf.nn.batch_normalization``.

- ``moments(x, axes)`` -> ``(mean, variance)`` over ``axes``, with the *biased* (population) variance.
- ``batch_normalization(x, mean, variance, offset, scale, variance_epsilon)``
  = ``scale * (x - mean) / sqrt(variance + eps) + offset``, computed as TF does:
  ``inv = scale / sqrt(variance + eps)``; ``x * inv + (offset - mean * inv)``.
  ``mean``, ``variance``, ``offset``, ``scale`` broadcast against ``x`` (e.g. shape (C,) for NHWC).

Training-mode batch norm is ``batch_normalization(x, *moments(x, [0, 1, 2]), beta, gamma, eps)``;
the gradient flows through the batch statistics too (the tape chains both VJPs).
As elsewhere: wrappers parse arguments, ``@primitive``s call the NumPy kernels below.
"""
from __future__ import annotations

import math

import numpy as np

from ..core.tensor import primitive, unbroadcast


# ----------------------------------------------------------------------------------------------
# Kernels (student work in beras_cnn)
# ----------------------------------------------------------------------------------------------
def moments_forward(x, axes):
    """Mean and biased variance of ``x`` over the tuple ``axes``, both kept as size-1 dims
    (e.g. x (N, H, W, C), axes (0, 1, 2) -> two arrays of shape (1, 1, 1, C))."""
    # YOUR CODE HERE
    raise NotImplementedError()


def moments_backward(dmean, dvariance, x, mean, axes):
    """Gradient of :func:`moments_forward` w.r.t. ``x`` given ``dmean`` and ``dvariance`` (keepdims shapes).

    With ``n`` the number of reduced elements: ``dx = dmean / n + dvariance * 2 (x - mean) / n``.
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def batch_norm_forward(x, mean, variance, offset, scale, variance_epsilon):
    """``scale * (x - mean) / sqrt(variance + eps) + offset`` as ``x * inv + (offset - mean * inv)`` with
    ``inv = scale / sqrt(variance + eps)``. Parameters broadcast against ``x``.

    Returns ``(out, cache)``; ``cache`` holds what :func:`batch_norm_backward` needs.
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def batch_norm_backward(dout, cache):
    """Gradients of :func:`batch_norm_forward` -> ``(dx, dmean, dvariance, doffset, dscale)``.

    Each parameter gradient may be returned in the parameters' common broadcast shape (the tape sums
    it down to each parameter's own shape); ``sum_to_shape(a, shape)`` sums broadcast axes away.
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def sum_to_shape(a, shape):
    """Sum ``a`` over the axes along which an array of ``shape`` was broadcast to ``a.shape``."""
    return unbroadcast(a, shape)


# ----------------------------------------------------------------------------------------------
# Primitives and public wrappers
# ----------------------------------------------------------------------------------------------
def _norm_axes(axes, ndim):
    axes = [axes] if isinstance(axes, (int, np.integer)) else list(axes)
    out = []
    for a in axes:
        a = int(a)
        if not -ndim <= a < ndim:
            raise ValueError(f"moments: axis {a} is out of range for an input of rank {ndim}")
        out.append(a % ndim)
    return tuple(sorted(set(out)))


@primitive(n_inputs=1)
def _moments(x, axes, keepdims):
    mean, variance = moments_forward(x, axes)
    out = np.stack([mean, variance])
    if not keepdims:
        out = out.squeeze(axis=tuple(a + 1 for a in axes))

    def vjp(g):
        g = g.reshape((2,) + mean.shape)
        return (moments_backward(g[0], g[1], x, mean, axes),)
    return out, vjp


def moments(x, axes, shift=None, keepdims=False, name=None):
    """Like ``tf.nn.moments``: ``(mean, variance)`` of ``x`` over ``axes`` (biased variance).
    ``shift`` is accepted and unused, as in TF 2."""
    both = _moments(x, axes=_norm_axes(axes, len(np.shape(x))), keepdims=bool(keepdims))
    return both[0], both[1]


@primitive
def _batch_normalization(x, mean, variance, offset, scale, variance_epsilon):
    # The kernel may return each parameter gradient in the parameters' common broadcast shape: a parameter of
    # another shape comes as a (read-only, copy-free) view of that shape, so it covers each of them even where
    # one spans axes the others do not (a LayerNormalization's per-feature beta with a per-sample mean).
    shape = np.broadcast_shapes(*(np.shape(p) for p in (mean, variance, offset, scale)))
    mean, variance, offset, scale = (p if np.shape(p) == shape else np.broadcast_to(p, shape)
                                     for p in (mean, variance, offset, scale))
    out, cache = batch_norm_forward(x, mean, variance, offset, scale, variance_epsilon)
    return out, lambda g: batch_norm_backward(g, cache)


def batch_normalization(x, mean, variance, offset, scale, variance_epsilon, name=None):
    """Like ``tf.nn.batch_normalization``: ``scale * (x - mean) / sqrt(variance + eps) + offset``.
    ``offset`` / ``scale`` may be None (0 and 1)."""
    return _batch_normalization(x, mean, variance, 0.0 if offset is None else offset,
                                1.0 if scale is None else scale, variance_epsilon=float(variance_epsilon))
