"""Layer API details against live Keras 3: default names, ``add_weight``'s parameter order, and
``get_config`` (keys, initializers, data_format) with ``from_config`` round trips."""
import inspect
import re

import keras
import numpy as np
import pytest

import beras
from beras import layers as L

# every beras layer class -> constructor arguments valid for both libraries
ARGS = {
    "InputLayer": dict(shape=(3,)), "Dense": dict(units=2), "Activation": dict(activation="relu"),
    "ReLU": {}, "LeakyReLU": {}, "Softmax": {}, "Flatten": {}, "Dropout": dict(rate=0.5),
    "Conv2D": dict(filters=2, kernel_size=3), "DepthwiseConv2D": dict(kernel_size=3),
    "MaxPooling2D": {}, "AveragePooling2D": dict(pool_size=2), "GlobalAveragePooling2D": {}, "GlobalMaxPooling2D": {},
    "BatchNormalization": {}, "LayerNormalization": {}, "GroupNormalization": dict(groups=2), "ZeroPadding2D": {}, "Add": {}, "Concatenate": {},
}
LAYER_CLASSES = sorted(n for n, c in vars(L).items() if isinstance(c, type) and issubclass(c, beras.layers.Layer)
                       and n != "Layer")


def _prefix(name):
    return re.sub(r"_\d+$", "", name)


def test_every_layer_class_is_covered():
    assert sorted(ARGS) == LAYER_CLASSES


@pytest.mark.parametrize("cls", LAYER_CLASSES)
def test_default_name_prefix_matches_keras(cls):
    ours, theirs = getattr(L, cls)(**ARGS[cls]), getattr(keras.layers, cls)(**ARGS[cls])
    assert _prefix(ours.name) == _prefix(theirs.name), (cls, ours.name, theirs.name)


def test_model_default_names_match_keras():
    assert _prefix(beras.Sequential().name) == _prefix(keras.Sequential().name) == "sequential"


def test_add_weight_parameter_order_matches_keras():
    ours = [p for p in inspect.signature(beras.layers.Layer.add_weight).parameters if p != "self"]
    theirs = [p for p in inspect.signature(keras.layers.Layer.add_weight).parameters if p not in ("self", "args")]
    assert ours == theirs


@pytest.mark.parametrize("lib", [beras, keras])
def test_add_weight_positional_and_keyword_calls(lib):
    layer = lib.layers.Layer()
    w = layer.add_weight((2, 3), "ones", "float64")                   # Keras 3's positional order
    assert tuple(w.shape) == (2, 3) and np.dtype(w.dtype) == np.float64 and np.all(np.asarray(w) == 1)
    v = layer.add_weight(shape=(4,), initializer="zeros", trainable=False, name="v")
    assert tuple(v.shape) == (4,) and not v.trainable and np.all(np.asarray(v) == 0)
    s = layer.add_weight()                                             # defaults: a scalar, glorot_uniform
    assert tuple(s.shape) == () and np.dtype(s.dtype) == np.float32
    with pytest.raises(ValueError, match="`name` must be passed as a keyword argument"):
        layer.add_weight("kernel")


def test_add_weight_refuses_what_beras_does_not_support():
    with pytest.raises(NotImplementedError, match="regularizer"):
        beras.layers.Layer().add_weight((2,), regularizer="l2")


# layers whose config carries initializers or data_format
CONFIG_CASES = {
    "Conv2D": dict(filters=2, kernel_size=3, kernel_initializer="he_normal", bias_initializer="ones"),
    "DepthwiseConv2D": dict(kernel_size=3, depthwise_initializer="he_uniform"),
    "Dense": dict(units=3, kernel_initializer="random_normal"),
    "BatchNormalization": dict(gamma_initializer="zeros", moving_variance_initializer="zeros"),
    "LayerNormalization": dict(axis=[1, 2], epsilon=0.01, beta_initializer="ones"),
    "GroupNormalization": dict(groups=4, axis=1, center=False, gamma_initializer="he_normal"),
    "MaxPooling2D": dict(pool_size=3), "AveragePooling2D": dict(pool_size=2, strides=1),
    "GlobalAveragePooling2D": dict(keepdims=True), "GlobalMaxPooling2D": {},
    "ZeroPadding2D": dict(padding=2),
    "ReLU": dict(max_value=6.0), "LeakyReLU": dict(negative_slope=0.2), "Softmax": dict(axis=1),
    "Dropout": dict(rate=0.3, seed=1), "Activation": dict(activation="tanh"), "Concatenate": dict(axis=1),
}
# Keras keys beras has no use for (regularizers, constraints, renorm, quantization, ...)
UNSUPPORTED = re.compile(r"regularizer|constraint|renorm|synchronized|quantization|lora|rms_scaling")


@pytest.mark.parametrize("cls", sorted(CONFIG_CASES))
def test_get_config_has_keras_keys_and_round_trips(cls):
    ours = getattr(L, cls)(**CONFIG_CASES[cls]).get_config()
    theirs = getattr(keras.layers, cls)(**CONFIG_CASES[cls]).get_config()
    missing = {k for k in theirs if k not in ours and not UNSUPPORTED.search(k)}
    assert not missing, f"{cls}.get_config() lacks Keras's keys {sorted(missing)}"
    assert set(ours) <= set(theirs), f"keys Keras does not have: {sorted(set(ours) - set(theirs))}"
    for key, value in theirs.items():
        if key.endswith("initializer"):       # serialized as Keras does: class name and its config
            assert ours[key]["class_name"] == value["class_name"], key
            assert set(ours[key]["config"]) <= set(value["config"]), key
        elif key in ("data_format", "padding", "pool_size", "strides", "kernel_size", "axis", "keepdims",
                     "rate", "seed", "negative_slope", "max_value", "momentum", "epsilon", "units", "filters",
                     "groups", "center", "scale"):
            assert ours[key] == value, (key, ours[key], value)
    rebuilt = getattr(L, cls).from_config(ours)
    assert rebuilt.get_config() == ours
    for key in ours:
        if key.endswith("initializer"):       # the rebuilt layer initializes its weights the same way
            assert type(beras.initializers.get(ours[key])).__name__ == theirs[key]["class_name"]


def test_round_trip_keeps_the_initialization():
    layer = L.Conv2D(2, 3, kernel_initializer="ones", bias_initializer="zeros")
    rebuilt = L.Conv2D.from_config({**layer.get_config(), "name": "copy"})
    rebuilt(np.zeros((1, 5, 5, 2), np.float32))
    assert np.all(rebuilt.kernel.numpy() == 1) and rebuilt.kernel.shape == (3, 3, 2, 2)
