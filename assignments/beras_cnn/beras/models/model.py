"""Models like Keras 3's: ``Sequential``, the functional ``Model(inputs, outputs)``, and subclassed
models, all trained with ``compile`` / ``fit`` / ``evaluate`` / ``predict``.

    model = beras.Sequential([beras.Input((64,)), Dense(128, activation="relu"), Dense(10)])
    model.compile("adam", beras.losses.SparseCategoricalCrossentropy(from_logits=True), ["accuracy"])
    history = model.fit(x, y, epochs=5, batch_size=32, validation_data=(x_val, y_val))
    history.history   # {'accuracy': [...], 'loss': [...], 'val_accuracy': [...], 'val_loss': [...]}

Keras's semantics, which the tests check against the real Keras:
- batches are taken in order when ``shuffle=False``; the last partial batch is included;
- one step: forward with ``training=True``, the loss (mean over the batch), its gradient w.r.t.
  ``trainable_weights``, ``optimizer.apply_gradients``; metrics use that same forward pass;
- an epoch's reported loss and metrics are means over the samples seen (weighted by batch size);
- 'accuracy' resolves like Keras 3 from the shapes of labels and predictions: binary if the
  prediction has one column, sparse categorical if the labels have one axis fewer (or a
  trailing 1), categorical otherwise.
"""
from __future__ import annotations

import sys
import time

import numpy as np

from .. import utils
from ..core.ops import reduce_mean
from ..core.tensor import GradientTape
from ..layers.base import KerasTensor, Layer, unique_name
from ..layers.core import InputLayer

# ---------------------------------------------------------------------------------------------
# progress bar, history, callbacks
# ---------------------------------------------------------------------------------------------


def _format_value(v):
    return f"{v:.4f}" if abs(v) > 1e-3 else f"{v:.4e}"


def _format_per_step(seconds):
    if seconds >= 1 or seconds == 0:
        return f"{seconds:.0f}s/step"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/step"
    return f"{seconds * 1e6:.0f}us/step"


class ProgressBar:
    """Keras's progress bar: ``45/45 ━━━━━━━━━━━━━━━━━━━━ 0s 2ms/step - accuracy: 0.9 - loss: 0.3``.

    Redrawn in place (at most every 50 ms) on a terminal or in Jupyter; elsewhere (logs, pipes)
    printed once when finished. verbose=2 prints one line per epoch without the bar.
    """

    def __init__(self, target, verbose=1, width=20, stream=None):
        self.target, self.verbose, self.width = target, verbose, width
        self.stream = stream or sys.stdout
        self.start = time.perf_counter()
        self.last_draw = 0.0
        self.dynamic = (hasattr(self.stream, "isatty") and self.stream.isatty()) or "ipykernel" in sys.modules
        self._drawn = 0

    def update(self, step, logs=None, finalize=False):
        if not self.verbose or (self.verbose == 2 and not finalize):
            return
        now = time.perf_counter()
        if not finalize and (not self.dynamic or now - self.last_draw < 0.05):
            return
        self.last_draw = now
        elapsed = now - self.start
        per_step = elapsed / max(step, 1)
        values = "".join(f" - {k}: {_format_value(v)}" for k, v in (logs or {}).items())
        if self.verbose == 2:
            line = f"{step}/{self.target} - {elapsed:.0f}s - {_format_per_step(per_step)}{values}"
        else:
            filled = int(self.width * step / self.target) if self.target else self.width
            bar = "━" * filled + "─" * (self.width - filled)
            shown = elapsed if finalize else per_step * (self.target - step)  # total, or the ETA
            line = f"{step}/{self.target} {bar} {shown:.0f}s {_format_per_step(per_step)}{values}"
        pad = " " * max(self._drawn - len(line), 0)
        self._drawn = len(line)
        prefix = "\r" if self.dynamic and self.verbose == 1 else ""
        self.stream.write(prefix + line + pad + ("\n" if finalize else ""))
        self.stream.flush()


class History:
    """Returned by ``fit``: ``history`` maps each log key ('loss', 'accuracy', 'val_loss', ...) to
    its per-epoch values; ``epoch`` lists the epoch indices; ``params`` the fit settings."""

    def __init__(self):
        self.history, self.epoch, self.params, self.model = {}, [], {}, None

    def _record(self, epoch, logs):
        self.epoch.append(epoch)
        for k, v in logs.items():
            self.history.setdefault(k, []).append(v)

    def __repr__(self):
        return f"<beras History epochs={len(self.epoch)} keys={list(self.history)}>"


