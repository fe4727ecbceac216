"""Conv2D and DepthwiseConv2D (one BaseConv2D), the Keras twins, on top of ``beras.nn.conv2d`` (grouped) and ``bias_add``.

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

from .. import activations, initializers, nn
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


class BaseConv2D(Layer):
    """What Conv2D and DepthwiseConv2D share, like Keras 3's ``BaseConv``: the common arguments (``kernel_size``,
    ``strides``, ``padding``, ``data_format``, ``dilation_rate``, ``activation``, ``use_bias``, ``bias_initializer``),
    build (the kernel, then the bias) and call (convolve, add the bias, activate). A subclass states what
    differs: the name of its kernel initializer argument, its kernel's shape and output channels for an input
    shape (:meth:`kernel_shape`, :meth:`output_channels`) and the op it calls (:meth:`convolve`)."""

    kernel_initializer_arg = "kernel_initializer"   # the constructor argument (and attribute) naming it

    def __init__(self, kernel_size, strides=(1, 1), padding="valid", data_format=None, dilation_rate=(1, 1),
                 activation=None, use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 **kwargs):
        super().__init__(**kwargs)
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
        setattr(self, self.kernel_initializer_arg, kernel_initializer)
        self.bias_initializer = bias_initializer

    def kernel_shape(self, input_shape):
        """The kernel's shape for NHWC ``input_shape`` (raising if the input does not fit)."""
        raise NotImplementedError

    def output_channels(self, input_shape):
        """The output's channels (the bias's size) for NHWC ``input_shape``."""
        raise NotImplementedError

    def convolve(self, inputs):
        """The convolution itself (no bias, no activation)."""
        raise NotImplementedError

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(f"{type(self).__name__} '{self.name}' expects 4-D NHWC input (batch, height, width, "
                             f"channels); got input shape {tuple(input_shape)}")
        kernel_shape = self.kernel_shape(input_shape)
        check_output_size(input_shape, kernel_shape, self.strides, self.padding, self.dilation_rate)
        self.kernel = self.add_weight(kernel_shape, getattr(self, self.kernel_initializer_arg), name="kernel")
        self.bias = (self.add_weight((self.output_channels(input_shape),), self.bias_initializer, name="bias")
                     if self.use_bias else None)
        self.built = True

    def call(self, inputs, training=None):
        outputs = self.convolve(inputs)
        if self.use_bias:
            outputs = nn.bias_add(outputs, self.bias)
        return self.activation(outputs) if self.activation is not None else outputs

    def get_config(self):
        return {**super().get_config(), "kernel_size": self.kernel_size, "strides": self.strides,
                "padding": self.padding, "data_format": self.data_format, "dilation_rate": self.dilation_rate,
                "activation": self._activation_arg, "use_bias": self.use_bias,
                self.kernel_initializer_arg: initializers.serialize(getattr(self, self.kernel_initializer_arg)),
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


class Conv2D(BaseConv2D):
    """2-D convolution: NHWC input (batch, h, w, in) -> (batch, h', w', filters).

    Weights, in Keras's order: ``kernel`` (kh, kw, in / groups, filters) and ``bias`` (filters,).
    ``groups`` splits the channels: group g convolves input channels ``[g*in/groups, (g+1)*in/groups)``
    with filters ``[g*filters/groups, (g+1)*filters/groups)`` (AlexNet's two-GPU split is groups=2).
    """

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", **kwargs):
        if not isinstance(filters, int) or filters <= 0:
            raise ValueError(f"Conv2D needs a positive int number of filters; got filters={filters!r}")
        if not isinstance(groups, int) or groups <= 0:
            raise ValueError(f"The number of groups must be a positive integer. Received: groups={groups!r}")
        if filters % groups:
            raise ValueError(f"The number of filters must be evenly divisible by the number of groups. "
                             f"Received: groups={groups}, filters={filters}")
        super().__init__(kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias,
                         kernel_initializer, bias_initializer, **kwargs)
        self.filters, self.groups = filters, groups

    def kernel_shape(self, input_shape):
        in_channels = input_shape[-1]
        if in_channels % self.groups:
            raise ValueError(f"The number of input channels must be evenly divisible by the number of groups. "
                             f"Received groups={self.groups}, but the input has {in_channels} channels (full "
                             f"input shape is {tuple(input_shape)})")
        return (*self.kernel_size, in_channels // self.groups, self.filters)

    def output_channels(self, input_shape):
        return self.filters

    def convolve(self, inputs):
        return nn.conv2d(inputs, self.kernel, strides=self.strides, padding=self.padding.upper(),
                         dilations=self.dilation_rate)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "groups": self.groups}


class DepthwiseConv2D(BaseConv2D):
    """Depthwise 2-D convolution: each input channel c convolved with its own ``depth_multiplier`` filters,
    NHWC (batch, h, w, C) -> (batch, h', w', C * depth_multiplier), output channel ``c * M + m``.

    Weights, in Keras's order: ``kernel`` (kh, kw, C, depth_multiplier) and ``bias`` (C * depth_multiplier,).
    Computed as ``beras.nn.depthwise_conv2d``: a grouped convolution with one group per input channel.
    """

    kernel_initializer_arg = "depthwise_initializer"

    def __init__(self, kernel_size, strides=(1, 1), padding="valid", depth_multiplier=1, data_format=None,
                 dilation_rate=(1, 1), activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 bias_initializer="zeros", **kwargs):
        if not isinstance(depth_multiplier, int) or depth_multiplier <= 0:
            raise ValueError(f"Invalid value for argument `depth_multiplier`. Expected a strictly positive value. "
                             f"Received depth_multiplier={depth_multiplier!r}")
        super().__init__(kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias,
                         depthwise_initializer, bias_initializer, **kwargs)
        self.depth_multiplier = depth_multiplier

    def kernel_shape(self, input_shape):
        return (*self.kernel_size, input_shape[-1], self.depth_multiplier)

    def output_channels(self, input_shape):
        return input_shape[-1] * self.depth_multiplier

    def convolve(self, inputs):
        return nn.depthwise_conv2d(inputs, self.kernel, (1, *self.strides, 1), self.padding.upper(),
                                   dilations=self.dilation_rate)

    def get_config(self):
        return {**super().get_config(), "depth_multiplier": self.depth_multiplier}
