"""ZeroPadding2D, the Keras twin: zeros around height and width of NHWC input.

    >>> beras.layers.ZeroPadding2D(((1, 2), (0, 3)))(np.ones((1, 4, 5, 2), "float32")).shape
    (1, 7, 8, 2)
"""
from __future__ import annotations

from ..core import ops
from .base import Layer
from .conv import check_data_format


def _pairs(padding):
    """Keras's forms: int p, (ph, pw) or ((top, bottom), (left, right)) -> ((t, b), (l, r))."""
    try:
        if isinstance(padding, int):
            pairs = ((padding, padding), (padding, padding))
        elif all(isinstance(p, int) for p in padding):
            ph, pw = padding
            pairs = ((ph, ph), (pw, pw))
        else:
            (t, b), (l, r) = padding
            pairs = ((t, b), (l, r))
    except (TypeError, ValueError):
        pairs = None
    if pairs is None or not all(isinstance(p, int) and p >= 0 for pair in pairs for p in pair):
        raise ValueError("ZeroPadding2D padding must be an int, a pair of ints (symmetric height, width) "
                         f"or ((top, bottom), (left, right)) of non-negative ints; got padding={padding!r}")
    return pairs


class ZeroPadding2D(Layer):
    """(batch, h, w, c) -> (batch, top + h + bottom, left + w + right, c), the new cells zero."""

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.padding = _pairs(padding)
        self.data_format = check_data_format(data_format)

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(f"ZeroPadding2D '{self.name}' expects 4-D NHWC input; got input shape "
                             f"{tuple(input_shape)}")
        self.built = True

    def call(self, inputs, training=None):
        x = inputs
        for axis, (before, after) in zip((1, 2), self.padding):
            parts = []
            for n in (before, after):
                shape = list(x.shape)
                shape[axis] = n
                parts.append(ops.zeros(shape, x.dtype))
            x = ops.concat([parts[0], x, parts[1]], axis=axis)
        return x

    def get_config(self):
        return {**super().get_config(), "padding": self.padding, "data_format": self.data_format}
