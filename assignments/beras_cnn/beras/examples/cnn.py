"""Twin CNNs for the 8x8 digits, in beras and in Keras, and a side-by-side run (``make demo``).

    >>> from beras.examples.cnn import build_cnn, build_resnet, side_by_side
    >>> model = build_cnn("beras")       # or "keras": the same code builds both twins
    >>> side_by_side(epochs=10)          # trains both, prints test accuracy and seconds per epoch

The CNN:    [Conv2D 3x3 'same' -> BatchNormalization -> ReLU -> AveragePooling2D 2x2] x 2 (16, 32 filters)
            -> Flatten -> Dense(64, relu) -> Dense(10) logits.        8x8x1 -> 4x4x16 -> 2x2x32 -> 10
The ResNet: stem Conv2D 3x3 (16); three *pre-activation* residual blocks (He et al. 2016, "Identity
            mappings": BN -> ReLU -> conv, twice, added to the shortcut with no ReLU after the add; 16;
            32 with stride 2 and a 1x1 stride-2 projection of the pre-activated input; 32); BN -> ReLU;
            GlobalAveragePooling2D -> Dense(10) logits.
These are library examples, deliberately not the assignments' graded architectures (beras_cnn's Part 4
asks for max pooling; cnn_architectures grades the original post-activation block): the release test
(tests/autograder/authoring/test_release_leaks.py) checks that nothing shipped passes a graded part's checks.
Both: sparse categorical cross-entropy from logits, Adam, accuracy. Names of every layer, weight and
argument are Keras's, so each builder is one piece of code run against ``beras`` or ``keras``.
"""
from __future__ import annotations

import time

import numpy as np

import beras

from ..datasets import load_digits

INPUT_SHAPE = (8, 8, 1)
NUM_CLASSES = 10


def _framework(framework):
    if framework == "beras":
        lib = beras
    elif framework == "keras":
        import keras as lib  # deferred: Keras (and TF) load only when the Keras twin is asked for
    else:
        raise ValueError(f"Unknown framework {framework!r}; valid: ['beras', 'keras']")
    return lib


def _compile(lib, model, learning_rate):
    model.compile(optimizer=lib.optimizers.Adam(learning_rate=learning_rate),
                  loss=lib.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model


def build_cnn(framework="beras", filters=(16, 32), dense=64, learning_rate=3e-3, bn_momentum=0.9, seed=None,
              compile=True):
    """The digits CNN (two conv-BN-ReLU-average-pool stages and a dense head) in ``framework``, compiled.

    ``bn_momentum`` 0.9 (Keras's default is 0.99): with ~45 steps per epoch the moving statistics
    used at test time would otherwise lag the weights for the first epochs."""
    lib = _framework(framework)
    if seed is not None:
        lib.utils.set_random_seed(seed)
    L = lib.layers
    stages = []
    for f in filters:
        stages += [L.Conv2D(f, 3, padding="same", use_bias=False), L.BatchNormalization(momentum=bn_momentum),
                   L.ReLU(), L.AveragePooling2D(2)]
    model = lib.Sequential([lib.Input(INPUT_SHAPE), *stages, L.Flatten(),
                            L.Dense(dense, activation="relu"), L.Dense(NUM_CLASSES)])
    return _compile(lib, model, learning_rate) if compile else model


def preact_block(L, x, filters, strides=1, bn_momentum=0.99):
    """A pre-activation block (ResNet v2): BN-ReLU-conv3x3, BN-ReLU-conv3x3, added to the shortcut (no
    ReLU after the add). The shortcut is a 1x1 convolution (stride ``strides``, no BN) of the
    pre-activated input when the shape changes, the identity otherwise."""
    pre = L.ReLU()(L.BatchNormalization(momentum=bn_momentum)(x))
    y = L.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False)(pre)
    y = L.ReLU()(L.BatchNormalization(momentum=bn_momentum)(y))
    y = L.Conv2D(filters, 3, padding="same", use_bias=False)(y)
    if strides != 1 or x.shape[-1] != filters:
        x = L.Conv2D(filters, 1, strides=strides, use_bias=False)(pre)
    return L.Add()([y, x])


