"""The normalization layers, Keras twins, all on one kernel: ``beras.nn.moments`` then ``batch_normalization``.

    >>> bn = beras.layers.BatchNormalization()
    >>> y = bn(x, training=True)     # normalize with the batch's statistics, update the moving ones
    >>> y = bn(x)                    # inference (the default): normalize with the moving statistics
    >>> [w.name for w in bn.weights]
    ['batch_normalization/gamma', 'batch_normalization/beta',
     'batch_normalization/moving_mean', 'batch_normalization/moving_variance']
    >>> beras.layers.LayerNormalization()(x)     # each sample over its own features
    >>> beras.layers.GroupNormalization(4)(x)    # each sample over each group of C/4 channels (and H, W)

The three differ only in the axes the mean and variance are taken over (for NHWC input: BatchNormalization
over N, H, W per channel; LayerNormalization over the features of each sample; GroupNormalization over H, W
and the channels of one group, per sample and group) and in BatchNormalization's moving statistics (the other
two never use a batch's statistics for another sample, so they act the same in training and inference).
"""
from __future__ import annotations

import numpy as np

from .. import initializers, nn
from ..core import ops
from .base import Layer


class _Normalization(Layer):
    """What the normalization layers share: ``gamma`` / ``beta`` over the feature axes and the one kernel,
    ``nn.batch_normalization(x, mean, variance, beta, gamma, epsilon)`` with ``nn.moments`` statistics."""

    def __init__(self, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros", gamma_initializer="ones",
                 **kwargs):
        super().__init__(**kwargs)
        self.epsilon, self.center, self.scale = float(epsilon), center, scale
        self.beta_initializer, self.gamma_initializer = beta_initializer, gamma_initializer
        self._broadcast_shape = None

    def _add_gamma_beta(self, shape):
        self.gamma = self.add_weight(shape, self.gamma_initializer, name="gamma") if self.scale else None
        self.beta = self.add_weight(shape, self.beta_initializer, name="beta") if self.center else None

    def _broadcast(self, v):
        """A weight-shaped vector reshaped to broadcast against the (possibly regrouped) input."""
        return v if v is None or self._broadcast_shape is None else ops.reshape(v, self._broadcast_shape)

    def _normalize(self, inputs, axes):
        """The kernel, over ``axes``: ``gamma * (x - mean) / sqrt(variance + epsilon) + beta``."""
        mean, variance = nn.moments(inputs, axes, keepdims=True)
        return nn.batch_normalization(inputs, mean, variance, offset=self._broadcast(self.beta),
                                      scale=self._broadcast(self.gamma), variance_epsilon=self.epsilon)

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon, "center": self.center, "scale": self.scale,
                "beta_initializer": initializers.serialize(self.beta_initializer),
                "gamma_initializer": initializers.serialize(self.gamma_initializer)}


def _check_axis(layer, axis, input_shape):
    ndim = len(input_shape)
    if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
        raise TypeError(f"{type(layer).__name__}: axis must be an int (or, for LayerNormalization, a list of ints); "
                        f"got {axis!r}")
    if not -ndim <= axis < ndim:
        raise ValueError(f"{type(layer).__name__} axis={axis} is out of range for input shape {tuple(input_shape)}")
    return int(axis) % ndim


class BatchNormalization(_Normalization):
    """Normalize each feature of ``axis`` (default: the channels of NHWC input).

    training=True: ``y = gamma * (x - mean_b) / sqrt(var_b + epsilon) + beta`` with the batch's mean and
    biased variance over every axis but ``axis``; then ``moving = moving * momentum + batch * (1 - momentum)``.
    Otherwise the moving statistics replace the batch's. A frozen layer (``trainable=False``) always runs
    in inference mode, as in Keras 3. Weights: gamma, beta (trainable), moving_mean, moving_variance.
    """

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", moving_mean_initializer="zeros",
                 moving_variance_initializer="ones", **kwargs):
        super().__init__(epsilon, center, scale, beta_initializer, gamma_initializer, **kwargs)
        if not isinstance(axis, int):
            raise ValueError(f"BatchNormalization supports a single int axis; got axis={axis!r}")
        self.axis, self.momentum = axis, float(momentum)
        self.moving_mean_initializer = moving_mean_initializer
        self.moving_variance_initializer = moving_variance_initializer

    def build(self, input_shape):
        ndim, axis = len(input_shape), _check_axis(self, self.axis, input_shape)
        shape = (input_shape[axis],)
        self._add_gamma_beta(shape)
        self.moving_mean = self.add_weight(shape, self.moving_mean_initializer, trainable=False,
                                           name="moving_mean")
        self.moving_variance = self.add_weight(shape, self.moving_variance_initializer, trainable=False,
                                               name="moving_variance")
        self._reduction_axes = [i for i in range(ndim) if i != axis]
        # Per-feature vectors broadcast against the input: (C,) on the last axis, else reshaped.
        self._broadcast_shape = None if axis == ndim - 1 else [shape[0] if i == axis else 1 for i in range(ndim)]
        self.built = True

    def call(self, inputs, training=None):
        """The layer's two modes (training_deep_cnns).

        - ``training`` true: the batch's mean and (biased) variance over ``self._reduction_axes``
          (``nn.moments``) normalize the input, and the moving statistics move toward them with Keras's
          convention: ``moving = moving * momentum + batch * (1 - momentum)`` (``self.moving_mean.assign(...)``
          with NumPy values; momentum 0.99 keeps 99 % of the old value).
        - otherwise (inference): ``self.moving_mean`` and ``self.moving_variance`` normalize instead.

        Both end in ``nn.batch_normalization(inputs, mean, variance, offset=beta, scale=gamma,
        variance_epsilon=self.epsilon)``, with every per-feature vector passed through ``self._broadcast``
        (it reshapes a (C,) vector for an ``axis`` other than the last; gamma/beta may be None).
        """
        # YOUR CODE HERE
        raise NotImplementedError()

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "momentum": self.momentum,
                "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
                "moving_variance_initializer": initializers.serialize(self.moving_variance_initializer)}


