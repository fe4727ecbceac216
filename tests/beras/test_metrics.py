"""beras.metrics' stateful metrics vs Keras 3 over several batches, and metric lookup."""
import keras
import numpy as np
import pytest
from keras.src.trainers.compile_utils import get_metric as keras_get_metric

import beras

rng = np.random.default_rng(0)
N, C = 7, 4
IDS = [rng.integers(0, C, N) for _ in range(3)]
SCORES = [rng.standard_normal((N, C)).astype("float32") for _ in range(3)]
PROBS = [rng.random((N, 1)).astype("float32") for _ in range(3)]
BINARY = [(rng.random((N, 1)) > 0.5).astype("float32") for _ in range(3)]


def batches(name):
    """(y_true, y_pred) per batch for each metric class."""
    return {
        "Accuracy": [(np.round(p * 2), np.round(p * 2 + 0.3)) for p in PROBS],
        "BinaryAccuracy": list(zip(BINARY, PROBS)),
        "CategoricalAccuracy": [(np.eye(C, dtype="float32")[i], s) for i, s in zip(IDS, SCORES)],
        "SparseCategoricalAccuracy": list(zip(IDS, SCORES)),
    }[name]


@pytest.mark.parametrize("name", ["Accuracy", "BinaryAccuracy", "CategoricalAccuracy", "SparseCategoricalAccuracy"])
def test_accuracy_metrics_match_keras_over_batches(name):
    b, k = getattr(beras.metrics, name)(), getattr(keras.metrics, name)()
    assert b.name == k.name
    for (y, p), w in zip(batches(name), [None, np.linspace(0, 1, N), None]):
        b.update_state(y, p, sample_weight=w)
        k.update_state(y, p, sample_weight=w)
        assert np.asarray(b.result()).dtype == np.float32
        assert float(b.result()) == pytest.approx(float(k.result()), abs=1e-7)
    b.reset_state()
    assert float(b.result()) == 0.0
    y, p = batches(name)[0]
    assert float(b(y, p)) == pytest.approx(float(getattr(keras.metrics, name)()(y, p)), abs=1e-7)  # __call__


def test_binary_accuracy_threshold():
    b, k = beras.metrics.BinaryAccuracy(threshold=0.7), keras.metrics.BinaryAccuracy(threshold=0.7)
    for y, p in zip(BINARY, PROBS):
        b.update_state(y, p)
        k.update_state(y, p)
    assert float(b.result()) == pytest.approx(float(k.result()), abs=1e-7)


@pytest.mark.parametrize("values,weights", [
    ([1.0, 3.0, 5.0, 7.0], None),
    ([1.0, 3.0, 5.0, 7.0], [1.0, 1.0, 0.0, 0.0]),
    (np.arange(12.0).reshape(4, 3), None),            # rank 2: averaged per sample first
    (np.arange(12.0).reshape(4, 3), [0.5, 1, 2, 0]),
    (2.5, None),                                      # a scalar counts as one sample
    (2.5, 32.0),                                      # how fit() weights a batch loss by its size
])
def test_mean_matches_keras(values, weights):
    b, k = beras.metrics.Mean(), keras.metrics.Mean()
    for _ in range(2):
        b.update_state(values, sample_weight=weights)
        k.update_state(values, sample_weight=weights)
    assert float(b.result()) == pytest.approx(float(k.result()), rel=1e-6)
    assert b.name == k.name == "mean"


def test_mean_of_nothing_is_zero_and_accepts_tensors():
    m = beras.metrics.Mean(name="loss")
    assert float(m.result()) == 0.0 and m.name == "loss"
    m.update_state(beras.constant([2.0, 4.0]))
    assert float(m.result()) == 3.0


def test_get_like_keras():
    assert beras.metrics.get("categorical_accuracy") is beras.metrics.categorical_accuracy
    assert isinstance(beras.metrics.get("CategoricalAccuracy"), beras.metrics.CategoricalAccuracy)
    assert isinstance(beras.metrics.get(beras.metrics.Mean), beras.metrics.Mean)
    m = beras.metrics.Accuracy()
    assert beras.metrics.get(m) is m
    assert beras.metrics.get(None) is None


@pytest.mark.parametrize("identifier", ["accuracy", "acc", "categorical_accuracy", "sparse_categorical_accuracy",
                                        "binary_accuracy"])
@pytest.mark.parametrize("y_true,y_pred", [
    (np.zeros((4,)), np.zeros((4, 3))),        # sparse labels
    (np.zeros((4, 1)), np.zeros((4, 3))),      # sparse labels as a column
    (np.zeros((4, 3)), np.zeros((4, 3))),      # one-hot
    (np.zeros((4, 1)), np.zeros((4, 1))),      # binary
])
def test_get_metric_resolves_like_keras_compile(identifier, y_true, y_pred):
    b, k = beras.metrics.get_metric(identifier, y_true, y_pred), keras_get_metric(identifier, y_true, y_pred)
    assert b.name == k.name
    b_fn = getattr(b, "_fn", None)
    k_fn = getattr(k, "_fn", None)
    assert b_fn.__name__ == k_fn.__name__, f"{identifier}: beras {b_fn.__name__}, keras {k_fn.__name__}"
