"""``Sequential``: a stack of layers, each feeding the next."""
from __future__ import annotations

from ..layers.base import KerasTensor, Layer, unique_name
from ..layers.core import InputLayer
from .functional import Model


class Sequential(Model):
    """A stack of layers, each feeding the next: ``Sequential([beras.Input((64,)), Dense(10)])``.

    Built as soon as the input shape is known (a leading ``beras.Input``, or ``input_shape=`` on the
    first layer), otherwise on the first call.
    """

    def __init__(self, layers=None, trainable=True, name=None):
        super().__init__(name=name or unique_name("sequential"), trainable=trainable)
        self._stack = []           # the layers, in order
        self._symbolic = None      # the output KerasTensor once the input shape is known
        self._input_tensor = None
        self._output_shapes = {}
        for layer in layers or []:
            self.add(layer)

    def add(self, layer):
        """Append a layer (or, first, a ``beras.Input`` / ``InputLayer`` giving the input shape)."""
        if isinstance(layer, (KerasTensor, InputLayer)):
            if self._stack or self._input_tensor is not None:
                raise ValueError("An Input can only be the first element of a Sequential model")
            shape = layer.shape if isinstance(layer, KerasTensor) else layer.batch_shape
            dtype = layer.dtype
            self._start(KerasTensor(shape, dtype))
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"Only beras layers can be added to a Sequential model, got {type(layer).__name__}: "
                            f"{layer!r}")
        if any(layer is other for other in self._stack):
            raise ValueError(f"Layer '{layer.name}' is already in this Sequential model")
        self._stack.append(layer)
        self._layers.append(layer)
        if self._symbolic is None and len(self._stack) == 1 and layer._input_shape_arg is not None:
            self._start(KerasTensor(layer._input_shape_arg, layer.dtype))
        elif self._symbolic is not None:
            self._symbolic = layer(self._symbolic)
            self._output_shapes[id(layer)] = self._symbolic.shape

    def pop(self):
        """Remove the last layer."""
        if not self._stack:
            raise TypeError("There are no layers in the model.")
        layer = self._stack.pop()
        self._layers.remove(layer)
        if self._input_tensor is not None:
            self._start(self._input_tensor)
        return layer

    def _start(self, tensor):
        self._input_tensor = self._symbolic = tensor
        self._output_shapes = {}
        for layer in self._stack:
            self._symbolic = layer(self._symbolic)
            self._output_shapes[id(layer)] = self._symbolic.shape
        self.built = True

    def build(self, input_shape=None):
        if input_shape is None:
            if self._input_tensor is None:
                raise ValueError("Sequential.build needs an input_shape (e.g. (None, 64)) when the model "
                                 "has no beras.Input")
            return
        self._start(KerasTensor((None, *tuple(input_shape)[1:]), self.dtype))

    @property
    def layers(self):
        return list(self._stack)

    def call(self, inputs, training=None):
        x = inputs
        for layer in self._stack:
            x = layer(x, training=training)
        return x

    def compute_output_shape(self, input_shape):
        shape = input_shape
        for layer in self._stack:
            shape = layer.compute_output_shape(shape)
        return shape

    def summary(self, line_length=None, print_fn=None):
        if not self.built:
            raise ValueError("This model has not yet been built. Build the model first by calling build() "
                             "or by calling the model on a batch of data, or give it a beras.Input.")
        super().summary(line_length, print_fn)
