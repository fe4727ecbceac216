"""Merge layers, the Keras twins: ``Add`` (residual connections) and ``Concatenate`` (DenseNet-style).

    >>> y = beras.layers.Add()([x, shortcut])                 # same shapes in, that shape out
    >>> y = beras.layers.Concatenate()([x, features])         # channels stacked on axis -1
"""
from __future__ import annotations

from ..core import ops
from .base import Layer


def _check_list(layer, input_shape):
    if not isinstance(input_shape, list) or len(input_shape) < 2:
        raise ValueError(f"{type(layer).__name__} '{layer.name}' must be called on a list of at least 2 "
                         f"inputs; got input shape {input_shape!r}")


def _compatible(a, b):
    return len(a) == len(b) and all(x is None or y is None or x == y for x, y in zip(a, b))


class Add(Layer):
    """Element-wise sum of a list of same-shape tensors."""

    def build(self, input_shape):
        _check_list(self, input_shape)
        shapes = [tuple(s) for s in input_shape]
        if not all(_compatible(shapes[0], s) for s in shapes[1:]):
            raise ValueError(f"Add '{self.name}' needs inputs of the same shape; got shapes {shapes}")
        self.built = True

    def call(self, inputs, training=None):
        output = inputs[0]
        for x in inputs[1:]:
            output = output + x
        return output


class Concatenate(Layer):
    """Join a list of tensors along ``axis``; their other dimensions must agree."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis

    def build(self, input_shape):
        _check_list(self, input_shape)
        shapes = [tuple(s) for s in input_shape]
        ndim = len(shapes[0])
        if not -ndim <= self.axis < ndim:
            raise ValueError(f"Concatenate axis={self.axis} is out of range for input shapes {shapes}")
        axis = self.axis % ndim
        drop = [s[:axis] + s[axis + 1:] for s in shapes]
        if any(len(s) != ndim for s in shapes) or not all(_compatible(drop[0], d) for d in drop[1:]):
            raise ValueError(f"Concatenate '{self.name}' needs inputs whose shapes agree except on axis "
                             f"{self.axis}; got shapes {shapes}")
        self.built = True

    def call(self, inputs, training=None):
        return ops.concat(list(inputs), axis=self.axis)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}
