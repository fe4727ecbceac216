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
        "TopKCategoricalAccuracy": [(np.eye(C, dtype="float32")[i], s) for i, s in zip(IDS, SCORES)],
        "SparseTopKCategoricalAccuracy": list(zip(IDS, SCORES)),
    }[name]


@pytest.mark.parametrize("name", ["Accuracy", "BinaryAccuracy", "CategoricalAccuracy", "SparseCategoricalAccuracy",
                                  "TopKCategoricalAccuracy", "SparseTopKCategoricalAccuracy"])
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


@pytest.mark.parametrize("name", ["TopKCategoricalAccuracy", "SparseTopKCategoricalAccuracy"])
@pytest.mark.parametrize("k", [1, 2, 3])
def test_top_k_metrics_with_k_match_keras_over_batches(name, k):
    """k below the 4 classes (k=5, the default, counts every label of 4 classes as a hit)."""
    b, kk = getattr(beras.metrics, name)(k=k), getattr(keras.metrics, name)(k=k)
    assert (b.name, b.k) == (kk.name, kk.k)
    for y, p in batches(name):
        b.update_state(y, p)
        kk.update_state(y, p)
        assert float(b.result()) == pytest.approx(float(kk.result()), abs=1e-7)
    assert 0 < float(b.result()) < 1


# tf.math.in_top_k's edge cases: ties across the k-th place, NaN/inf anywhere in a row, labels out of range
EDGE_SCORES = np.array([[0.1, 0.3, 0.3, 0.3], [0.5, 0.2, 0.2, 0.1], [np.nan, 0.2, 0.3, 0.1],
                        [0.1, np.inf, 0.3, 0.1], [0.4, 0.3, 0.2, -np.inf], [0.4, 0.3, 0.2, 0.1]], "float32")


@pytest.mark.parametrize("k", [-1, 0, 1, 2, 3, 4, 5])
@pytest.mark.parametrize("labels", [[2, 1, 0, 1, 3, 3], [1, 2, 2, 0, 0, 4], [0, 3, 1, 3, 1, -1]])
def test_in_top_k_matches_tf_on_ties_and_non_finite_scores(k, labels):
    import tensorflow as tf
    expected = tf.math.in_top_k(tf.constant(labels, "int32"), EDGE_SCORES, k).numpy()
    np.testing.assert_array_equal(beras.metrics.in_top_k(labels, EDGE_SCORES, k), expected)
    np.testing.assert_array_equal(beras.metrics.sparse_top_k_categorical_accuracy(labels, EDGE_SCORES, k=k),
                                  keras.metrics.sparse_top_k_categorical_accuracy(labels, EDGE_SCORES, k=k))


def test_in_top_k_counts_every_tie_of_the_kth_place():
    assert beras.metrics.in_top_k([0, 1, 2, 3], np.array([[3.0, 2, 2, 1]] * 4), 2).tolist() == [True, True, True, False]


def test_top_k_accuracy_of_higher_rank_and_sorted_ids_match_keras():
    scores = rng.standard_normal((3, 2, 5)).astype("float32")
    labels = rng.integers(0, 5, (3, 2))
    np.testing.assert_array_equal(beras.metrics.sparse_top_k_categorical_accuracy(labels, scores, k=2),
                                  keras.metrics.sparse_top_k_categorical_accuracy(labels, scores, k=2))
    np.testing.assert_array_equal(beras.metrics.top_k_categorical_accuracy(np.eye(5)[labels], scores, k=3),
                                  keras.metrics.top_k_categorical_accuracy(np.eye(5)[labels], scores, k=3))
    ids = np.argsort(-scores[:, 0], axis=1).astype("float32")     # class ids, best first
    for k in (1, 3, 7):
        b = beras.metrics.SparseTopKCategoricalAccuracy(k=k, from_sorted_ids=True)
        kk = keras.metrics.SparseTopKCategoricalAccuracy(k=k, from_sorted_ids=True)
        assert float(b(labels[:, 0], ids)) == pytest.approx(float(kk(labels[:, 0], ids)), abs=1e-7)


def test_top_k_accuracy_shape_errors_name_both_shapes():
    with pytest.raises(ValueError, match=r"\(3,\).*\(2, 4\)"):
        beras.metrics.sparse_top_k_categorical_accuracy([0, 1, 2], np.zeros((2, 4), "float32"))
    with pytest.raises(ValueError, match=r"\(2,\).*\(2,\)"):
        beras.metrics.sparse_top_k_categorical_accuracy([0, 1], np.zeros(2, "float32"))
    with pytest.raises(ValueError, match=r"predictions \(2, 4\) and targets \(3,\)"):
        beras.metrics.in_top_k([0, 1, 2], np.zeros((2, 4)), 1)


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
                                        "binary_accuracy", "top_k_categorical_accuracy",
                                        "sparse_top_k_categorical_accuracy"])
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
