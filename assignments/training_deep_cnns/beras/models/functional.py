"""The functional ``Model(inputs, outputs)`` (and the base of subclassed models and ``Sequential``):
the graph of layer calls recorded on ``beras.Input`` tensors, run in Keras's layer order. Training
comes from :mod:`.training`, ``summary`` from :mod:`.summary`."""
from __future__ import annotations

from ..layers.base import KerasTensor, Layer, unique_name
from ..layers.core import InputLayer
from .summary import Summary
from .training import Training


class _Node:
    """One recorded layer call of a functional graph."""

    def __init__(self, layer, inputs):
        self.layer, self.inputs, self.outputs = layer, inputs, {}


def _keras_layer_order(nodes, by_key, first_seen):
    """The layers of a functional graph in Keras's order (so ``get_weights()`` lists weights as Keras
    does): by depth, the longest path to an output, decreasing; ties by the first visit of a depth-first
    walk from the outputs (``keras.src.ops.function.map_graph``). ``nodes`` are in post-order."""
    node_depth, layer_depth, layers = {}, {}, {}
    for node in reversed(nodes):
        depth = max(node_depth.setdefault(id(node), 0), layer_depth.get(id(node.layer), 0))
        layer_depth[id(node.layer)] = node_depth[id(node)] = depth
        layers[id(node.layer)] = node.layer
        for t in node.inputs:
            if t.layer is not None:
                parent = by_key[(id(t.layer), tuple(id(i) for i in t.inputs))]
                node_depth[id(parent)] = max(depth + 1, node_depth.get(id(parent), 0))
    return sorted(layers.values(), key=lambda layer: (-layer_depth[id(layer)], first_seen[id(layer)]))


class Model(Training, Summary, Layer):
    """Keras's Model: the functional form ``Model(inputs, outputs)``, or subclass it and write ``call``.

    Adds training to a Layer: ``compile``, ``fit``, ``evaluate``, ``predict``, ``train_step``,
    ``test_step``, ``summary``, ``layers`` and ``get_layer``.
    """


    def __init__(self, inputs=None, outputs=None, name=None, trainable=True, **kwargs):
        functional = inputs is not None or outputs is not None
        if name is None and functional:
            name = unique_name("functional")
        super().__init__(name=name, trainable=trainable, **kwargs)
        self._init_training()
        self._functional = functional
        if functional:
            self._init_graph(inputs, outputs)

    # --- the functional graph ----------------------------------------------------------------
    def _init_graph(self, inputs, outputs):
        if inputs is None or outputs is None:
            raise ValueError("A functional Model needs both inputs and outputs: Model(inputs, outputs)")
        self._multi_in = isinstance(inputs, (list, tuple))
        self._multi_out = isinstance(outputs, (list, tuple))
        self._inputs = list(inputs) if self._multi_in else [inputs]
        self._outputs = list(outputs) if self._multi_out else [outputs]
        for t in self._inputs + self._outputs:
            if not isinstance(t, KerasTensor):
                raise TypeError(f"Model inputs and outputs must be symbolic tensors from beras.Input "
                                f"(and layers called on them), got {type(t).__name__}")
        for t in self._inputs:
            if t.layer is not None:
                raise ValueError(f"Model inputs must come straight from beras.Input; {t} is a layer's output")
        input_ids = {id(t) for t in self._inputs}
        nodes, by_key, first_seen = [], {}, {}

        def visit(t):
            if t.layer is None:
                if id(t) not in input_ids:
                    raise ValueError(f"Graph disconnected: the output depends on the input {t.name!r}, "
                                     f"which is not in the model's inputs {[i.name for i in self._inputs]}")
                return
            key = (id(t.layer), tuple(id(i) for i in t.inputs))
            first_seen.setdefault(id(t.layer), len(first_seen))
            node = by_key.get(key)
            if node is None:
                for i in t.inputs:
                    visit(i)
                node = by_key[key] = _Node(t.layer, t.inputs)
                nodes.append(node)
            node.outputs[t.index] = t

        for t in self._outputs:
            visit(t)
        self._nodes = nodes
        self._input_layers = [InputLayer(t.shape[1:], t.shape[0], t.dtype, name=t.name) for t in self._inputs]
        self._graph_layers = _keras_layer_order(nodes, by_key, first_seen)  # tracked as sub-layers
        self.built = True

    def _run_graph(self, inputs, training):
        flat = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        if len(flat) != len(self._inputs):
            raise ValueError(f"Model '{self.name}' expects {len(self._inputs)} input(s), got {len(flat)}")
        values = {id(t): v for t, v in zip(self._inputs, flat)}
        for node in self._nodes:
            args = [values[id(t)] for t in node.inputs]
            out = node.layer(args if len(args) > 1 else args[0], training=training)
            for index, t in node.outputs.items():
                values[id(t)] = out[index] if isinstance(out, (list, tuple)) else out
        outs = [values[id(t)] for t in self._outputs]
        return outs if self._multi_out else outs[0]

    def call(self, inputs, training=None):
        if not self._functional:
            raise NotImplementedError(f"{type(self).__name__} subclasses Model without a graph: "
                                      f"override call(inputs, training=None), or use Model(inputs, outputs)")
        return self._run_graph(inputs, training)

    def compute_output_shape(self, input_shape):
        if self._functional:
            shapes = [t.shape for t in self._outputs]
            return shapes if self._multi_out else shapes[0]
        return super().compute_output_shape(input_shape)

    # --- layers ----------------------------------------------------------------------------
    @property
    def layers(self):
        if self._functional:
            return self._input_layers + list(self._graph_layers)
        return list(self._layers)

    def get_layer(self, name=None, index=None):
        """The layer called ``name`` (or at position ``index`` of ``layers``)."""
        layers = self.layers
        if index is not None:
            if not -len(layers) <= index < len(layers):
                raise ValueError(f"Was asked to retrieve layer at index {index} but model only has "
                                 f"{len(layers)} layers.")
            return layers[index]
        for layer in layers:
            if layer.name == name:
                return layer
        raise ValueError(f"No such layer: {name}. Existing layers are: {[layer.name for layer in layers]}.")
