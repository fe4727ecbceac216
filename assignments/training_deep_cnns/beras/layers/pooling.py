"""Pooling layers, the Keras twins, on top of ``beras.nn.max_pool2d`` / ``avg_pool2d``.

    >>> beras.layers.MaxPooling2D()(np.zeros((2, 9, 9, 3), "float32")).shape   # 2x2, stride 2, 'valid'
    (2, 4, 4, 3)
    >>> beras.layers.GlobalAveragePooling2D()(np.zeros((2, 9, 9, 3), "float32")).shape
    (2, 3)
"""
from __future__ import annotations

from .. import nn
from ..core import ops
from .base import Layer
from .conv import check_data_format, normalize_padding, normalize_tuple


class _Pooling2D(Layer):

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = normalize_tuple(pool_size, 2, "pool_size")
        self.strides = self.pool_size if strides is None else normalize_tuple(strides, 2, "strides")
        self.padding = normalize_padding(padding)
        self.data_format = check_data_format(data_format)

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(f"{type(self).__name__} '{self.name}' expects 4-D NHWC input; "
                             f"got input shape {tuple(input_shape)}")
        self.built = True

    def call(self, inputs, training=None):
        return self._pool(inputs, ksize=self.pool_size, strides=self.strides, padding=self.padding.upper())

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size, "strides": self.strides,
                "padding": self.padding, "data_format": self.data_format}


class MaxPooling2D(_Pooling2D):
    """Max over each ``pool_size`` window: (batch, h, w, c) -> (batch, h', w', c)."""

    def _pool(self, inputs, **options):
        return nn.max_pool2d(inputs, **options)


class AveragePooling2D(_Pooling2D):
    """Mean over each window (with 'same', padded cells are not counted, as in TF)."""

    def _pool(self, inputs, **options):
        return nn.avg_pool2d(inputs, **options)


class _GlobalPooling2D(Layer):

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = check_data_format(data_format)
        self.keepdims = keepdims

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(f"{type(self).__name__} '{self.name}' expects 4-D NHWC input; "
                             f"got input shape {tuple(input_shape)}")
        self.built = True

    def call(self, inputs, training=None):
        return self._reduce(inputs, axis=[1, 2], keepdims=self.keepdims)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format, "keepdims": self.keepdims}


class GlobalAveragePooling2D(_GlobalPooling2D):
    """Mean over height and width: (batch, h, w, c) -> (batch, c), or (batch, 1, 1, c) with keepdims."""

    def _reduce(self, inputs, **options):
        return ops.reduce_mean(inputs, **options)


class GlobalMaxPooling2D(_GlobalPooling2D):
    """Max over height and width: (batch, h, w, c) -> (batch, c), or (batch, 1, 1, c) with keepdims."""

    def _reduce(self, inputs, **options):
        return ops.reduce_max(inputs, **options)
