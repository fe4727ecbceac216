"""BatchNormalization, the Keras twin, on top of ``beras.nn.moments`` and ``batch_normalization``.

    >>> bn = beras.layers.BatchNormalization()
    >>> y = bn(x, training=True)     # normalize with the batch's statistics, update the moving ones
    >>> y = bn(x)                    # inference (the default): normalize with the moving statistics
    >>> [w.name for w in bn.weights]
    ['batch_normalization/gamma', 'batch_normalization/beta',
     'batch_normalization/moving_mean', 'batch_normalization/moving_variance']
"""
from __future__ import annotations

import numpy as np

from .. import initializers, nn
from ..core import ops
from .base import Layer


class BatchNormalization(Layer):
    """Normalize each feature of ``axis`` (default: the channels of NHWC input).

    training=True: ``y = gamma * (x - mean_b) / sqrt(var_b + epsilon) + beta`` with the batch's mean and
    biased variance over every axis but ``axis``; then ``moving = moving * momentum + batch * (1 - momentum)``.
    Otherwise the moving statistics replace the batch's. A frozen layer (``trainable=False``) always runs
    in inference mode, as in Keras 3. Weights: gamma, beta (trainable), moving_mean, moving_variance.
    """

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", moving_mean_initializer="zeros",
                 moving_variance_initializer="ones", **kwargs):
        super().__init__(**kwargs)
        if not isinstance(axis, int):
            raise ValueError(f"BatchNormalization supports a single int axis; got axis={axis!r}")
        self.axis, self.momentum, self.epsilon = axis, float(momentum), float(epsilon)
        self.center, self.scale = center, scale
        self.beta_initializer, self.gamma_initializer = beta_initializer, gamma_initializer
        self.moving_mean_initializer = moving_mean_initializer
        self.moving_variance_initializer = moving_variance_initializer

    def build(self, input_shape):
        ndim = len(input_shape)
        if not -ndim <= self.axis < ndim:
            raise ValueError(f"BatchNormalization axis={self.axis} is out of range for input shape "
                             f"{tuple(input_shape)}")
        axis = self.axis % ndim
        shape = (input_shape[axis],)
        self.gamma = self.add_weight(shape, self.gamma_initializer, name="gamma") if self.scale else None
        self.beta = self.add_weight(shape, self.beta_initializer, name="beta") if self.center else None
        self.moving_mean = self.add_weight(shape, self.moving_mean_initializer, trainable=False,
                                           name="moving_mean")
        self.moving_variance = self.add_weight(shape, self.moving_variance_initializer, trainable=False,
                                               name="moving_variance")
        self._reduction_axes = [i for i in range(ndim) if i != axis]
        # Per-feature vectors broadcast against the input: (C,) on the last axis, else reshaped.
        self._broadcast_shape = None if axis == ndim - 1 else [shape[0] if i == axis else 1 for i in range(ndim)]
        self.built = True

    def _broadcast(self, v):
        return v if v is None or self._broadcast_shape is None else ops.reshape(v, self._broadcast_shape)

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
                "epsilon": self.epsilon, "center": self.center, "scale": self.scale,
                "beta_initializer": initializers.serialize(self.beta_initializer),
                "gamma_initializer": initializers.serialize(self.gamma_initializer),
                "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
                "moving_variance_initializer": initializers.serialize(self.moving_variance_initializer)}
