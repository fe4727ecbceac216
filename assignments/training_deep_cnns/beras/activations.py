"""Activation lookup like ``keras.activations.get``: names map to beras.nn functions.

    >>> beras.activations.get("relu") is beras.nn.relu
    True
"""
from __future__ import annotations

from . import nn
from .core import ops
from .losses import keep_logits


def linear(x):
    """The identity (Keras's 'linear', also what ``None`` means)."""
    return x


def softmax(x, axis=-1):
    # like Keras, the output remembers its logits so cross-entropy losses can use them
    return keep_logits(nn.softmax(x, axis=axis), x)


def sigmoid(x):
    return keep_logits(nn.sigmoid(x), x)


def leaky_relu(x, negative_slope=0.2):
    return nn.leaky_relu(x, alpha=negative_slope)


def swish(x):
    return x * nn.sigmoid(x)


relu, tanh, elu, softplus, relu6 = nn.relu, nn.tanh, nn.elu, nn.softplus, nn.relu6
exponential = ops.exp
silu = swish

_BY_NAME = {"relu": relu, "sigmoid": sigmoid, "tanh": tanh, "softmax": softmax, "linear": linear,
            "leaky_relu": leaky_relu, "elu": elu, "softplus": softplus, "relu6": relu6,
            "swish": swish, "silu": silu, "exponential": exponential}


def get(identifier):
    """A name, a callable, or None ('linear'). Unknown names raise ValueError listing the valid ones."""
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        if identifier not in _BY_NAME:
            raise ValueError(f"Unknown activation {identifier!r}. Valid activations: {sorted(_BY_NAME)}")
        return _BY_NAME[identifier]
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret activation identifier: {identifier!r}; "
                     f"expected a name from {sorted(_BY_NAME)} or a callable")


def serialize(fn):
    """The Keras name of an activation function (or its __name__)."""
    for name, f in _BY_NAME.items():
        if f is fn:
            return name
    return getattr(fn, "__name__", repr(fn))