def _callback(callbacks, method, *args):
    for cb in callbacks:
        fn = getattr(cb, method, None)
        if fn is not None:
            fn(*args)


# ---------------------------------------------------------------------------------------------
# data helpers
# ---------------------------------------------------------------------------------------------


def _arrays(x):
    """NumPy arrays (or a list of them for several inputs/outputs)."""
    if x is None:
        return None
    if isinstance(x, (list, tuple)):
        return [np.asarray(v) for v in x]
    return np.asarray(x)


def _length(x):
    return len(x[0]) if isinstance(x, list) else len(x)


def _take(x, index):
    """Rows ``index`` (a slice or an index array) of an array or of each array of a list."""
    if x is None:
        return None
    return [v[index] for v in x] if isinstance(x, list) else x[index]


def _batches(n, batch_size):
    return [slice(i, min(i + batch_size, n)) for i in range(0, n, batch_size)]


def _check_batch_size(batch_size):
    batch_size = 32 if batch_size is None else batch_size
    if not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    return int(batch_size)


def _verbosity(verbose):
    return 1 if verbose == "auto" else int(verbose)


# ---------------------------------------------------------------------------------------------
# Model
# ---------------------------------------------------------------------------------------------


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


class Model(Layer):
    """Keras's Model: the functional form ``Model(inputs, outputs)``, or subclass it and write ``call``.

    Adds training to a Layer: ``compile``, ``fit``, ``evaluate``, ``predict``, ``train_step``,
    ``test_step``, ``summary``, ``layers`` and ``get_layer``.
    """

    def __init__(self, inputs=None, outputs=None, name=None, trainable=True, **kwargs):
        functional = inputs is not None or outputs is not None
        if name is None and functional:
            name = unique_name("functional")
        super().__init__(name=name, trainable=trainable, **kwargs)
        self.optimizer = self.loss = None
        self.compiled = False
        self.stop_training = False
        self.history = None
        self._metric_ids, self._metrics = [], None
        from ..metrics import Mean
        self._loss_tracker = Mean(name="loss")
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

    # --- compile and the steps -------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, metrics=None):
        """Choose the optimizer, the loss and the metrics (names or objects, like Keras)."""
        from .. import losses, optimizers
        from .. import metrics as metrics_module
        self.optimizer = optimizers.get(optimizer)
        self.loss = losses.get(loss)
        if metrics is None:
            metrics = []
        if isinstance(metrics, (str, dict)) or not isinstance(metrics, (list, tuple)):
            metrics = [metrics]
        for m in metrics:  # fail early on unknown names ('accuracy' resolves at the first batch)
            if isinstance(m, str) and m.lower() not in ("accuracy", "acc"):
                metrics_module.get(m)
        self._metric_ids = list(metrics)
        self._metrics = None
        self.compiled = True

    def _check_compiled(self, what):
        if not self.compiled:
            raise RuntimeError(f"You must call compile() on model '{self.name}' before {what}.")
        if self.loss is None:
            raise ValueError(f"Model '{self.name}' was compiled without a loss; pass loss= to compile().")

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None):
        """The compiled loss on one batch (a scalar Tensor: the mean over the batch)."""
        loss = self.loss(y, y_pred) if sample_weight is None else self.loss(y, y_pred, sample_weight=sample_weight)
        return loss if np.ndim(loss) == 0 else reduce_mean(loss)

    def _compiled_metrics(self, y, y_pred):
        """The metric objects, resolved at the first batch (like Keras, 'accuracy' needs the shapes)."""
        from .. import metrics
        if self._metrics is None:
            self._metrics = [metrics.get_metric(m, y, y_pred) for m in self._metric_ids]
        return self._metrics

    def reset_metrics(self):
        for m in self._metrics or []:
            m.reset_state()
        self._loss_tracker.reset_state()

    def _update_metrics(self, y, y_pred, loss, n):
        for m in self._compiled_metrics(y, y_pred):
            m.update_state(y, y_pred)
        self._loss_tracker.update_state(loss, sample_weight=n)  # Keras weights each batch by its size

    def _logs(self):
        """Keras's logs: the running loss and metric results, keys sorted like keras's pythonify_logs."""
        logs = {"loss": float(np.asarray(self._loss_tracker.result()))}
        for m in self._metrics or []:
            logs[m.name] = float(np.asarray(m.result()))
        return dict(sorted(logs.items()))

    def train_step(self, data):
        """One optimizer step on a batch ``(x, y)``: forward, loss, gradients, update; returns the logs."""
        x, y = data
        with GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(x, y, y_pred)
        weights = self.trainable_weights  # after the forward pass, which builds an unbuilt model
        grads = tape.gradient(loss, weights)
        self.optimizer.apply_gradients([(g, w) for g, w in zip(grads, weights) if g is not None])
        self._update_metrics(y, y_pred, loss, _length(x))
        return self._logs()

    def test_step(self, data):
        """Loss and metrics on a batch ``(x, y)`` in inference mode; returns the logs."""
        x, y = data
        y_pred = self(x, training=False)
        self._update_metrics(y, y_pred, self.compute_loss(x, y, y_pred), _length(x))
        return self._logs()

    def predict_step(self, data):
        return self(data, training=False)

    # --- fit, evaluate, predict -------------------------------------------------------------
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, initial_epoch=0):
        """Train for ``epochs`` passes over ``(x, y)`` in batches; returns a :class:`History`."""
        self._check_compiled("fit()")
        if y is None:
            raise ValueError("fit() needs targets: fit(x, y, ...)")
        batch_size, verbose = _check_batch_size(batch_size), _verbosity(verbose)
        x, y = _arrays(x), _arrays(y)
        n = _length(x)
        if _length(y) != n:
            raise ValueError(f"x and y must have the same number of samples, got {n} and {_length(y)}")
        if validation_split and validation_data is None:
            if not 0 < validation_split < 1:
                raise ValueError(f"validation_split must be in (0, 1), got {validation_split}")
            cut = int(n * (1 - validation_split))  # Keras keeps the *last* samples for validation
            validation_data = (_take(x, slice(cut, None)), _take(y, slice(cut, None)))
            x, y, n = _take(x, slice(0, cut)), _take(y, slice(0, cut)), cut
        if validation_data is not None and len(validation_data) != 2:
            raise ValueError("validation_data must be a tuple (x_val, y_val)")
        callbacks = list(callbacks or [])
        history = History()
        history.model, history.params = self, {"verbose": verbose, "epochs": epochs,
                                               "steps": -(-n // batch_size)}
        self.history = history
        for cb in callbacks:
            if hasattr(cb, "set_model"):
                cb.set_model(self)
        self.stop_training = False
        _callback(callbacks, "on_train_begin", {})
        steps = _batches(n, batch_size)
        for epoch in range(initial_epoch, epochs):
            if verbose == 1:
                print(f"Epoch {epoch + 1}/{epochs}", flush=True)
            _callback(callbacks, "on_epoch_begin", epoch, {})
            self.reset_metrics()
            if shuffle:
                order = utils.rng().permutation(n)
                xe, ye = _take(x, order), _take(y, order)
            else:
                xe, ye = x, y
            bar = ProgressBar(len(steps), verbose)
            logs = {}
            for i, s in enumerate(steps):
                logs = self.train_step((_take(xe, s), _take(ye, s)))
                _callback(callbacks, "on_train_batch_end", i, logs)
                bar.update(i + 1, logs)
            if validation_data is not None:
                val = self.evaluate(*validation_data, batch_size=batch_size, verbose=0, return_dict=True)
                logs = {**logs, **{f"val_{k}": v for k, v in val.items()}}
            bar.update(len(steps), logs, finalize=True)
            history._record(epoch, logs)
            _callback(callbacks, "on_epoch_end", epoch, logs)
            if self.stop_training:
                break
        _callback(callbacks, "on_train_end", {})
        return history

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", return_dict=False):
        """The loss (and metrics) over ``(x, y)``, means over samples: ``loss`` when there are no
        metrics, else ``[loss, *metrics]`` (a dict with ``return_dict=True``)."""
        self._check_compiled("evaluate()")
        if y is None:
            raise ValueError("evaluate() needs targets: evaluate(x, y)")
        batch_size, verbose = _check_batch_size(batch_size), _verbosity(verbose)
        x, y = _arrays(x), _arrays(y)
        steps = _batches(_length(x), batch_size)
        self.reset_metrics()
        bar = ProgressBar(len(steps), verbose)
        logs = {}
        for i, s in enumerate(steps):
            logs = self.test_step((_take(x, s), _take(y, s)))
            bar.update(i + 1, logs)
        bar.update(len(steps), logs, finalize=True)
        if return_dict:
            return logs
        ordered = [logs["loss"]] + [logs[m.name] for m in self._metrics or []]
        return ordered[0] if len(ordered) == 1 else ordered

    def predict(self, x, batch_size=None, verbose="auto"):
        """Outputs for ``x`` in inference mode, batch by batch, as NumPy array(s)."""
        batch_size, verbose = _check_batch_size(batch_size), _verbosity(verbose)
        x = _arrays(x)
        steps = _batches(_length(x), batch_size)
        bar = ProgressBar(len(steps), verbose)
        outs = []
        for i, s in enumerate(steps):
            out = self.predict_step(_take(x, s))
            outs.append([np.asarray(o) for o in out] if isinstance(out, (list, tuple)) else np.asarray(out))
            bar.update(i + 1)
        bar.update(len(steps), finalize=True)
        if outs and isinstance(outs[0], list):
            return [np.concatenate(parts) for parts in zip(*outs)]
        return np.concatenate(outs) if outs else np.zeros((0,))

    # --- summary ---------------------------------------------------------------------------
    def _summary_rows(self):
        """(name (type), output shape, params, connected to) for each layer."""
        rows = []
        if self._functional:
            shapes = {id(layer): (t.shape,) for layer, t in zip(self._input_layers, self._inputs)}
            sources = {id(t): layer.name for layer, t in zip(self._input_layers, self._inputs)}
            for node in self._nodes:
                outs = [node.outputs[i].shape for i in sorted(node.outputs)]
                shapes[id(node.layer)] = tuple(outs)
                for t in node.outputs.values():
                    sources[id(t)] = node.layer.name
            for layer in self.layers:
                node = next((nd for nd in self._nodes if nd.layer is layer), None)
                links = "-" if node is None else ", ".join(
                    f"{sources.get(id(t), t.name)}[0][{t.index}]" for t in node.inputs)
                shape = shapes.get(id(layer), ("?",))
                rows.append((layer, shape[0] if len(shape) == 1 else list(shape), links))
        else:
            out_shapes = getattr(self, "_output_shapes", {})
            for layer in self.layers:
                rows.append((layer, out_shapes.get(id(layer), "?"), None))
        return rows

    def summary(self, line_length=None, print_fn=None):
        """Print a Keras-like table of layers, output shapes and parameter counts."""
        print_fn = print_fn or print
        rows = self._summary_rows()
        connected = self._functional and len(self._nodes) > 0
        widths = [22, 19, 12, 21] if connected else [33, 24, 15]
        heads = ["Layer (type)", "Output Shape", "Param #", "Connected to"][:len(widths)]

        def fit_text(text, width, right=False):
            text = str(text)
            if len(text) > width - 2:
                text = text[:width - 3] + "…"
            return f" {text:>{width - 2}} " if right else f" {text:<{width - 2}} "

        def line(cells, left, mid, right):
            return left + mid.join(fit_text(c, w, right=(i == 2)) for i, (c, w) in enumerate(zip(cells, widths))) + right

        def rule(left, mid, right, fill):
            return left + mid.join(fill * w for w in widths) + right

        print_fn(f'Model: "{self.name}"')
        print_fn(rule("┏", "┳", "┓", "━"))
        print_fn(line(heads, "┃", "┃", "┃"))
        print_fn(rule("┡", "╇", "┩", "━"))
        for i, (layer, shape, links) in enumerate(rows):
            params = f"{layer.count_params():,}" if layer.built else "0 (unbuilt)"
            cells = [f"{layer.name} ({type(layer).__name__})", shape, params] + ([links] if connected else [])
            print_fn(line(cells, "│", "│", "│"))
            if i < len(rows) - 1:
                print_fn(rule("├", "┼", "┤", "─"))
        print_fn(rule("└", "┴", "┘", "─"))
        trainable = self.trainable_weights if self.built else []
        non_trainable = self.non_trainable_weights if self.built else []
        sizes = [(int(np.prod(w.shape)), w.dtype.itemsize) for w in trainable + non_trainable]
        t_count = sum(int(np.prod(w.shape)) for w in trainable)
        t_bytes = sum(int(np.prod(w.shape)) * w.dtype.itemsize for w in trainable)
        total = sum(s for s, _ in sizes)
        total_bytes = sum(s * b for s, b in sizes)
        opt_vars = list(getattr(self.optimizer, "variables", None) or []) if self.optimizer is not None else []
        opt_count = sum(int(np.prod(np.shape(v))) for v in opt_vars)
        opt_bytes = sum(int(np.prod(np.shape(v))) * np.asarray(v).dtype.itemsize for v in opt_vars)
        print_fn(f" Total params: {total + opt_count:,} ({_readable_bytes(total_bytes + opt_bytes)})")
        print_fn(f" Trainable params: {t_count:,} ({_readable_bytes(t_bytes)})")
        print_fn(f" Non-trainable params: {total - t_count:,} ({_readable_bytes(total_bytes - t_bytes)})")
        if opt_count:
            print_fn(f" Optimizer params: {opt_count:,} ({_readable_bytes(opt_bytes)})")


def _readable_bytes(n):
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.2f} {unit}"
        n /= 1024


# ---------------------------------------------------------------------------------------------
# Sequential
# ---------------------------------------------------------------------------------------------


class Sequential(Model):
    """A stack of layers, each feeding the next: ``Sequential([beras.Input((64,)), Dense(10)])``.

    Built as soon as the input shape is known (a leading ``beras.Input``, or ``input_shape=`` on the
    first layer), otherwise on the first call.
    """

    def __init__(self, layers=None, trainable=True, name=None):
        super().__init__(name=name or unique_name("sequential"), trainable=trainable)
        self._stack = []           # the layers, in order
        self._symbolic = None      # the output KerasTensor once the input shape is known
        self._input_tensor = None
        self._output_shapes = {}
        for layer in layers or []:
            self.add(layer)

    def add(self, layer):
        """Append a layer (or, first, a ``beras.Input`` / ``InputLayer`` giving the input shape)."""
        if isinstance(layer, (KerasTensor, InputLayer)):
            if self._stack or self._input_tensor is not None:
                raise ValueError("An Input can only be the first element of a Sequential model")
            shape = layer.shape if isinstance(layer, KerasTensor) else layer.batch_shape
            dtype = layer.dtype
            self._start(KerasTensor(shape, dtype))
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"Only beras layers can be added to a Sequential model, got {type(layer).__name__}: "
                            f"{layer!r}")
        if any(layer is other for other in self._stack):
            raise ValueError(f"Layer '{layer.name}' is already in this Sequential model")
        self._stack.append(layer)
        self._layers.append(layer)
        if self._symbolic is None and len(self._stack) == 1 and layer._input_shape_arg is not None:
            self._start(KerasTensor(layer._input_shape_arg, layer.dtype))
        elif self._symbolic is not None:
            self._symbolic = layer(self._symbolic)
            self._output_shapes[id(layer)] = self._symbolic.shape

    def pop(self):
        """Remove the last layer."""
        if not self._stack:
            raise TypeError("There are no layers in the model.")
        layer = self._stack.pop()
        self._layers.remove(layer)
        if self._input_tensor is not None:
            self._start(self._input_tensor)
        return layer

    def _start(self, tensor):
        self._input_tensor = self._symbolic = tensor
        self._output_shapes = {}
        for layer in self._stack:
            self._symbolic = layer(self._symbolic)
            self._output_shapes[id(layer)] = self._symbolic.shape
        self.built = True

    def build(self, input_shape=None):
        if input_shape is None:
            if self._input_tensor is None:
                raise ValueError("Sequential.build needs an input_shape (e.g. (None, 64)) when the model "
                                 "has no beras.Input")
            return
        self._start(KerasTensor((None, *tuple(input_shape)[1:]), self.dtype))

    @property
    def layers(self):
        return list(self._stack)

    def call(self, inputs, training=None):
        x = inputs
        for layer in self._stack:
            x = layer(x, training=training)
        return x

    def compute_output_shape(self, input_shape):
        shape = input_shape
        for layer in self._stack:
            shape = layer.compute_output_shape(shape)
        return shape

    def summary(self, line_length=None, print_fn=None):
        if not self.built:
            raise ValueError("This model has not yet been built. Build the model first by calling build() "
                             "or by calling the model on a batch of data, or give it a beras.Input.")
        super().summary(line_length, print_fn)
