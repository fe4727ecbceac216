"""Parity rows for beras.losses (functions and classes) and beras.metrics' functions vs Keras 3.

dtypes. Keras's loss *functions* follow y_pred's dtype, so they run in float64 and float32. Keras's
loss *classes* compute in their ``dtype`` argument (default floatx = float32, whatever the input):
the class rows build the Keras twin with ``dtype=`` the input's dtype (beras's default follows
y_pred), and the ``/keras-default-dtype`` rows compare both defaults in float32 only, where they
coincide. Keras's metric functions always return floatx (float32), so metric rows run in float32
only and have no gradient.

Clipping. Probabilities are drawn inside (0, 1), away from the 1e-7 clip bounds, except in the
``/at-kink`` rows that put exact 0s and 1s in y_pred: there the clip's zero gradient is TF's
convention (finite differences see a one-sided slope, so test_gradcheck skips those rows).
Gradients are compared w.r.t. y_pred *and* y_true where Keras differentiates y_true (float labels).
"""
import keras
import numpy as np
from keras.src.metrics.accuracy_metrics import accuracy as keras_accuracy  # not exported by keras.metrics
from hypothesis import strategies as st

import beras

from .strategies import arrays, shapes
from .table import Row

# ---------------------------------------------------------------- strategies


def _sigmoid(a):
    return 1 / (1 + np.exp(-a))