def build_resnet(framework="beras", widths=(16, 32), learning_rate=3e-3, bn_momentum=0.9, seed=None, compile=True):
    """The small pre-activation digits ResNet (functional): stem, blocks (w0), (w1, stride 2, projection),
    (w1); BN-ReLU; GAP; Dense.
    ``bn_momentum`` as in :func:`build_cnn`."""
    lib = _framework(framework)
    if seed is not None:
        lib.utils.set_random_seed(seed)
    L = lib.layers
    inputs = lib.Input(INPUT_SHAPE)
    x = L.Conv2D(widths[0], 3, padding="same", use_bias=False)(inputs)
    x = preact_block(L, x, widths[0], bn_momentum=bn_momentum)
    x = preact_block(L, x, widths[1], strides=2, bn_momentum=bn_momentum)
    x = preact_block(L, x, widths[1], bn_momentum=bn_momentum)
    x = L.ReLU()(L.BatchNormalization(momentum=bn_momentum)(x))
    outputs = L.Dense(NUM_CLASSES)(L.GlobalAveragePooling2D()(x))
    model = lib.Model(inputs, outputs)
    return _compile(lib, model, learning_rate) if compile else model


class EpochTimer:
    """Wall-clock seconds of each epoch (a callback for beras's and, wrapped, Keras's ``fit``)."""

    def __init__(self):
        self.seconds, self._t0 = [], None

    def on_epoch_begin(self, epoch, logs=None):
        self._t0 = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._t0)

    def for_framework(self, framework):
        if framework == "keras":
            import keras  # deferred, as in _framework
            return keras.callbacks.LambdaCallback(on_epoch_begin=self.on_epoch_begin,
                                                  on_epoch_end=self.on_epoch_end)
        return self


def train(framework, data, build=build_cnn, epochs=10, batch_size=32, verbose=1, seed=0, initial_weights=None,
          **kwargs):
    """Build and fit one twin; returns (model, test accuracy, median seconds per epoch)."""
    (x_train, y_train), (x_test, y_test) = data
    model = build(framework, seed=seed, **kwargs)
    if initial_weights is not None:
        model.set_weights(initial_weights)
    timer = EpochTimer()
    model.fit(x_train, y_train, epochs=epochs, batch_size=batch_size, verbose=verbose,
              callbacks=[timer.for_framework(framework)])
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    return model, float(accuracy), float(np.median(timer.seconds))


def side_by_side(epochs=10, verbose=1, batch_size=32):
    """Train the beras CNN and its Keras twin (from the same initial weights) on the digits;
    print and return {framework: {"test_accuracy", "seconds_per_epoch"}} (median epoch time, which
    leaves out Keras's one-off graph tracing in its first epoch)."""
    data = load_digits()
    start = build_cnn("keras", seed=0).get_weights()  # both twins start from these weights
    results = {}
    for framework in ("beras", "keras"):
        if verbose:
            print(f"\n--- {framework} CNN on the 8x8 digits ({len(data[0][0])} train / {len(data[1][0])} test)")
        _, accuracy, per_epoch = train(framework, data, epochs=epochs, batch_size=batch_size, verbose=verbose,
                                       initial_weights=start)
        results[framework] = {"test_accuracy": accuracy, "seconds_per_epoch": per_epoch}
    print(f"\nCNN (conv-BN-ReLU-avgpool x2, dense head), {epochs} epochs, batch {batch_size}")
    print(f"{'':<8}{'test accuracy':>15}{'s/epoch':>10}")
    for framework, r in results.items():
        print(f"{framework:<8}{r['test_accuracy']:>15.4f}{r['seconds_per_epoch']:>10.3f}")
    ratio = results["beras"]["seconds_per_epoch"] / results["keras"]["seconds_per_epoch"]
    print(f"beras/keras time per epoch: {ratio:.2f}x")
    return results


if __name__ == "__main__":
    side_by_side()
