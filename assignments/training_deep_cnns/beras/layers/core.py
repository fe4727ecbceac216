"""The dense stack, like ``keras.layers``: Dense, Activation, ReLU, LeakyReLU, Softmax, Flatten,
Dropout, and InputLayer (the first node of a functional model).

Weights are created in Keras 3's order and with its names (Dense: ``kernel`` (in, units), then
``bias`` (units,)), so ``beras_layer.set_weights(keras_layer.get_weights())`` copies a Keras layer.
"""
from __future__ import annotations

import numpy as np

from .. import activations, initializers, nn, utils
from ..core import ops
from ..core.tensor import Tensor
from .base import Layer


class InputLayer(Layer):
    """The entry of a functional model (shown in ``summary``); passes its input through."""

    def __init__(self, shape=None, batch_size=None, dtype=None, name=None, **kwargs):
        super().__init__(name=name, dtype=dtype, **kwargs)
        self.batch_shape = (batch_size, *tuple(shape or ()))
        self.built = True

    def call(self, inputs, training=None):
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape


class Dense(Layer):
    """``y = activation(x @ kernel + bias)`` on the last axis: (..., in) -> (..., units)."""

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        if not isinstance(units, (int, np.integer)) or units <= 0:
            raise ValueError(f"Dense units must be a positive integer, got {units!r}")
        self.units = int(units)
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)

    def build(self, input_shape):
        in_dim = input_shape[-1]
        if in_dim is None:
            raise ValueError(f"Dense '{self.name}' needs a known last input dimension, got shape {input_shape}")
        self.kernel = self.add_weight((in_dim, self.units), self.kernel_initializer, name="kernel")
        self.bias = self.add_weight((self.units,), self.bias_initializer, name="bias") if self.use_bias else None
        self.built = True

    def call(self, inputs, training=None):
        if inputs.shape[-1] != self.kernel.shape[0]:
            raise ValueError(f"Dense '{self.name}' was built for inputs of shape (..., {self.kernel.shape[0]}) "
                             f"but got shape {tuple(inputs.shape)}")
        y = ops.matmul(inputs, self.kernel)
        if self.use_bias:
            y = y + self.bias
        return self.activation(y)

    def compute_output_shape(self, input_shape):
        return (*tuple(input_shape)[:-1], self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "activation": activations.serialize(self.activation),
                "use_bias": self.use_bias, "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer)}


class Activation(Layer):
    """Applies an activation (a name like 'relu' or a callable)."""

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def get_config(self):
        return {**super().get_config(), "activation": activations.serialize(self.activation)}

    def call(self, inputs, training=None):
        return self.activation(inputs)

    def compute_output_shape(self, input_shape):
        return input_shape


class ReLU(Layer):
    """Keras's ReLU layer: ``max(x, 0)``, optionally capped at ``max_value``, with ``negative_slope``
    below ``threshold``."""

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        if max_value is not None and max_value < 0:
            raise ValueError(f"max_value of a ReLU layer cannot be negative, got {max_value}")
        if negative_slope is None or negative_slope < 0:
            raise ValueError(f"negative_slope of a ReLU layer must be >= 0, got {negative_slope}")
        if threshold is None or threshold < 0:
            raise ValueError(f"threshold of a ReLU layer must be >= 0, got {threshold}")
        self.max_value, self.negative_slope, self.threshold = max_value, negative_slope, threshold

    def get_config(self):
        return {**super().get_config(), "max_value": self.max_value, "negative_slope": self.negative_slope, "threshold": self.threshold}

    def call(self, inputs, training=None):
        x, slope, thr, cap = inputs, self.negative_slope, self.threshold, self.max_value
        if cap is None and thr == 0:
            return nn.relu(x) if slope == 0 else nn.leaky_relu(x, alpha=slope)
        # Keras's general form: relu part (thresholded, capped) minus slope * relu(threshold - x)
        if thr != 0:
            positive = ops.where(x._value > thr, x, 0.0)
        elif cap == 6:  # Keras uses the relu6 op here (its gradient is 0 at exactly 6)
            positive, cap = nn.relu6(x), None
        else:
            positive = nn.relu(x)
        if cap is not None:
            positive = ops.clip_by_value(positive, 0.0, cap)
        if slope != 0:
            positive = positive - slope * nn.relu(thr - x)
        return positive

    def compute_output_shape(self, input_shape):
        return input_shape


class LeakyReLU(Layer):
    """``x`` if ``x > 0`` else ``negative_slope * x`` (Keras's default slope 0.3; tf.nn's is 0.2)."""

    def __init__(self, negative_slope=0.3, **kwargs):
        if "alpha" in kwargs:  # Keras 2's name, still accepted by Keras 3
            negative_slope = kwargs.pop("alpha")
        super().__init__(**kwargs)
        if negative_slope is None or negative_slope < 0:
            raise ValueError(f"negative_slope of a LeakyReLU layer must be >= 0, got {negative_slope}")
        self.negative_slope = negative_slope

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope}

    def call(self, inputs, training=None):
        return nn.leaky_relu(inputs, alpha=self.negative_slope)

    def compute_output_shape(self, input_shape):
        return input_shape


class Softmax(Layer):
    """Softmax along ``axis`` (default the last)."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}

    def call(self, inputs, training=None):
        return nn.softmax(inputs, axis=self.axis)

    def compute_output_shape(self, input_shape):
        return input_shape


class Flatten(Layer):
    """(batch, d1, d2, ...) -> (batch, d1*d2*...)."""

    def call(self, inputs, training=None):
        return ops.reshape(inputs, (inputs.shape[0], -1))

    def compute_output_shape(self, input_shape):
        rest = tuple(input_shape)[1:]
        size = None if any(d is None for d in rest) else int(np.prod(rest))
        return (input_shape[0], size)


class Dropout(Layer):
    """Inverted dropout: while training, zero each unit with probability ``rate`` and scale the kept
    ones by ``1 / (1 - rate)``; the identity otherwise. ``seed`` makes the masks reproducible;
    without it they come from beras's generator (``beras.utils.set_random_seed``)."""

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
            raise ValueError(f"Invalid value received for argument `rate`. Expected a float value "
                             f"between 0 and 1. Received: rate={rate!r}")
        self.rate, self.noise_shape, self.seed = float(rate), noise_shape, seed
        self._rng = None if seed is None else np.random.default_rng(seed)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "noise_shape": self.noise_shape, "seed": self.seed}

    def _mask_shape(self, inputs):
        """The mask's shape: the input's, or ``noise_shape`` whose None entries take the input's size (Keras)."""
        shape = tuple(inputs.shape)
        if self.noise_shape is None:
            return shape
        return tuple(s if n is None else n for s, n in zip(shape, self.noise_shape))

    def _generator(self):
        """Where masks come from: the layer's own generator (``seed=``), else beras's (``beras.utils.rng()``)."""
        return self._rng if self._rng is not None else utils.rng()

    def call(self, inputs, training=None):
        """Inverted dropout (training_deep_cnns). While training (and ``rate > 0``), draw one uniform number
        per mask cell, ``u = self._generator().random(self._mask_shape(inputs))``, keep the units with
        ``u < 1 - rate`` and scale the kept ones by ``1 / (1 - rate)``, so that every unit's expected value is
        unchanged; ``rate == 1`` drops every unit (zeros, no division). Otherwise (inference, or rate 0)
        return ``inputs`` unchanged. The mask is a constant of the input's dtype: multiply ``inputs`` by
        ``Tensor(mask)``, so the gradient is the mask too."""
        # YOUR CODE HERE
        raise NotImplementedError()

    def compute_output_shape(self, input_shape):
        return input_shape
