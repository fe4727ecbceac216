"""The main job: the beras CNN learns the 8x8 digits (>= 97% test accuracy); the small ResNet trains."""
import numpy as np

import beras
from beras.datasets import load_digits
from beras.examples.cnn import build_cnn, build_resnet
import pytest

pytestmark = pytest.mark.slow   # end to end (see tests/__init__.py): left out of `make check`


def test_beras_cnn_reaches_97_percent_on_the_digits():
    (x, y), (x_test, y_test) = load_digits()
    model = build_cnn("beras", seed=0)
    history = model.fit(x, y, epochs=8, batch_size=32, verbose=0)
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0] / 10
    assert accuracy >= 0.97, f"test accuracy {accuracy:.4f} < 0.97"


def test_beras_resnet_trains():
    (x, y), (x_test, y_test) = load_digits()
    model = build_resnet("beras", seed=0)
    assert sum(isinstance(layer, beras.layers.Add) for layer in model.layers) == 3
    x, y = x[:640], y[:640]  # small and quick: 2 epochs of 20 steps
    loss0, _ = model.evaluate(x, y, verbose=0)
    history = model.fit(x, y, epochs=2, batch_size=32, verbose=0)
    losses = history.history["loss"]
    assert losses[1] < losses[0] < loss0 and losses[1] < loss0 / 3, f"loss did not fall: {loss0}, {losses}"
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    assert accuracy > 0.5, f"test accuracy {accuracy:.3f} is not clearly above chance (0.1)"
    assert np.isfinite(losses).all()
