"""Utilities like ``keras.utils``: seeding and one-hot labels.

beras draws all its randomness (initializers, Dropout, shuffling in ``fit``) from one NumPy
generator, reseeded by :func:`set_random_seed` together with Python's and NumPy's global ones.
"""
from __future__ import annotations

import random
import re

import numpy as np

_generator = np.random.default_rng()


def to_snake_case(name):
    """Keras's default-name rule (keras.src.utils.naming.to_snake_case): Conv2D -> conv2d,
    MaxPooling2D -> max_pooling2d, BatchNormalization -> batch_normalization, ReLU -> re_lu."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def set_random_seed(seed):
    """Like ``keras.utils.set_random_seed``: seed Python, NumPy and beras's own generator."""
    global _generator
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise ValueError(f"set_random_seed expects an integer seed, got {seed!r}")
    random.seed(int(seed))
    np.random.seed(int(seed) % 2**32)
    _generator = np.random.default_rng(int(seed))


def rng():
    """beras's global random generator (a ``numpy.random.Generator``)."""
    return _generator


def to_categorical(y, num_classes=None):
    """Like ``keras.utils.to_categorical``: integer labels (any shape) -> one-hot float32, shape + (C,).

    A trailing axis of size 1 is dropped first, as in Keras.
    """
    y = np.asarray(y)
    if not np.issubdtype(y.dtype, np.integer):
        if not np.all(np.equal(np.mod(y, 1), 0)):
            raise ValueError("to_categorical expects integer class labels")
        y = y.astype(np.int64)
    if y.ndim > 1 and y.shape[-1] == 1:
        y = y.reshape(y.shape[:-1])
    if num_classes is None:
        num_classes = int(y.max()) + 1 if y.size else 0
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"labels must lie in [0, {num_classes}), got values in [{y.min()}, {y.max()}]")
    return (y[..., None] == np.arange(num_classes)).astype(np.float32)
