"""Parity rows for the core ops and tf.nn activations / cross-entropies."""
import tensorflow as tf
from hypothesis import strategies as st

import beras

from .strategies import arrays, shapes
from .table import Row


def unary(name, b, t, **kw):
    return Row(name, b, t, lambda d: shapes().flatmap(lambda s: st.tuples(arrays(d, s, **kw)).map(list)))


def binary(name, b, t, **kw):
    # the second operand broadcasts from a trailing slice of the first's shape
    def inputs(d):
        return shapes(min_dims=1).flatmap(lambda s: st.tuples(arrays(d, s, **kw), arrays(d, s[-1:], **kw)).map(list))
    return Row(name, b, t, inputs)


ROWS = [
    binary("add", lambda x, y: x + y, lambda x, y: x + y),
    binary("multiply", lambda x, y: x * y, lambda x, y: x * y),
    unary("relu", beras.nn.relu, tf.nn.relu, away_from=0.0),
]
