"""beras: a small NumPy autodiff library that mirrors TensorFlow/Keras.

    import beras
    x = beras.Variable([[1.0, 2.0]])
    with beras.GradientTape() as tape:
        y = beras.reduce_sum(beras.nn.relu(x @ beras.constant([[1.0], [-1.0]])))
    tape.gradient(y, x)
"""
from .core import *  # noqa: F401,F403
from .core import (GradientTape, Tensor, Variable, constant, convert_to_tensor)  # noqa: F401
from . import nn  # noqa: F401
from . import gradcheck, losses, metrics, optimizers  # noqa: F401
from . import activations, initializers, layers, models, utils  # noqa: F401
from .models import Input, Model, Sequential  # noqa: F401

float16, float32, float64 = "float16", "float32", "float64"
int32, int64, bool_ = "int32", "int64", "bool"
