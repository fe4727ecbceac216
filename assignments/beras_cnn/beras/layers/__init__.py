"""Keras-style layers (``beras.layers`` mirrors ``keras.layers``)."""
from .base import Input, KerasTensor, Layer  # noqa: F401
from .conv import Conv2D, DepthwiseConv2D  # noqa: F401
from .pooling import (AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D,  # noqa: F401
                      MaxPooling2D)
from .normalization import BatchNormalization, GroupNormalization, LayerNormalization  # noqa: F401
from .merging import Add, Concatenate  # noqa: F401
from .reshaping import ZeroPadding2D  # noqa: F401
from .core import (Activation, Dense, Dropout, Flatten, InputLayer, LeakyReLU, ReLU,  # noqa: F401
                   Softmax)
