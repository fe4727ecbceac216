"""Twin MLPs for the 8x8 digits, in beras and in Keras, and a side-by-side run (``make demo``).

    >>> from beras.examples.mlp import side_by_side
    >>> side_by_side(epochs=10)          # trains both, prints accuracies and seconds per epoch

The model: Flatten (8, 8, 1) -> 64, Dense(hidden, relu), Dense(10) logits; the loss is sparse
categorical cross-entropy from logits; Adam. Same architecture, initializers and optimizer in both.
"""
from __future__ import annotations

import time

import beras

from ..datasets import load_digits

INPUT_SHAPE = (8, 8, 1)
NUM_CLASSES = 10


def build_mlp(framework="beras", hidden=(128,), learning_rate=3e-3, seed=None):
    """The digits MLP, compiled, in ``framework`` ('beras' or 'keras')."""
    if framework == "beras":
        lib = beras
    elif framework == "keras":
        import keras as lib  # deferred: Keras (and TF) load only when the Keras twin is asked for
    else:
        raise ValueError(f"Unknown framework {framework!r}; valid: ['beras', 'keras']")
    if seed is not None:
        lib.utils.set_random_seed(seed)
    L = lib.layers
    model = lib.Sequential([lib.Input(INPUT_SHAPE), L.Flatten()]
                           + [L.Dense(h, activation="relu") for h in hidden] + [L.Dense(NUM_CLASSES)])
    model.compile(optimizer=lib.optimizers.Adam(learning_rate=learning_rate),
                  loss=lib.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model


def train(framework, data, epochs=10, batch_size=32, verbose=1, seed=0, **kwargs):
    """Build and fit one twin; returns (model, test accuracy, seconds per epoch)."""
    (x_train, y_train), (x_test, y_test) = data
    model = build_mlp(framework, seed=seed, **kwargs)
    t0 = time.perf_counter()
    model.fit(x_train, y_train, epochs=epochs, batch_size=batch_size, verbose=verbose)
    per_epoch = (time.perf_counter() - t0) / epochs
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    return model, float(accuracy), per_epoch


def side_by_side(epochs=10, verbose=1, batch_size=32):
    """Train the beras MLP and its Keras twin on the digits; print and return accuracies and s/epoch."""
    data = load_digits()
    results = {}
    for framework in ("beras", "keras"):
        if verbose:
            print(f"\n--- {framework} MLP on the 8x8 digits ({len(data[0][0])} train / {len(data[1][0])} test)")
        _, accuracy, per_epoch = train(framework, data, epochs=epochs, batch_size=batch_size, verbose=verbose)
        results[framework] = {"test_accuracy": accuracy, "seconds_per_epoch": per_epoch}
    print(f"\n{'':<8}{'test accuracy':>15}{'s/epoch':>10}")
    for framework, r in results.items():
        print(f"{framework:<8}{r['test_accuracy']:>15.4f}{r['seconds_per_epoch']:>10.3f}")
    print(f"beras/keras time per epoch: {results['beras']['seconds_per_epoch'] / results['keras']['seconds_per_epoch']:.2f}x")
    return results


if __name__ == "__main__":
    side_by_side()
