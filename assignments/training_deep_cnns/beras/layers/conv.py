"""Conv2D and DepthwiseConv2D, the Keras twins, on top of ``beras.nn.conv2d`` (grouped) and ``bias_add``.

    >>> conv = beras.layers.Conv2D(8, 3, padding="same", activation="relu")
    >>> conv(np.zeros((2, 28, 28, 1), "float32")).shape      # NHWC in, NHWC out
    (2, 28, 28, 8)
    >>> [w.shape for w in conv.get_weights()]                 # kernel HWIO, then bias
    [(3, 3, 1, 8), (8,)]
    >>> beras.layers.Conv2D(8, 3, groups=2)(np.zeros((2, 9, 9, 4), "float32")).shape   # kernel (3, 3, 2, 8)
    (2, 7, 7, 8)
    >>> beras.layers.DepthwiseConv2D(3, depth_multiplier=2)(np.zeros((2, 9, 9, 4), "float32")).shape
    (2, 7, 7, 8)
"""
from __future__ import annotations

from .. import initializers, nn
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

    Weights, in Keras's order: ``kernel`` (kh, kw, in / groups, filters) and ``bias`` (filters,).
    ``groups`` splits the channels: group g convolves input channels ``[g*in/groups, (g+1)*in/groups)``
    with filters ``[g*filters/groups, (g+1)*filters/groups)`` (AlexNet's two-GPU split is groups=2).
    """

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        if not isinstance(filters, int) or filters <= 0:
            raise ValueError(f"Conv2D needs a positive int number of filters; got filters={filters!r}")
        if not isinstance(groups, int) or groups <= 0:
            raise ValueError(f"The number of groups must be a positive integer. Received: groups={groups!r}")
        if filters % groups:
            raise ValueError(f"The number of filters must be evenly divisible by the number of groups. "
                             f"Received: groups={groups}, filters={filters}")
        from .. import activations
        self.filters, self.groups = filters, groups
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
        if in_channels % self.groups:
            raise ValueError(f"The number of input channels must be evenly divisible by the number of groups. "
                             f"Received groups={self.groups}, but the input has {in_channels} channels (full "
                             f"input shape is {tuple(input_shape)})")
        check_output_size(input_shape, (*self.kernel_size, in_channels // self.groups, self.filters), self.strides,
                          self.padding, self.dilation_rate)
        self.kernel = self.add_weight((*self.kernel_size, in_channels // self.groups, self.filters),
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
                "data_format": self.data_format, "groups": self.groups, "activation": self._activation_arg,
                "use_bias": self.use_bias, "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer)}


def check_output_size(input_shape, kernel_shape, strides, padding, dilation_rate):
    """Keras's layer-level rule (the tf.nn op itself allows an empty output): a 'valid' window must fit."""
    if padding != "valid":
        return
    for size, k, s, d in zip(input_shape[1:3], kernel_shape[:2], strides, dilation_rate):
        if size is not None and (size - (k - 1) * d - 1) // s + 1 <= 0:
            raise ValueError(f"Computed output size would be zero or negative. Received `inputs shape="
                             f"{tuple(input_shape)}`, `kernel shape={tuple(kernel_shape)}`, "
                             f"`dilation_rate={list(dilation_rate)}`, `strides={tuple(strides)}`, `padding=valid`.")


class DepthwiseConv2D(Layer):
    """Depthwise 2-D convolution: each input channel c convolved with its own ``depth_multiplier`` filters,
    NHWC (batch, h, w, C) -> (batch, h', w', C * depth_multiplier), output channel ``c * M + m``.

    Weights, in Keras's order: ``kernel`` (kh, kw, C, depth_multiplier) and ``bias`` (C * depth_multiplier,).
    Computed as ``beras.nn.depthwise_conv2d``: a grouped convolution with one group per input channel.
    """

    def __init__(self, kernel_size, strides=(1, 1), padding="valid", depth_multiplier=1, data_format=None,
                 dilation_rate=(1, 1), activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        if not isinstance(depth_multiplier, int) or depth_multiplier <= 0:
            raise ValueError(f"Invalid value for argument `depth_multiplier`. Expected a strictly positive value. "
                             f"Received depth_multiplier={depth_multiplier!r}")
        from .. import activations
        self.depth_multiplier = depth_multiplier
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
        self.depthwise_initializer, self.bias_initializer = depthwise_initializer, bias_initializer

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(f"DepthwiseConv2D '{self.name}' expects 4-D NHWC input (batch, height, width, "
                             f"channels); got input shape {tuple(input_shape)}")
        c = input_shape[-1]
        check_output_size(input_shape, (*self.kernel_size, c, self.depth_multiplier), self.strides, self.padding,
                          self.dilation_rate)
        self.kernel = self.add_weight((*self.kernel_size, c, self.depth_multiplier), self.depthwise_initializer,
                                      name="kernel")
        self.bias = (self.add_weight((c * self.depth_multiplier,), self.bias_initializer, name="bias")
                     if self.use_bias else None)
        self.built = True

    def call(self, inputs, training=None):
        outputs = nn.depthwise_conv2d(inputs, self.kernel, (1, *self.strides, 1), self.padding.upper(),
                                      dilations=self.dilation_rate)
        if self.use_bias:
            outputs = nn.bias_add(outputs, self.bias)
        return self.activation(outputs) if self.activation is not None else outputs

    def get_config(self):
        return {**super().get_config(), "kernel_size": self.kernel_size, "strides": self.strides,
                "padding": self.padding, "depth_multiplier": self.depth_multiplier,
                "data_format": self.data_format, "dilation_rate": self.dilation_rate,
                "activation": self._activation_arg, "use_bias": self.use_bias,
                "depthwise_initializer": initializers.serialize(self.depthwise_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer)}
