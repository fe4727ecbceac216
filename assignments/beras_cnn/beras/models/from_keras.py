"""``from_keras``: a Keras model -> the same model in beras, with the same weights.

    >>> keras_model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(8, 3), ...])
    >>> model = beras.models.from_keras(keras_model)
    >>> np.allclose(model(x), keras_model(x), atol=1e-5)
    True

Works for ``keras.Sequential`` and functional ``keras.Model``s (residual ``Add`` and DenseNet-style
``Concatenate`` graphs included) made of the layers in :data:`CONVERTERS`. Each Keras layer becomes its
beras twin, built from the Keras layer's config; each weight is copied in Keras's order.
"""
from __future__ import annotations

import numpy as np

from .. import layers as L
from .functional import Model
from .sequential import Sequential

# Keras class name -> (beras class, the config entries passed on to it).
CONVERTERS = {
    "Conv2D": (L.Conv2D, ("filters", "kernel_size", "strides", "padding", "data_format", "dilation_rate",
                          "activation", "use_bias")),
    "BatchNormalization": (L.BatchNormalization, ("axis", "momentum", "epsilon", "center", "scale")),
    "LayerNormalization": (L.LayerNormalization, ("axis", "epsilon", "center", "scale")),
    "GroupNormalization": (L.GroupNormalization, ("groups", "axis", "epsilon", "center", "scale")),
    "MaxPooling2D": (L.MaxPooling2D, ("pool_size", "strides", "padding", "data_format")),
    "AveragePooling2D": (L.AveragePooling2D, ("pool_size", "strides", "padding", "data_format")),
    "GlobalAveragePooling2D": (L.GlobalAveragePooling2D, ("data_format", "keepdims")),
    "GlobalMaxPooling2D": (L.GlobalMaxPooling2D, ("data_format", "keepdims")),
    "ZeroPadding2D": (L.ZeroPadding2D, ("padding", "data_format")),
    "Add": (L.Add, ()),
    "Concatenate": (L.Concatenate, ("axis",)),
}
# The dense-stack layers of beras.layers.core (may be absent while that module is being written).
for _name, _keys in {"Dense": ("units", "activation", "use_bias"), "Flatten": (), "Dropout": ("rate", "noise_shape", "seed"),
                     "ReLU": ("max_value", "negative_slope", "threshold"), "Activation": ("activation",), "LeakyReLU": ("negative_slope",),
                     "Softmax": ("axis",)}.items():
    if hasattr(L, _name):
        CONVERTERS[_name] = (getattr(L, _name), _keys)

# Keras options whose non-default values beras does not implement: (class name, key) -> the default.
_UNSUPPORTED_OPTIONS = {
    ("Conv2D", "groups"): 1, ("BatchNormalization", "renorm"): False, ("LayerNormalization", "rms_scaling"): False,
}


def from_keras(keras_model):
    """Convert a Keras ``Sequential`` or functional ``Model`` into a beras model with the same weights."""
    import keras  # deferred here and below: converting needs Keras, beras itself never imports it

    if isinstance(keras_model, keras.Sequential):
        twins = [convert_layer(layer) for layer in keras_model.layers]
        model = Sequential(twins, name=keras_model.name)
        if keras_model.inputs:  # built: build the beras twin the same way, then copy the weights
            shape = tuple(keras_model.inputs[0].shape[1:])
            model(np.zeros((1, *shape), keras_model.inputs[0].dtype))
        _copy_weights(keras_model.layers, twins)
        return model
    if not hasattr(keras_model, "operations"):
        raise ValueError(f"from_keras expects a keras.Sequential or a functional keras.Model; got "
                         f"{type(keras_model).__name__}. Subclassed models have no graph to convert.")
    return _convert_functional(keras_model)


def convert_layer(keras_layer):
    """One Keras layer -> a new, unbuilt beras twin with the same configuration."""
    import keras  # deferred, as in from_keras
    kind = type(keras_layer).__name__
    if isinstance(keras_layer, keras.Model):
        return from_keras(keras_layer)
    if kind not in CONVERTERS:
        raise ValueError(f"from_keras: layer '{keras_layer.name}' of class {kind} is not supported; "
                         f"supported layers: {', '.join(sorted(CONVERTERS))}")
    cls, keys = CONVERTERS[kind]
    config = keras_layer.get_config()
    for (name, key), default in _UNSUPPORTED_OPTIONS.items():
        if name == kind and config.get(key, default) != default:
            raise ValueError(f"from_keras: layer '{keras_layer.name}' ({kind}) uses {key}={config[key]!r}, "
                             f"which beras does not support (only {key}={default!r})")
    if "activation" in keys and not isinstance(config["activation"], str):
        raise ValueError(f"from_keras: layer '{keras_layer.name}' ({kind}) uses a custom activation "
                         f"{config['activation']!r}; only built-in activation names are supported")
    kwargs = {key: config[key] for key in keys if key in config}
    return cls(**kwargs, name=keras_layer.name, dtype=keras_layer.compute_dtype, trainable=keras_layer.trainable)


def _convert_functional(keras_model):
    """Replay the Keras graph node by node, calling each layer's beras twin on beras symbolic tensors."""
    twins = {}                      # id(keras layer) -> beras layer (shared layers stay shared)
    tensors = {}                    # id(keras KerasTensor) -> beras KerasTensor
    inputs = []
    for kt in keras_model.inputs:
        tensors[id(kt)] = L.Input(tuple(kt.shape[1:]), dtype=kt.dtype, name=kt.name)
        inputs.append(tensors[id(kt)])
    pending = [(op, node) for op in keras_model.operations if type(op).__name__ != "InputLayer"
               for node in op._inbound_nodes]
    while pending:
        ready = [(op, node) for op, node in pending if all(id(t) in tensors for t in node.input_tensors)]
        if not ready:
            break  # what remains belongs to other models that share these layers
        for op, node in ready:
            pending.remove((op, node))
            if id(op) not in twins:
                twins[id(op)] = convert_layer(op)
            arg = node.arguments.args[0]
            beras_arg = [tensors[id(t)] for t in arg] if isinstance(arg, (list, tuple)) else tensors[id(arg)]
            out = twins[id(op)](beras_arg)
            outs = out if isinstance(out, (list, tuple)) else [out]
            for kt, bt in zip(node.output_tensors, outs):
                tensors[id(kt)] = bt
    missing = [kt.name for kt in keras_model.outputs if id(kt) not in tensors]
    if missing:
        raise ValueError(f"from_keras: could not reach the model outputs {missing} from its inputs")
    outputs = [tensors[id(kt)] for kt in keras_model.outputs]
    model = Model(inputs if len(inputs) > 1 else inputs[0], outputs if len(outputs) > 1 else outputs[0],
                  name=keras_model.name)
    keras_layers = [op for op in keras_model.operations if id(op) in twins]
    _copy_weights(keras_layers, [twins[id(op)] for op in keras_layers])
    return model


def _copy_weights(keras_layers, beras_layers):
    import keras  # deferred, as in from_keras
    for k, b in zip(keras_layers, beras_layers):
        if k.weights and not isinstance(k, keras.Model):  # a nested model copied its own weights
            b.set_weights(k.get_weights())