class LayerNormalization(_Normalization):
    """Normalize each sample over ``axis`` (an int or a list of ints; default: the last axis), like
    ``keras.layers.LayerNormalization``: ``y = gamma * (x - mean) / sqrt(var + epsilon) + beta`` with the mean
    and biased variance of one sample over ``axis``; gamma and beta have the shape of those axes. The
    statistics are each sample's own, so training and inference are the same. Weights: gamma, beta.
    """

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", **kwargs):
        super().__init__(epsilon, center, scale, beta_initializer, gamma_initializer, **kwargs)
        if isinstance(axis, (list, tuple)) and all(isinstance(a, int) for a in axis):
            axis = list(axis)
        elif not isinstance(axis, int):
            raise TypeError(f"LayerNormalization: axis must be an int or a list/tuple of ints; got axis={axis!r}")
        self.axis = axis

    def build(self, input_shape):
        given = self.axis if isinstance(self.axis, list) else [self.axis]
        axes = sorted(_check_axis(self, a, input_shape) for a in given)
        if len(set(axes)) != len(axes) or not axes:
            raise ValueError(f"LayerNormalization: axis={self.axis} must name distinct axes of input shape "
                             f"{tuple(input_shape)}")
        ndim = len(input_shape)
        self._add_gamma_beta(tuple(input_shape[a] for a in axes))
        self._reduction_axes = axes
        self._broadcast_shape = None if axes == [ndim - 1] else [input_shape[i] if i in axes else 1
                                                                 for i in range(ndim)]
        self.built = True

    def call(self, inputs, training=None):
        return self._normalize(inputs, self._reduction_axes)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class GroupNormalization(_Normalization):
    """Split the channels (``axis``, default the last) into ``groups`` groups of ``C // groups`` and
    normalize each sample over each group (and every other non-batch axis: H and W for NHWC), like
    ``keras.layers.GroupNormalization``. ``groups=1`` is LayerNormalization over all of (H, W, C);
    ``groups=-1`` (one channel per group) is instance normalization. gamma and beta have shape (C,), per
    channel. Like Keras, ``C`` must be a multiple of ``groups``. Weights: gamma, beta.
    """

    def __init__(self, groups=32, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", **kwargs):
        if not isinstance(groups, int) or isinstance(groups, bool) or (groups <= 0 and groups != -1):
            raise ValueError(f"GroupNormalization: groups must be a positive int (or -1 for instance "
                             f"normalization); got groups={groups!r}")
        if not isinstance(axis, int):
            raise TypeError(f"GroupNormalization: axis must be an int; got axis={axis!r}")
        super().__init__(epsilon, center, scale, beta_initializer, gamma_initializer, **kwargs)
        self.groups, self.axis = groups, axis

    def build(self, input_shape):
        ndim, axis = len(input_shape), _check_axis(self, self.axis, input_shape)
        if axis == 0:
            raise ValueError(f"GroupNormalization: axis={self.axis} is the batch axis of input shape "
                             f"{tuple(input_shape)}; give the channels' axis")
        channels = input_shape[axis]
        groups = channels if self.groups == -1 else self.groups
        if channels % groups:
            valid = [g for g in range(1, channels + 1) if channels % g == 0]
            raise ValueError(f"GroupNormalization: the {channels} channels (axis {self.axis} of input shape "
                             f"{tuple(input_shape)}) do not split into groups={groups} equal groups; valid "
                             f"groups: {valid} (or -1)")
        self._add_gamma_beta((channels,))
        self._axis, self._groups = axis, groups
        # the input is seen as (..., groups, channels // groups, ...): statistics over every axis but the
        # batch and the group axis; gamma/beta as (groups, channels // groups) on those two axes
        self._reduction_axes = [i for i in range(1, ndim + 1) if i != axis]
        self._broadcast_shape = [1] * (ndim + 1)
        self._broadcast_shape[axis:axis + 2] = [groups, channels // groups]
        self.built = True

    def call(self, inputs, training=None):
        shape, axis = tuple(inputs.shape), self._axis
        grouped = ops.reshape(inputs, (*shape[:axis], self._groups, shape[axis] // self._groups,
                                       *shape[axis + 1:]))
        return ops.reshape(self._normalize(grouped, self._reduction_axes), shape)

    def get_config(self):
        return {**super().get_config(), "groups": self.groups, "axis": self.axis}