def _rows(a):
    e = np.exp(a - a.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def batch_classes():
    return st.tuples(st.integers(1, 5), st.integers(2, 5))


def _apart(y, p, gap=0.05):
    """Predictions at least ``gap`` from the labels: where p ~ y the true gradient is ~0 and both
    libraries return float noise, which no relative error can compare."""
    return np.where(np.abs(p - y) < gap, np.where(y < 0.5, y + 2 * gap, y - 2 * gap), p)


def classification(kind, pred):
    """Strategy builder: labels of ``kind`` ('one-hot'; 'soft': 0.7 one-hot + 0.3 uniform; 'sparse';
    'sparse-column') and predictions mapped by ``pred`` ('probs': positive rows, not normalized;
    'logits'; 'edge': probs with exact 0s and 1s, no all-zero row)."""
    def inputs(d):
        def build(nc):
            n, c = nc
            ids = st.lists(st.integers(0, c - 1), min_size=n, max_size=n).map(np.array)
            return st.tuples(ids, arrays(d, (n, c))).map(lambda t: finish(*t, c, d))
        return batch_classes().flatmap(build)

    def finish(ids, b, c, d):
        y_true = {"one-hot": lambda: np.eye(c)[ids], "soft": lambda: 0.7 * np.eye(c)[ids] + 0.3 / c,
                  "sparse": lambda: ids.astype(float), "sparse-column": lambda: ids[:, None].astype(float)}[kind]()
        y_pred = {"probs": lambda: np.abs(b) + 0.1, "logits": lambda: b, "edge": lambda: _edge(b)}[pred]()
        return [y_true.astype(d), y_pred.astype(d)]
    return inputs


def _edge(b):
    p = np.clip(np.round(_sigmoid(2 * b) * 2) / 2, 0, 1)
    p[p.sum(axis=-1) == 0, 0] = 1.0  # an all-zero row is 0/0 in Keras's normalisation
    return p


def elementwise(pred, min_dims=1, binary=False):
    """y_true and y_pred of one shape. 'regression': any reals. Otherwise labels are soft (multiples
    of 0.25) or, with ``binary``, 0/1, and y_pred is 'probs' (in (0.04, 0.96), >= 0.05 from the label),
    'logits' (the logits of such probs) or 'edge' (exact 0, 0.5 and 1)."""
    def inputs(d):
        def finish(a, b):
            if pred == "regression":
                return [a, b]
            y_true = (a > 0).astype(float) if binary else np.round(_sigmoid(a) * 4) / 4
            p = _apart(y_true, _sigmoid(b))
            y_pred = {"probs": p, "logits": np.log(p / (1 - p)), "edge": np.round(_sigmoid(2 * b) * 2) / 2}[pred]
            return [y_true.astype(d), y_pred.astype(d)]
        return shapes(min_dims=min_dims).flatmap(lambda s: st.tuples(arrays(d, s), arrays(d, s))).map(
            lambda t: finish(*t))
    return inputs


# ---------------------------------------------------------------- row builders


def fn_row(name, b_fn, k_fn, inputs, **kw):
    return Row(f"losses.{name}", lambda t, p: b_fn(t, p, **kw), lambda t, p: k_fn(t, p, **kw), inputs)


def class_row(name, b_cls, k_cls, inputs, dtypes=("float64", "float32"), keras_dtype=True, weighted=False, scale=1.0,
              **kw):
    """A Loss class row; the Keras twin computes in the inputs' dtype (see the module docstring)."""
    def k(t, p, *w):
        extra = {"dtype": p.dtype.name} if keras_dtype else {}
        return k_cls(**kw, **extra)(t, p, *w)

    def inputs_w(d):
        def add_weights(xs):  # one weight per per-sample loss
            shape = xs[1].shape[:-1]
            return xs + [np.linspace(0.5, 2.0, int(np.prod(shape))).reshape(shape).astype(d)]
        return inputs(d).map(add_weights)
    return Row(f"losses.{name}", lambda t, p, *w: b_cls(**kw)(t, p, *w), k,
               inputs_w if weighted else inputs, dtypes=dtypes, scale=scale)


def metric_row(name, b_fn, k_fn, inputs, **kw):
    return Row(f"metrics.{name}", lambda t, p: b_fn(t, p, **kw), lambda t, p: k_fn(t, p, **kw), inputs,
               grad=False, dtypes=("float32",))


B, K = beras.losses, keras.losses
SPARSE_LOGITS = classification("sparse", "logits")

ROWS = [
    # ---- per-sample functions
    fn_row("mean_squared_error", B.mean_squared_error, K.mean_squared_error, elementwise("regression")),
    fn_row("binary_crossentropy", B.binary_crossentropy, K.binary_crossentropy, elementwise("probs")),
    fn_row("binary_crossentropy/at-kink", B.binary_crossentropy, K.binary_crossentropy, elementwise("edge")),
    fn_row("binary_crossentropy/from_logits", B.binary_crossentropy, K.binary_crossentropy,
           elementwise("logits"), from_logits=True),
    fn_row("binary_crossentropy/label_smoothing", B.binary_crossentropy, K.binary_crossentropy,
           elementwise("probs", binary=True), label_smoothing=0.2),
    fn_row("categorical_crossentropy", B.categorical_crossentropy, K.categorical_crossentropy,
           classification("one-hot", "probs")),
    fn_row("categorical_crossentropy/soft-labels", B.categorical_crossentropy, K.categorical_crossentropy,
           classification("soft", "probs")),
    fn_row("categorical_crossentropy/at-kink", B.categorical_crossentropy, K.categorical_crossentropy,
           classification("one-hot", "edge")),
    fn_row("categorical_crossentropy/from_logits", B.categorical_crossentropy, K.categorical_crossentropy,
           classification("soft", "logits"), from_logits=True),
    fn_row("categorical_crossentropy/label_smoothing", B.categorical_crossentropy, K.categorical_crossentropy,
           classification("one-hot", "probs"), label_smoothing=0.1),
    fn_row("sparse_categorical_crossentropy", B.sparse_categorical_crossentropy, K.sparse_categorical_crossentropy,
           classification("sparse", "probs")),
    fn_row("sparse_categorical_crossentropy/from_logits", B.sparse_categorical_crossentropy,
           K.sparse_categorical_crossentropy, SPARSE_LOGITS, from_logits=True),
    fn_row("sparse_categorical_crossentropy/column-labels", B.sparse_categorical_crossentropy,
           K.sparse_categorical_crossentropy, classification("sparse-column", "probs")),
    # ---- classes: every reduction on MSE and CCE, the default reduction elsewhere
    *[class_row(f"MeanSquaredError/{r}", B.MeanSquaredError, K.MeanSquaredError, elementwise("regression", 2),
                reduction=r) for r in ("sum_over_batch_size", "sum", "none")],
    class_row("MeanSquaredError/keras-default-dtype", B.MeanSquaredError, K.MeanSquaredError,
              elementwise("regression", 2), dtypes=("float32",), keras_dtype=False),
    class_row("MeanSquaredError/rank-mismatch", B.MeanSquaredError, K.MeanSquaredError,
              lambda d: elementwise("regression")(d).map(lambda xs: [xs[0].reshape(-1), xs[1].reshape(-1, 1)])),
    class_row("MeanSquaredError/sample_weight", B.MeanSquaredError, K.MeanSquaredError,
              elementwise("regression", 2), weighted=True),
    *[class_row(f"CategoricalCrossentropy/{r}", B.CategoricalCrossentropy, K.CategoricalCrossentropy,
                classification("one-hot", "probs"), reduction=r) for r in ("sum_over_batch_size", "sum", "none")],
    class_row("CategoricalCrossentropy/from_logits", B.CategoricalCrossentropy, K.CategoricalCrossentropy,
              classification("one-hot", "logits"), from_logits=True),
    class_row("CategoricalCrossentropy/from_logits-sum", B.CategoricalCrossentropy, K.CategoricalCrossentropy,
              classification("soft", "logits"), from_logits=True, reduction="sum"),
    class_row("CategoricalCrossentropy/label_smoothing", B.CategoricalCrossentropy, K.CategoricalCrossentropy,
              classification("one-hot", "logits"), from_logits=True, label_smoothing=0.1),
    class_row("CategoricalCrossentropy/keras-default-dtype", B.CategoricalCrossentropy, K.CategoricalCrossentropy,
              classification("one-hot", "probs"), dtypes=("float32",), keras_dtype=False),
    class_row("CategoricalCrossentropy/sample_weight", B.CategoricalCrossentropy, K.CategoricalCrossentropy,
              classification("one-hot", "probs"), weighted=True),
    class_row("SparseCategoricalCrossentropy", B.SparseCategoricalCrossentropy, K.SparseCategoricalCrossentropy,
              classification("sparse", "probs")),
    class_row("SparseCategoricalCrossentropy/from_logits", B.SparseCategoricalCrossentropy,
              K.SparseCategoricalCrossentropy, SPARSE_LOGITS, from_logits=True),
    class_row("SparseCategoricalCrossentropy/from_logits-none", B.SparseCategoricalCrossentropy,
              K.SparseCategoricalCrossentropy, classification("sparse-column", "logits"), from_logits=True,
              reduction="none"),
    class_row("SparseCategoricalCrossentropy/keras-default-dtype", B.SparseCategoricalCrossentropy,
              K.SparseCategoricalCrossentropy, SPARSE_LOGITS, dtypes=("float32",), keras_dtype=False,
              from_logits=True),
    class_row("BinaryCrossentropy", B.BinaryCrossentropy, K.BinaryCrossentropy, elementwise("probs", 2, binary=True)),
    class_row("BinaryCrossentropy/from_logits", B.BinaryCrossentropy, K.BinaryCrossentropy,
              elementwise("logits", 2), from_logits=True),
    class_row("BinaryCrossentropy/from_logits-sum", B.BinaryCrossentropy, K.BinaryCrossentropy,
              elementwise("logits", 1), from_logits=True, reduction="sum"),
    class_row("BinaryCrossentropy/label_smoothing", B.BinaryCrossentropy, K.BinaryCrossentropy,
              elementwise("probs", 2, binary=True), label_smoothing=0.1),
    class_row("BinaryCrossentropy/keras-default-dtype", B.BinaryCrossentropy, K.BinaryCrossentropy,
              elementwise("probs", 2), dtypes=("float32",), keras_dtype=False),
    # ---- Keras's softmax/sigmoid activations hand their logits to the cross-entropies (no clipping):
    # logits scaled by 10 so that some probabilities fall below the 1e-7 clip. The gradient w.r.t. the
    # unscaled logits is 10 x (p - y): 10 x the rounding of O(1) probabilities where p ~ y (scale=10)
    class_row("CategoricalCrossentropy/softmax-activation",
              lambda **kw: lambda t, p: B.CategoricalCrossentropy(**kw)(t, beras.activations.softmax(p * 10.0)),
              lambda **kw: lambda t, p: K.CategoricalCrossentropy(**kw)(t, keras.activations.softmax(p * 10.0)),
              classification("one-hot", "logits"), scale=10.0),
    class_row("SparseCategoricalCrossentropy/softmax-activation",
              lambda **kw: lambda t, p: B.SparseCategoricalCrossentropy(**kw)(t, beras.activations.softmax(p * 10.0)),
              lambda **kw: lambda t, p: K.SparseCategoricalCrossentropy(**kw)(t, keras.activations.softmax(p * 10.0)),
              SPARSE_LOGITS, scale=10.0),
    class_row("BinaryCrossentropy/sigmoid-activation",
              lambda **kw: lambda t, p: B.BinaryCrossentropy(**kw)(t, beras.activations.sigmoid(p * 10.0)),
              lambda **kw: lambda t, p: K.BinaryCrossentropy(**kw)(t, keras.activations.sigmoid(p * 10.0)),
              elementwise("logits", 2, binary=True), scale=10.0),
    # ---- metric functions (per-sample 0/1 values, float32 like Keras, no gradient)
    metric_row("accuracy", beras.metrics.accuracy, keras_accuracy,
               lambda d: elementwise("regression")(d).map(lambda xs: [np.round(x) for x in xs])),
    metric_row("binary_accuracy", beras.metrics.binary_accuracy, keras.metrics.binary_accuracy,
               elementwise("edge", binary=True)),
    metric_row("binary_accuracy/threshold0.7", beras.metrics.binary_accuracy, keras.metrics.binary_accuracy,
               elementwise("probs", binary=True), threshold=0.7),
    metric_row("categorical_accuracy", beras.metrics.categorical_accuracy, keras.metrics.categorical_accuracy,
               classification("one-hot", "edge")),
    metric_row("sparse_categorical_accuracy", beras.metrics.sparse_categorical_accuracy,
               keras.metrics.sparse_categorical_accuracy, classification("sparse", "edge")),
    metric_row("sparse_categorical_accuracy/column-labels", beras.metrics.sparse_categorical_accuracy,
               keras.metrics.sparse_categorical_accuracy, classification("sparse-column", "logits")),
    # top-k: 'edge' scores are 0, 0.5 and 1 only, so most rows have ties across the k-th place (tf.math.in_top_k
    # counts every class tied with the k-th best as in the top k); k from 1 to more than the classes
    metric_row("top_k_categorical_accuracy", beras.metrics.top_k_categorical_accuracy,
               keras.metrics.top_k_categorical_accuracy, classification("one-hot", "logits")),
    *[metric_row(f"top_k_categorical_accuracy/k{k}-ties", beras.metrics.top_k_categorical_accuracy,
                 keras.metrics.top_k_categorical_accuracy, classification("one-hot", "edge"), k=k) for k in (1, 2, 3)],
    metric_row("sparse_top_k_categorical_accuracy", beras.metrics.sparse_top_k_categorical_accuracy,
               keras.metrics.sparse_top_k_categorical_accuracy, classification("sparse", "logits")),
    *[metric_row(f"sparse_top_k_categorical_accuracy/k{k}-ties", beras.metrics.sparse_top_k_categorical_accuracy,
                 keras.metrics.sparse_top_k_categorical_accuracy, classification("sparse", "edge"), k=k)
      for k in (1, 2, 3)],
    metric_row("sparse_top_k_categorical_accuracy/column-labels-k2", beras.metrics.sparse_top_k_categorical_accuracy,
               keras.metrics.sparse_top_k_categorical_accuracy, classification("sparse-column", "edge"), k=2),
]
