"""Attacks that read the answers instead of computing them, run against the real hidden tests (in process,
through ``LocalStudent``: the calls a sandboxed grading makes, without a grading's cost; the sandboxed path
is tests/hostile/ and the fake model in tests/real_batches.py):

- beras_cnn: ``build_cnn`` returns a class named ``Sequential`` with dummy ``Conv2D`` / ``MaxPooling2D``
  layers whose ``predict`` looks each image up in scikit-learn's digits (it classifies the public test split
  perfectly): the overfit, training and structure checks evaluate the model's weights themselves, so it
  fails each of them;
- cnn_architectures and training_deep_cnns: the model builder walks up to ``fit``'s frame, makes
  ``course.train`` a no-op and ``predict_classes`` return the test labels (the process's own, else the
  public data set's): the training checks send no label and score images in a secret order, so it earns
  nothing.
"""
import importlib.util
import sys

import numpy as np
import pytest

from autograder.hidden import HiddenTestFailure, LocalStudent
from tests import ROOT

pytestmark = pytest.mark.slow(seconds=20)   # imports TensorFlow, runs the trusted training code (no training)


def hidden_module(name):
    spec = importlib.util.spec_from_file_location(f"_attack_hidden_{name}", ROOT / "solutions" / name / "hidden_tests.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- beras_cnn: a model that looks its inputs up --------------------------------------------------------
class Conv2D:
    kernel = np.zeros((3, 3, 1, 8))   # what a filter plot reads


class MaxPooling2D:
    pass


class Dense:
    pass


def _public_digits():
    from sklearn.datasets import load_digits
    digits = load_digits()
    return (digits.images / 16.0).astype(np.float32), digits.target


class Sequential:
    """No weights at all: every answer is the public data set's label of the nearest public image."""

    def __init__(self):
        self.layers = [Conv2D(), MaxPooling2D(), Dense()]
        self.optimizer = "adam"

    def _lookup(self, x):
        images, labels = _public_digits()
        x = np.asarray(x, np.float32).reshape(len(x), -1)
        nearest = ((x[:, None, :] - images.reshape(len(images), -1)[None]) ** 2).sum(-1).argmin(axis=1)
        return np.eye(10)[labels[nearest]]

    def fit(self, x, y, **kwargs):
        return type("History", (), {"history": {"loss": list(np.geomspace(2.3, 1e-3, kwargs.get("epochs", 1))),
                                                "accuracy": [1.0] * kwargs.get("epochs", 1)}})()

    def predict(self, x, verbose=0):
        return self._lookup(x)

    def __call__(self, x, training=False):
        return self._lookup(x)


def build_cnn(num_classes=10):
    return Sequential()


def test_the_fake_model_reads_the_public_labels():
    """The attack is real: its lookup classifies the public test split perfectly."""
    (_, _), (x_test, y_test) = hidden_module("beras_cnn")._digits()
    assert np.mean(build_cnn().predict(x_test).argmax(axis=1) == y_test) == 1.0


@pytest.mark.parametrize("check", ["check_training", "check_overfit", "build_cnn_structure"])
def test_a_fake_model_fails_every_check_that_trusted_it(check):
    student = LocalStudent({"build_cnn": build_cnn, "__name__": "__main__"})
    with pytest.raises(Exception) as e:   # the grader fails a check on any exception
        getattr(hidden_module("beras_cnn"), check)(student)
    assert "100" not in str(e.value)


# -- the Keras training checks: labels from fit's frame ---------------------------------------------------
def _steal(build_real):
    """A model builder that walks up to the trusted ``fit``'s frame, makes training a no-op and predictions the
    labels of the test split it finds (or, with none that fits, the public data set's test labels)."""
    def build(*args, **kwargs):
        frame = sys._getframe(1)
        while frame is not None and "profile" not in frame.f_locals:
            frame = frame.f_back
        course = sys.modules[frame.f_globals["__name__"]]
        profile, data = frame.f_locals["profile"], frame.f_locals.get("data")

        def predict_classes(model, _profile, x, batch_size=None):
            labels = getattr(data, "y_test", None)
            if labels is None or len(labels) != len(x):
                labels = course.load_data(profile).y_test
            return np.asarray(labels, np.int64)
        course.train = lambda *a, **k: {"loss": [0.01], "accuracy": [1.0]}
        course.predict_classes = predict_classes
        return build_real(*args, **kwargs)
    return build


def _tiny_model(num_classes, input_shape):
    import keras
    return keras.Sequential([keras.Input(tuple(input_shape)), keras.layers.Flatten(),
                             keras.layers.Dense(num_classes, activation="softmax")])


def test_stolen_labels_earn_nothing_in_cnn_architectures():
    mod = hidden_module("cnn_architectures")
    build_resnet = _steal(lambda depth, k, shape: _tiny_model(k, shape))
    score = mod.training_check(LocalStudent({"build_resnet": build_resnet, "__name__": "__main__"}))
    assert score.fraction == 0.0, score.message
    assert score.leaderboard["test accuracy"] < 0.3, score.message


@pytest.mark.parametrize("check", ["b_sd_training_check", "b_strided_training_check"])
def test_stolen_labels_earn_nothing_in_training_deep_cnns(check):
    mod = hidden_module("training_deep_cnns")
    namespace = {"build_sd_resnet": _steal(lambda depth, k, shape, **kw: _tiny_model(k, shape)),
                 "build_downsample_cnn": _steal(lambda k, shape, *a, **kw: _tiny_model(k, shape)),
                 "__name__": "__main__"}
    score = getattr(mod, check)(LocalStudent(namespace))
    assert score.fraction == 0.0, score.message
    assert score.leaderboard["test accuracy"] < 0.3, score.message


def test_the_labels_never_reach_the_students_process():
    """What the training probe is given: images only (no y in its inputs), the test split in a secret order
    with noise, so even the public labels in order match only by chance."""
    mod = hidden_module("cnn_architectures")
    seen = {}

    class Spy(LocalStudent):
        def probe(self, code, timeout=None, **inputs):
            seen.update(inputs)
            raise HiddenTestFailure("stop")
    with pytest.raises(HiddenTestFailure):
        mod.training_check(Spy({}))
    assert not [k for k in seen if k.startswith("y")], sorted(seen)
    training = mod.trusted_training()
    public = training.load_data(training.select_profile("smoke")).x_test
    assert seen["x_eval"].shape == public.shape and not np.any(np.all(seen["x_eval"] == public, axis=(1, 2, 3)))


# -- answers by constants (what a hijacked worker loop returns): the hidden cases are drawn at each grading ----
def test_constants_of_the_old_cases_fail_beras_cnns_part1():
    """The arithmetic functions answered from a table of the cases the hidden test used to fix (as a notebook
    cell that wraps the worker's ``serve`` would): cases drawn at each grading miss the table."""
    from autograder.grading.notebook.cells import definitions
    import nbformat
    nb = nbformat.read(ROOT / "solutions" / "beras_cnn" / "beras_cnn.ipynb", as_version=4)
    cells = [{"source": c.source} for c in nb.cells if c.cell_type == "code"]
    honest = {}
    for name in ("conv_output_size", "same_padding", "conv_params"):
        exec(definitions(cells, name), honest)  # noqa: S102 - the reference's own functions
    mod = hidden_module("beras_cnn")
    mod.part1_functions(LocalStudent(honest))   # the reference passes on any draw
    old = {(224, 7, 3, 2): 112, (13, 3, 1, 1): 13, (11, 4, 0, 3): 3, (9, 9, 0, 1): 1}
    table = dict(honest, conv_output_size=lambda w, f, p, s: old.get((w, f, p, s), 0))
    with pytest.raises(HiddenTestFailure, match="conv_output_size"):
        mod.part1_functions(LocalStudent(table))


def test_constants_of_fixed_sizes_fail_cnn_architectures_vgg_block():
    """vgg_block's hidden sizes are drawn at each grading and its output is checked against its own weights run
    by the grader: a probe answered with the old cases' constants (shape, parameter count) fails."""
    mod = hidden_module("cnn_architectures")

    old = {(10, 10, 3): {"params": mod.vgg_params(3, 5, 1), "shape": [None, 5, 5, 5]},
           (6, 6, 2): {"params": mod.vgg_params(2, 4, 4), "shape": [None, 3, 3, 4]}}

    class Table(LocalStudent):
        def probe(self, code, timeout=None, **inputs):
            answer = old.get(tuple(inputs["input_shape"]), {"params": 0, "shape": []})
            return {**answer, "trainable": answer["params"], "layers": ["InputLayer", "Conv2D", "MaxPooling2D"],
                    "out": None, "weights": None}
    with pytest.raises(HiddenTestFailure):
        mod.vgg_other_sizes(Table({}))
