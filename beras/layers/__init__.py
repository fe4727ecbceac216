"""Keras-style layers (``beras.layers`` mirrors ``keras.layers``)."""
from .base import Input, KerasTensor, Layer  # noqa: F401
