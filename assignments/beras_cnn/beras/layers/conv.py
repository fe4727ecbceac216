"""Conv2D, the Keras twin: ``keras.layers.Conv2D`` on top of ``beras.nn.conv2d`` and ``bias_add``.

    >>> conv = beras.layers.Conv2D(8, 3, padding="same", activation="relu")
    >>> conv(np.zeros((2, 28, 28, 1), "float32")).shape      # NHWC in, NHWC out
    (2, 28, 28, 8)
    >>> [w.shape for w in conv.get_weights()]                 # kernel HWIO, then bias
    [(3, 3, 1, 8), (8,)]
"""
from __future__ import annotations

from .. import nn
from .base import Layer


def normalize_tuple(value, n, name):
    """An int or a length-``n`` sequence of positive ints -> a tuple of ``n`` ints (Keras's rule)."""
    values = (value,) * n if isinstance(value, int) else tuple(value)
    if len(values) != n or not all(isinstance(v, int) and v > 0 for v in values):
        raise ValueError(f"The `{name}` argument must be a positive int or a tuple of {n} positive ints; "
                         f"got {name}={value!r}")
    return values


def normalize_padding(padding):
    """Keras's padding names: 'valid' or 'same' (any case) -> lower case."""
    mode = padding.lower() if isinstance(padding, str) else padding
    if mode not in ("valid", "same"):
        raise ValueError(f"Unknown padding {padding!r}; valid: 'valid', 'same'")
    return mode


def check_data_format(data_format):
    if data_format not in (None, "channels_last"):
        raise ValueError(f"Unsupported data_format {data_format!r}: beras layers are channels_last (NHWC) "
                         f"only; valid: None, 'channels_last'")
    return "channels_last"


class Conv2D(Layer):
    """2-D convolution: NHWC input (batch, h, w, in) -> (batch, h', w', filters).

    Weights, in Keras's order: ``kernel`` (kh, kw, in, filters) and ``bias`` (filters,).
    """

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        if not isinstance(filters, int) or filters <= 0:
            raise ValueError(f"Conv2D needs a positive int number of filters; got filters={filters!r}")
        from .. import activations
        self.filters = filters
        self.kernel_size = normalize_tuple(kernel_size, 2, "kernel_size")
        self.strides = normalize_tuple(strides, 2, "strides")
        self.padding = normalize_padding(padding)
        self.data_format = check_data_format(data_format)
        self.dilation_rate = normalize_tuple(dilation_rate, 2, "dilation_rate")
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:  # as Keras
            raise ValueError(f"`strides > 1` not supported in conjunction with `dilation_rate > 1`. "
                             f"Received: strides={self.strides} and dilation_rate={self.dilation_rate}")
        self.activation = activations.get(activation) if activation is not None else None
        self._activation_arg = activation
        self.use_bias = use_bias
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(f"Conv2D '{self.name}' expects 4-D NHWC input (batch, height, width, channels); "
                             f"got input shape {tuple(input_shape)}")
        in_channels = input_shape[-1]
        self.kernel = self.add_weight((*self.kernel_size, in_channels, self.filters),
                                      self.kernel_initializer, name="kernel")
        self.bias = self.add_weight((self.filters,), self.bias_initializer, name="bias") if self.use_bias else None
        self.built = True

    def call(self, inputs, training=None):
        outputs = nn.conv2d(inputs, self.kernel, strides=self.strides, padding=self.padding.upper(),
                            dilations=self.dilation_rate)
        if self.use_bias:
            outputs = nn.bias_add(outputs, self.bias)
        return self.activation(outputs) if self.activation is not None else outputs

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "strides": self.strides, "padding": self.padding, "dilation_rate": self.dilation_rate,
                "activation": self._activation_arg, "use_bias": self.use_bias}
