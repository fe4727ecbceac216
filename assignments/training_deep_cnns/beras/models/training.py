"""Training for every Model, like Keras 3's: ``Sequential``, the functional ``Model(inputs, outputs)``, and subclassed
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

import numpy as np

from .. import losses, optimizers, utils
from .. import metrics as metrics_module
from ..core.ops import reduce_mean
from ..core.tensor import GradientTape
from .progress import History, ProgressBar, _callback

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


class Training:
    """``compile``, ``train_step`` / ``test_step`` / ``predict_step`` and ``fit`` / ``evaluate`` /
    ``predict``: mixed into :class:`~beras.models.functional.Model` (which calls ``_init_training``)."""

    def _init_training(self):
        self.optimizer = self.loss = None
        self.compiled = False
        self.stop_training = False
        self.history = None
        self._metric_ids, self._metrics = [], None
        self._loss_tracker = metrics_module.Mean(name="loss")

    def compile(self, optimizer="rmsprop", loss=None, metrics=None):
        """Choose the optimizer, the loss and the metrics (names or objects, like Keras)."""
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
        if self._metrics is None:
            self._metrics = [metrics_module.get_metric(m, y, y_pred) for m in self._metric_ids]
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
