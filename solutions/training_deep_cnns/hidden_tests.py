"""Hidden tests of training_deep_cnns (instructor only, never released): 24 points of hidden tests (10 for
Parts 1-3, 14 for Parts 4-6, two of them training checks), and the trusted checks of the notebook's grade
cells (no points of their own: a grade cell's points count only when its check passes here).

Part 1 (beras Dropout and BatchNormalization) runs in the stencil worker (``probe(..., stencil=True)``: only the
student's beras is imported there, so the framework rule watches it); the expected values are the seeded masks
(``np.random.default_rng(seed)``, the generator the layer's docstring names) and ``keras.layers.BatchNormalization``
run here, in the grader. Part 2 (the gradient probe) builds a model from trusted code in the student's process,
with weights made here, and compares the student's norms with norms this process computes on the same weights.
Part 3 (DenseNet-BC, VGG, GoogLeNet) builds the student's networks there and compares their parameter counts,
shapes and layers with the architecture arithmetic below. Parts 4-6 (stochastic depth, augmentation and
test-time augmentation, looking inside) check the student's functions on grader-made inputs and grader-built
models, and train the student's stochastic-depth ResNet and strided CNN with the course recipe (training.py).
"""
from __future__ import annotations

import importlib.util
import math
import os
import sys
from pathlib import Path

import numpy as np

from autograder.hidden import (HiddenTestFailure, Score, as_array, assert_close, assert_equal, check_close, filter_tiles,
                               hidden_test, secret_test_split, series, trusted_check)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _keras():
    import keras
    return keras


def _tf():
    import tensorflow as tf
    return tf


# =============================================================================================
# Part 1a: Dropout (visible 5 + hidden 2)
# =============================================================================================
DROPOUT_PROBE = """
import numpy as np
import beras
result = {}
for i, (x, rate, seed, noise_shape) in enumerate(cases):
    x = np.asarray(x)
    layer = beras.layers.Dropout(rate, noise_shape=noise_shape, seed=seed)
    first = layer(beras.constant(x), training=True)
    second = layer(beras.constant(x), training=True)
    result[f"first{i}"], result[f"second{i}"] = np.asarray(first), np.asarray(second)
    result[f"dtype{i}"] = str(np.asarray(first).dtype)
    result[f"inference{i}"] = np.asarray(layer(x, training=False))
    result[f"default{i}"] = np.asarray(layer(x))
    xb = beras.constant(x)
    with beras.GradientTape() as tape:
        tape.watch(xb)
        y = beras.layers.Dropout(rate, noise_shape=noise_shape, seed=seed)(xb, training=True)
    g = tape.gradient(y, xb, output_gradients=beras.constant(np.asarray(upstreams[i], x.dtype)))
    result[f"grad{i}"] = None if g is None else g.numpy()
"""


def _dropout_cases(student, cases, what):
    rng = np.random.default_rng(11)
    upstreams = [rng.standard_normal(np.shape(c[0])).astype(np.asarray(c[0]).dtype) for c in cases]
    got = student.probe(DROPOUT_PROBE, stencil=True, cases=cases, upstreams=upstreams)
    for i, (x, rate, seed, noise_shape) in enumerate(cases):
        x = np.asarray(x)
        shape = x.shape if noise_shape is None else tuple(s if n is None else n for s, n in zip(x.shape, noise_shape))
        gen = np.random.default_rng(seed)
        masks = []
        for _ in range(2):
            if rate == 1:
                masks.append(np.zeros(shape, x.dtype))
            elif rate == 0:
                masks.append(np.ones(shape, x.dtype))
            else:
                masks.append((gen.random(shape) < 1 - rate).astype(x.dtype) / x.dtype.type(1 - rate))
        case = f"{what}: Dropout({rate}, noise_shape={noise_shape}, seed={seed}) on {x.dtype} {x.shape}"
        assert_close(got[f"first{i}"], x * masks[0], f"{case}, first training call (expected the seeded mask: one "
                     f"self._generator().random(mask shape) draw u, units with u < 1 - rate kept and scaled by "
                     f"1 / (1 - rate))", 1e-6)
        if 0 < rate < 1:
            assert_close(got[f"second{i}"], x * masks[1], f"{case}, second training call (the generator's next mask)", 1e-6)
        assert_equal(got[f"dtype{i}"], str(x.dtype), f"{case}: output dtype")
        assert_close(got[f"inference{i}"], x, f"{case}, training=False (the identity)", 1e-6)
        assert_close(got[f"default{i}"], x, f"{case}, training=None (the identity)", 1e-6)
        if got[f"grad{i}"] is None:
            raise HiddenTestFailure(f"{case}: the tape found no gradient w.r.t. the input (expected the mask)")
        fresh = np.random.default_rng(seed)
        mask = masks[0] if rate in (0, 1) else (fresh.random(shape) < 1 - rate).astype(x.dtype) / x.dtype.type(1 - rate)
        assert_close(got[f"grad{i}"], np.broadcast_to(mask, x.shape) * upstreams[i],
                     f"{case}: gradient w.r.t. the input (the mask times the upstream gradient)", 1e-6)


@trusted_check("test_dropout", part="dropout")
def check_dropout(student):
    rng = np.random.default_rng(0)
    cases = [(rng.standard_normal((200, 50)).astype("float32"), 0.3, 1, None),
             (np.ones((100, 1000), "float32"), 0.3, 2, None),
             (rng.standard_normal((3, 5)), 0.5, 3, None),
             (rng.standard_normal((4, 6)).astype("float32"), 1.0, None, None),
             (rng.standard_normal((4, 6)).astype("float32"), 0.0, None, None)]
    _dropout_cases(student, cases, "the visible cases")


@hidden_test(points=2, name="Dropout: float64, 4-D input, noise_shape, rates 0.1 and 0.9, consecutive masks, gradient",
             part="dropout")
def dropout_more(student):
    rng = np.random.default_rng(5)
    cases = [(rng.standard_normal((6, 4, 4, 3)), 0.25, 7, None),
             (rng.standard_normal((8, 5, 3)).astype("float32"), 0.5, 8, (None, 1, None)),
             (rng.standard_normal((50, 40)).astype("float32"), 0.9, 9, None),
             (rng.standard_normal((2, 3, 3, 2)), 0.1, 10, None)]
    _dropout_cases(student, cases, "other cases")


# =============================================================================================
# Part 1b: BatchNormalization (visible 5 + 4, hidden 2)
# =============================================================================================
BN_LAYER_PROBE = """
import numpy as np
import beras
layer = beras.layers.BatchNormalization(**config)
layer.build((None, *shape[1:]))
layer.set_weights([np.asarray(w, dtype) for w in weights])
outs, stats, grads = [], [], None
for i, (x, training) in enumerate(calls):
    xb = beras.constant(np.asarray(x, dtype))
    if i == 0 and upstream is not None:
        with beras.GradientTape() as tape:
            tape.watch(xb)
            y = layer(xb, training=training)
        watched = [xb] + [v for v in (layer.gamma, layer.beta) if v is not None]
        grads = [None if g is None else g.numpy()
                 for g in tape.gradient(y, watched, output_gradients=beras.constant(np.asarray(upstream, dtype)))]
    else:
        y = layer(xb, training=training)
    outs.append(np.asarray(y))
    stats.append([np.asarray(w) for w in layer.get_weights()])
result = {"outs": outs, "stats": stats, "grads": grads}
"""


def _keras_bn(config, shape, weights, calls, upstream=None):
    """keras.layers.BatchNormalization on the same calls, here (float32): outputs, weights after each call, and
    (for the first call, when ``upstream`` is given) the gradients w.r.t. x, gamma, beta."""
    keras, tf = _keras(), _tf()
    layer = keras.layers.BatchNormalization(**config)
    layer.build((None, *shape[1:]))
    layer.set_weights([np.asarray(w, "float32") for w in weights])
    outs, stats, grads = [], [], None
    for i, (x, training) in enumerate(calls):
        xt = tf.constant(np.asarray(x, "float32"))
        if i == 0 and upstream is not None:
            with tf.GradientTape() as tape:
                tape.watch(xt)
                y = layer(xt, training=training)
            watched = [xt] + [v for v in (layer.gamma, layer.beta) if v is not None]
            grads = [g.numpy() for g in tape.gradient(y, watched, output_gradients=tf.constant(np.asarray(upstream, "float32")))]
        else:
            y = layer(xt, training=training)
        outs.append(y.numpy())
        stats.append([w for w in layer.get_weights()])
    return {"outs": outs, "stats": stats, "grads": grads}


def _bn_weights(c, seed, config):
    gen = np.random.default_rng(seed)
    w = []
    if config.get("scale", True):
        w.append(gen.uniform(0.5, 2.0, c).astype("float32"))
    if config.get("center", True):
        w.append(gen.standard_normal(c).astype("float32"))
    return w + [np.zeros(c, "float32"), np.ones(c, "float32")]


def _bn_compare(student, what, config, shape, calls, seed=0, upstream=None, dtype="float32", tol=1e-4):
    axis = config.get("axis", -1)
    weights = _bn_weights(shape[axis], seed, config)
    got = student.probe(BN_LAYER_PROBE, stencil=True, config=config, shape=list(shape), weights=weights, calls=calls,
                        upstream=upstream, dtype=dtype)
    want = _keras_bn(config, shape, weights, calls, upstream)
    names = (["gamma"] if config.get("scale", True) else []) + (["beta"] if config.get("center", True) else []) + \
        ["moving_mean", "moving_variance"]
    if len(got["outs"]) != len(calls):
        raise HiddenTestFailure(f"{what}: expected {len(calls)} outputs, got {len(got['outs'])}")
    for i, (_x, training) in enumerate(calls):
        mode = "training" if training else "inference"
        assert_close(got["outs"][i], want["outs"][i], f"{what}, call {i + 1} ({mode}): output vs Keras", tol)
        if len(got["stats"][i]) != len(names):
            raise HiddenTestFailure(f"{what}, call {i + 1}: expected weights {names}, got {len(got['stats'][i])} arrays")
        for name, g, w in zip(names, got["stats"][i], want["stats"][i]):
            assert_close(g, w, f"{what}, after call {i + 1} ({mode}): {name} vs Keras", tol)
    if upstream is not None:
        if got["grads"] is None or any(g is None for g in got["grads"]):
            raise HiddenTestFailure(f"{what}: the tape found no gradient w.r.t. x, gamma or beta")
        for name, g, w in zip(["x", "gamma", "beta"], got["grads"], want["grads"]):
            assert_close(g, w, f"{what}: training-mode gradient w.r.t. {name} vs TF's tape on the Keras layer", 5e-4)


@trusted_check("test_batchnorm_training", part="batchnorm")
def check_batchnorm_training(student):
    rng = np.random.default_rng(20)
    x = (rng.standard_normal((6, 4, 4, 3)) * 2 + 1).astype("float32")
    _bn_compare(student, "BatchNormalization(momentum=0.9) on (6, 4, 4, 3)", {"momentum": 0.9}, x.shape,
                [(x, True)], upstream=rng.standard_normal(x.shape).astype("float32"))
    x = (rng.standard_normal((10, 5)) * 3 - 1).astype("float32")
    _bn_compare(student, "BatchNormalization(momentum=0.99) on (10, 5)", {"momentum": 0.99}, x.shape,
                [(x, True)], seed=1, upstream=rng.standard_normal(x.shape).astype("float32"))


@trusted_check("test_batchnorm_inference", part="batchnorm")
def check_batchnorm_inference(student):
    rng = np.random.default_rng(21)
    for momentum in (0.99, 0.9):
        calls = [((rng.standard_normal((8, 5, 5, 4)) * (s + 1) + s).astype("float32"), True) for s in range(5)]
        calls.append((rng.standard_normal((3, 5, 5, 4)).astype("float32"), False))
        calls.append((rng.standard_normal((3, 5, 5, 4)).astype("float32"), None))
        _bn_compare(student, f"BatchNormalization(momentum={momentum}): 5 training steps, then inference",
                    {"momentum": momentum}, (8, 5, 5, 4), calls, seed=1)
    x = (rng.standard_normal((4, 3, 5, 5)) * 3 - 2).astype("float32")
    _bn_compare(student, "BatchNormalization(axis=1, momentum=0.9) (channels first)", {"axis": 1, "momentum": 0.9},
                x.shape, [(x, True), (x, False)], seed=2)


@hidden_test(points=2, name="BatchNormalization: axis=1 and axis=2, center/scale off, epsilon, float64, gradients",
             part="batchnorm")
def batchnorm_more(student):
    rng = np.random.default_rng(22)
    x = (rng.standard_normal((5, 3, 4, 6)) * 2 + 3).astype("float32")
    _bn_compare(student, "BatchNormalization(axis=2, momentum=0.8, epsilon=0.01)",
                {"axis": 2, "momentum": 0.8, "epsilon": 0.01}, x.shape,
                [(x, True), (x * 2 - 1, True), (x, False)], seed=3, upstream=rng.standard_normal(x.shape).astype("float32"))
    x = rng.standard_normal((7, 3, 4)).astype("float32")
    _bn_compare(student, "BatchNormalization(axis=1, center=False, scale=False)",
                {"axis": 1, "center": False, "scale": False, "momentum": 0.5}, x.shape,
                [(x, True), (x + 1, True), (x, False)], seed=4)
    x = rng.standard_normal((9, 4)) * 5
    _bn_compare(student, "BatchNormalization(momentum=0.9) on float64 input", {"momentum": 0.9}, x.shape,
                [(x, True), (x / 2, True), (x, False)], seed=5, dtype="float64")


# =============================================================================================
# Part 1c: overfitting 20 digits with beras (visible 3)
# =============================================================================================
OVERFIT_PROBE = """
import numpy as np
import beras


def build_small_cnn(dropout=0.0, batch_norm=False, num_classes=10):
    stack = [beras.Input((8, 8, 1))]
    for filters in (16, 32):
        stack.append(beras.layers.Conv2D(filters, 3, padding="same", use_bias=not batch_norm))
        if batch_norm:
            stack.append(beras.layers.BatchNormalization(momentum=0.9))
        stack += [beras.layers.ReLU(), beras.layers.MaxPooling2D(2)]
    stack.append(beras.layers.Flatten())
    if dropout:
        stack.append(beras.layers.Dropout(dropout))
    stack.append(beras.layers.Dense(num_classes, activation="softmax"))
    model = beras.Sequential(stack)
    model.compile(beras.optimizers.Adam(0.01), "sparse_categorical_crossentropy", ["accuracy"])
    return model


result = {}
x, y = np.asarray(x, "float32"), np.asarray(y)
for name, (rate, bn) in configs.items():
    beras.utils.set_random_seed(0)
    model = build_small_cnn(rate, bn)
    losses = model.fit(x, y, batch_size=len(x), epochs=steps, verbose=0).history["loss"]
    result[name] = {"losses": losses, "probs": np.asarray(model(x, training=False), dtype=np.float64)}
"""
OVERFIT_CONFIGS = {"plain": (0.0, False), "dropout 0.5": (0.5, False), "batch norm": (0.0, True),
                   "batch norm + dropout 0.5": (0.5, True)}


def _digits():
    """beras.datasets.load_digits()'s split, computed here from scikit-learn (the grader imports no beras)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[..., None]
    labels = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(images, labels, test_size=360, random_state=0, stratify=labels)
    return (x_train, y_train), (x_test, y_test)


@trusted_check("test_overfit", part="overfit")
def check_overfit(student):
    (x_train, y_train), _ = _digits()
    tiny = np.concatenate([np.flatnonzero(y_train == k)[:2] for k in range(10)])
    x, y = x_train[tiny], y_train[tiny]
    got = student.probe(OVERFIT_PROBE, stencil=True, x=x, y=y, configs=OVERFIT_CONFIGS, steps=40)
    curves, problems, summary = {}, [], []
    for name in OVERFIT_CONFIGS:
        probs = np.asarray(got[name]["probs"], np.float64)
        assert_equal(probs.shape, (20, 10), f"{name}: outputs on the 20 digits, shape")
        loss = float(-np.mean(np.log(np.clip(probs[np.arange(20), y], 1e-12, None))))
        fitted = int(np.sum(probs.argmax(axis=1) == y))
        curves[f"training loss, {name}"] = series(got[name]["losses"])
        summary.append(f"{name}: inference loss {loss:.4f}, {fitted}/20")
        if not (loss < 0.1 and fitted == 20):
            problems.append(f"{name}: expected an inference-mode loss below 0.1 with all 20 right, got {loss:.4f} and "
                            f"{fitted}/20")
    if problems:
        raise HiddenTestFailure("overfitting 20 digits in 40 full-batch steps: " + "; ".join(problems), curves=curves)
    return Score(1.0, "overfitting 20 digits: " + "; ".join(summary), curves=curves)


# =============================================================================================
# Part 2: the gradient probe (visible 5 + 4, hidden 3)
# =============================================================================================
NET_SOURCE = '''
import numpy as np
import keras
from keras import layers


def trusted_net(depth, residual, batch_norm=True, num_classes=10, input_shape=(8, 8, 1), extra_1x1=False):
    """The notebook's build_net with fixed layer names (so both processes name the layers alike)."""
    count = [0]

    def conv(x, filters, kernel_size=3, stride=1, relu=True):
        count[0] += 1
        x = layers.Conv2D(filters, kernel_size, strides=stride, padding="same", use_bias=not batch_norm,
                          kernel_initializer="he_normal", name=f"conv{count[0]}_{kernel_size}x{kernel_size}")(x)
        if batch_norm:
            x = layers.BatchNormalization(name=f"bn{count[0]}")(x)
        return layers.ReLU(name=f"relu{count[0]}")(x) if relu else x
    n = (depth - 2) // 6
    inputs = keras.Input(input_shape)
    x = conv(inputs, 16)
    if extra_1x1:
        x = conv(x, 16, 1)
    for stage, filters in enumerate((16, 32, 64)):
        for i in range(n):
            stride = 2 if stage > 0 and i == 0 else 1
            y = conv(x, filters, 3, stride)
            y = conv(y, filters, 3, 1, relu=False)
            if residual:
                shortcut = x
                if stride != 1 or x.shape[-1] != filters:
                    shortcut = conv(x, filters, 1, stride, relu=False)
                y = layers.Add(name=f"add{count[0]}")([shortcut, y])
            x = layers.ReLU(name=f"out{count[0]}")(y)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="classifier")(x)
    return keras.Model(inputs, outputs)
'''

NORMS_PROBE = NET_SOURCE + """
model = trusted_net(**spec)
model.set_weights([np.asarray(w) for w in weights])
got = conv_grad_norms(model, np.asarray(x, "float32"), np.asarray(y))
result = {"keys": [str(k) for k in got], "values": [float(v) for v in got.values()],
          "types": sorted({type(v).__name__ for v in got.values()})}
"""

TRAIN_PROBE = NET_SOURCE + """
import numpy as np
model = trusted_net(**spec)
model.set_weights([np.asarray(w) for w in weights])
rec = train_with_probe(model, np.asarray(x_train, "float32"), np.asarray(y_train), np.asarray(x_probe, "float32"),
                       np.asarray(y_probe), steps=steps, every=every, batch_size=batch_size, learning_rate=0.05, seed=0)
result = {"keys": sorted(str(k) for k in rec), "step": [int(s) for s in rec.get("step", [])],
          "norms": np.asarray(rec.get("norms"), dtype=np.float64), "loss": [float(v) for v in rec.get("loss", [])],
          "final": [np.asarray(w) for w in model.get_weights()]}
"""


# The student's process may compute on a GPU (full profile: TF32 convolutions, ~1e-3 relative) and this one on
# the CPU; a wrong loss, mode or layer set is off by far more than this.
NORM_TOL = 2e-3


def _grader_net(spec, seed=None, weights=None):
    namespace = {}
    exec(compile(NET_SOURCE, "trusted_net", "exec"), namespace)
    keras = _keras()
    if seed is not None:
        keras.utils.set_random_seed(seed)
    model = namespace["trusted_net"](**spec)
    if weights is not None:
        model.set_weights(weights)
    return model


def _grader_norms(model, x, y):
    """{name: ||dL/dkernel||} for the 3x3 Conv2D layers, computed here."""
    tf, keras = _tf(), _keras()
    convs = [l for l in model.layers if type(l).__name__ == "Conv2D" and tuple(l.kernel_size) == (3, 3)]
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(tf.constant(y), model(tf.constant(x), training=True)))
    kernel_grads = tape.gradient(loss, [conv.kernel for conv in convs])
    return {conv.name: float(np.linalg.norm(g.numpy())) for conv, g in zip(convs, kernel_grads)}


def _check_norms(student, spec, seed, x, y, what):
    model = _grader_net(spec, seed)
    weights = model.get_weights()
    want = _grader_norms(model, x, y)
    got = student.probe(NORMS_PROBE, spec=spec, weights=weights, x=x, y=y)
    assert_equal(got["keys"], list(want), f"{what}: the keys (the 3x3 Conv2D layers' names, in model.layers order)")
    assert_equal(got["types"], ["float"], f"{what}: the type of the values")
    assert_close(np.asarray(got["values"]), np.asarray(list(want.values())), f"{what}: the gradient norms", NORM_TOL)
    return np.asarray(got["values"])


@trusted_check("test_conv_grad_norms", part="probe")
def check_conv_grad_norms(student):
    (x_train, y_train), _ = _digits()
    for residual in (False, True):
        _check_norms(student, {"depth": 8, "residual": residual}, 1, x_train[:64], y_train[:64],
                     f"conv_grad_norms on a {'residual' if residual else 'plain'} 8-layer net")
    ratios = {}
    for residual in (False, True):
        g = _check_norms(student, {"depth": 20, "residual": residual}, 0, x_train[:128], y_train[:128],
                         f"conv_grad_norms on a {'residual' if residual else 'plain'} 20-layer net at init")
        ratios[residual] = g[0] / g[-1]
    if not ratios[False] > 1.5 * ratios[True]:
        raise HiddenTestFailure(f"at init, the plain-20 net's first/last gradient ratio should be over 1.5x the "
                                f"residual-20 net's; got {ratios[False]:.2f} vs {ratios[True]:.2f}")


@trusted_check("test_train_with_probe", part="probe")
def check_train_with_probe(student):
    (x_train, y_train), _ = _digits()
    spec = {"depth": 8, "residual": True}
    model = _grader_net(spec, 2)
    initial = model.get_weights()
    x_probe, y_probe = x_train[:64], y_train[:64]
    got = student.probe(TRAIN_PROBE, spec=spec, weights=initial, x_train=x_train[64:576], y_train=y_train[64:576],
                        x_probe=x_probe, y_probe=y_probe, steps=30, every=10, batch_size=32)
    assert_equal(got["keys"], ["loss", "norms", "step"], "train_with_probe's keys")
    assert_equal(got["step"], [0, 10, 20, 30], "record['step'] for steps=30, every=10")
    norms = np.asarray(got["norms"])
    assert_equal(tuple(norms.shape), (4, 7), "record['norms'].shape")
    assert_equal(len(got["loss"]), 30, "len(record['loss'])")
    losses = np.asarray(got["loss"])
    if not np.all(np.isfinite(losses)) or not losses[-5:].mean() < losses[:5].mean():
        raise HiddenTestFailure(f"the training loss should go down: first 5 steps {losses[:5].round(3).tolist()}, "
                                f"last 5 {losses[-5:].round(3).tolist()}", curves={"training loss": series(losses)})
    assert_close(norms[0], np.asarray(list(_grader_norms(_grader_net(spec, weights=initial), x_probe, y_probe).values())),
                 "the first row vs the norms computed here on the initial weights", NORM_TOL)
    final = [np.asarray(w, np.float32) for w in got["final"]]
    if all(np.allclose(a, b) for a, b in zip(initial, final)):
        raise HiddenTestFailure("train_with_probe did not change the model's weights")
    assert_close(norms[-1], np.asarray(list(_grader_norms(_grader_net(spec, weights=final), x_probe, y_probe).values())),
                 "the last row vs the norms computed here on the trained weights", NORM_TOL)
    return Score(1.0, f"train_with_probe: loss {losses[:5].mean():.3f} -> {losses[-5:].mean():.3f}",
                 curves={"training loss": series(losses)})


@hidden_test(points=3, name="conv_grad_norms: a 14-layer residual net, a plain net without BN and with a 1x1 conv, "
             "other batches", part="probe")
def conv_grad_norms_more(student):
    (x_train, y_train), _ = _digits()
    _check_norms(student, {"depth": 14, "residual": True}, 5, x_train[100:150], y_train[100:150],
                 "conv_grad_norms on a residual 14-layer net, batch of 50")
    _check_norms(student, {"depth": 8, "residual": False, "batch_norm": False, "extra_1x1": True}, 6, x_train[:17],
                 y_train[:17].astype(np.int32), "conv_grad_norms on a plain 8-layer net without BN, with a 1x1 conv, batch of 17")
    _check_norms(student, {"depth": 8, "residual": True, "num_classes": 3, "input_shape": (12, 12, 2)}, 7,
                 np.random.default_rng(8).standard_normal((9, 12, 12, 2)).astype("float32"),
                 np.random.default_rng(9).integers(0, 3, 9), "conv_grad_norms on 12x12x2 inputs, 3 classes")


# =============================================================================================
# Part 3: DenseNet-BC, VGG, GoogLeNet (visible 6 + 5 + 4 + 4, hidden 3)
# =============================================================================================
def bn(c, trainable=False):
    return (2 if trainable else 4) * c


def bottleneck_params(c, k, trainable=False):
    return bn(c, trainable) + c * 4 * k + bn(4 * k, trainable) + 9 * 4 * k * k


def basic_params(c, k, trainable=False):
    return bn(c, trainable) + 9 * c * k


def transition_params(m, theta, trainable=False):
    return bn(m, trainable) + m * int(math.floor(theta * m))


def dense_block_params(c, n, k, bottleneck=True, trainable=False):
    layer = bottleneck_params if bottleneck else basic_params
    return sum(layer(c + l * k, k, trainable) for l in range(n))


def densenet_params(depth, k, bottleneck, theta, num_classes, in_channels, trainable=False):
    n = (depth - 4) // (6 if bottleneck else 3)
    c = 2 * k if bottleneck else 16
    p = 9 * in_channels * c
    for block in range(3):
        p += dense_block_params(c, n, k, bottleneck, trainable)
        c += n * k
        if block < 2:
            t = theta if bottleneck else 1.0
            p += transition_params(c, t, trainable)
            c = int(math.floor(t * c))
    return p + bn(c, trainable) + c * num_classes + num_classes


BUILD = """
import numpy as np
import keras
x = keras.Input(tuple(input_shape))
y = globals()[fn](x, *args, **kwargs)
m = keras.Model(x, y)
result = {"params": int(m.count_params()), "shape": [None if d is None else int(d) for d in y.shape],
          "layers": [type(l).__name__ for l in m.layers]}
"""

DENSENET = """
import numpy as np
result = {}
for key, (args, kwargs) in cases.items():
    try:
        m = build_densenet(*args, **kwargs)
    except ValueError:
        result[key] = "ValueError"
        continue
    except Exception as e:  # noqa: BLE001
        result[key] = type(e).__name__
        continue
    result[key] = {"params": int(m.count_params()),
                   "trainable": int(sum(int(np.prod(w.shape)) for w in m.trainable_weights)),
                   "shape": [None if d is None else int(d) for d in m.output.shape],
                   "layers": [type(l).__name__ for l in m.layers]}
"""


def _build(student, fn, input_shape, *args, **kwargs):
    return student.probe(BUILD, fn=fn, input_shape=list(input_shape), args=list(args), kwargs=kwargs)


def _expect(student, fn, input_shape, args, kwargs, params, shape, case, counts=None):
    got = _build(student, fn, input_shape, *args, **kwargs)
    assert_equal(got["shape"], [None, *shape], f"{case}: output shape")
    assert_equal(got["params"], params, f"{case}: parameter count")
    for t, n in (counts or {}).items():
        assert_equal(got["layers"].count(t), n, f"{case}: number of {t} layers")
    return got


@trusted_check("test_dense_layers", part="dense_layers")
def check_dense_layers(student):
    _expect(student, "bottleneck_layer", (8, 8, 24), [12], {}, bottleneck_params(24, 12), (8, 8, 36),
            "bottleneck_layer(8x8x24, k=12)", {"Conv2D": 2, "BatchNormalization": 2, "Concatenate": 1})
    x = np.random.default_rng(30).standard_normal((2, 8, 8, 24)).astype("float32")
    got = student.probe(BUILD.replace('"layers"', '"out": np.asarray(m(np.asarray(sample, "float32"), training=False)), "layers"'),
                        fn="bottleneck_layer", input_shape=[8, 8, 24], args=[12], kwargs={}, sample=x)
    assert_close(np.asarray(got["out"])[..., :24], x, "bottleneck_layer: the first 24 output channels are the input", 1e-6)
    _expect(student, "transition_layer", (8, 8, 36), [0.5], {}, transition_params(36, 0.5), (4, 4, 18),
            "transition_layer(8x8x36, theta=0.5)", {"AveragePooling2D": 1})
    _expect(student, "transition_layer", (6, 6, 35), [0.5], {}, transition_params(35, 0.5), (3, 3, 17),
            "transition_layer(6x6x35, theta=0.5)")
    _expect(student, "dense_block", (8, 8, 16), [3, 12], {}, dense_block_params(16, 3, 12), (8, 8, 52),
            "dense_block(8x8x16, 3 bottleneck layers, k=12)")
    _expect(student, "dense_block", (8, 8, 16), [4, 6], {"bottleneck": False}, dense_block_params(16, 4, 6, False),
            (8, 8, 40), "dense_block(8x8x16, 4 basic layers, k=6)")


def _densenet_cases(student, cases):
    got = student.probe(DENSENET, cases={k: [list(a), kw] for k, (a, kw) in cases.items()})
    for key, (args, kwargs) in cases.items():
        depth, k = args[0], args[1]
        bc = kwargs.get("bottleneck", True)
        theta = kwargs.get("theta", 0.5)
        classes, shape = kwargs.get("num_classes", 10), kwargs.get("input_shape", (32, 32, 3))
        valid = depth > 4 and (depth - 4) % (6 if bc else 3) == 0
        case = f"build_densenet({depth}, {k}, bottleneck={bc}, theta={theta}, {classes} classes, input {shape})"
        if not valid:
            assert_equal(got[key], "ValueError", f"{case}: an invalid depth")
            continue
        if not isinstance(got[key], dict):
            raise HiddenTestFailure(f"{case}: expected a model, got {got[key]}")
        assert_equal(got[key]["shape"], [None, classes], f"{case}: output shape")
        assert_equal(got[key]["trainable"], densenet_params(depth, k, bc, theta, classes, shape[-1], True),
                     f"{case}: trainable parameters")
        assert_equal(got[key]["params"], densenet_params(depth, k, bc, theta, classes, shape[-1]), f"{case}: parameters")
        assert_equal(got[key]["layers"].count("AveragePooling2D"), 2, f"{case}: AveragePooling2D layers (transitions)")


@trusted_check("test_densenet", part="densenet")
def check_densenet(student):
    _densenet_cases(student, {
        "d40": ((40, 12), {"bottleneck": False}),
        "bc100": ((100, 12), {"bottleneck": True, "theta": 0.5}),
        "bc16": ((16, 4), {"bottleneck": True, "theta": 0.5, "num_classes": 5, "input_shape": (8, 8, 1)}),
        "bad41": ((41, 12), {"bottleneck": False}), "bad42": ((42, 12), {"bottleneck": True}),
        "bad4": ((4, 12), {"bottleneck": True})})


@hidden_test(points=3, name="DenseNet-BC: other growth rates, compression 0.3 on odd channel counts, other inputs, "
             "invalid depths", part="densenet")
def densenet_more(student):
    _expect(student, "transition_layer", (8, 8, 37), [0.3], {}, transition_params(37, 0.3), (4, 4, 11),
            "transition_layer(8x8x37, theta=0.3): floor(11.1) = 11")
    _expect(student, "transition_layer", (4, 4, 39), [0.3], {}, transition_params(39, 0.3), (2, 2, 11),
            "transition_layer(4x4x39, theta=0.3): floor(11.7) = 11 (not rounded)")
    _expect(student, "bottleneck_layer", (5, 5, 9), [7], {}, bottleneck_params(9, 7), (5, 5, 16), "bottleneck_layer(5x5x9, k=7)")
    _expect(student, "dense_block", (4, 4, 3), [2, 5], {"bottleneck": False}, dense_block_params(3, 2, 5, False),
            (4, 4, 13), "dense_block(4x4x3, 2 basic layers, k=5)")
    _densenet_cases(student, {
        "bc40": ((40, 8), {"bottleneck": True, "theta": 0.3, "num_classes": 7, "input_shape": (16, 16, 3)}),
        "d22": ((22, 6), {"bottleneck": False, "theta": 0.5, "num_classes": 4, "input_shape": (12, 12, 2)}),
        "bad43": ((43, 12), {"bottleneck": True}), "bad5": ((5, 12), {"bottleneck": False})})


VGG_CONFIGS = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "C": [64, 64, "M", 128, 128, "M", 256, 256, (1, 256), "M", 512, 512, (1, 512), "M", 512, 512, (1, 512), "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
}

VGG = """
import numpy as np
config = [tuple(i) if isinstance(i, list) else i for i in config]   # tuples travel as lists
m = build_vgg(config, tuple(input_shape), num_classes)
result = {"params": int(m.count_params()), "layers": [type(l).__name__ for l in m.layers],
          "kernels": [list(l.kernel_size) for l in m.layers if type(l).__name__ == "Conv2D"],
          "shape": [None if d is None else int(d) for d in m.compute_output_shape((None, *input_shape))]}
del m
"""


def vgg_params(config, input_shape, num_classes):
    h, w, c = input_shape
    p = 0
    for item in config:
        if item == "M":
            h, w = h // 2, w // 2
            continue
        k, f = item if isinstance(item, tuple) else (3, item)
        p += k * k * c * f + f
        c = f
    flat = h * w * c
    return p + flat * 4096 + 4096 + 4096 * 4096 + 4096 + 4096 * num_classes + num_classes


@trusted_check("test_vgg", part="vgg")
def check_vgg(student):
    for name, shape, classes in (("D", (224, 224, 3), 1000), ("A", (32, 32, 3), 10), ("C", (32, 32, 3), 10)):
        config = VGG_CONFIGS[name]
        got = student.probe(VGG, config=[list(i) if isinstance(i, tuple) else i for i in config],
                            input_shape=list(shape), num_classes=classes)
        case = f"build_vgg(config {name}, {shape}, {classes} classes)"
        assert_equal(got["params"], vgg_params(config, shape, classes), f"{case}: parameters")
        assert_equal(got["shape"], [None, classes], f"{case}: output shape")
        convs = [i for i in config if i != "M"]
        assert_equal(got["layers"].count("Conv2D"), len(convs), f"{case}: Conv2D layers")
        assert_equal(got["layers"].count("MaxPooling2D"), 5, f"{case}: MaxPooling2D layers")
        assert_equal(got["layers"].count("Dense"), 3, f"{case}: Dense layers")
        assert_equal(got["kernels"], [[i[0], i[0]] if isinstance(i, tuple) else [3, 3] for i in convs],
                     f"{case}: kernel sizes of the Conv2D layers, in order")
    assert_equal(vgg_params(VGG_CONFIGS["D"], (224, 224, 3), 1000), 138357544, "the grader's own VGG-16 count")


GOOGLENET_INCEPTION = {
    "inception_3a": (64, 96, 128, 16, 32, 32), "inception_3b": (128, 128, 192, 32, 96, 64),
    "inception_4a": (192, 96, 208, 16, 48, 64), "inception_4b": (160, 112, 224, 24, 64, 64),
    "inception_4c": (128, 128, 256, 24, 64, 64), "inception_4d": (112, 144, 288, 32, 64, 64),
    "inception_4e": (256, 160, 320, 32, 128, 128), "inception_5a": (256, 160, 320, 32, 128, 128),
    "inception_5b": (384, 192, 384, 48, 128, 128),
}


def inception_weights(c, f1, r3, f3, r5, f5, pp):
    return c * f1 + c * r3 + 9 * r3 * f3 + c * r5 + 25 * r5 * f5 + c * pp


GOOGLENET = """
import numpy as np
net = build_googlenet()
rows = {}
for row in names:
    try:
        rows[row] = int(net.get_layer(row).count_params())
    except ValueError:
        rows[row] = None
result = {"rows": rows, "total": int(net.count_params()),
          "shape": [None if d is None else int(d) for d in net.output.shape],
          "out5b": [None if d is None else int(d) for d in net.get_layer("inception_5b").output.shape]}
"""


@trusted_check("test_googlenet", part="googlenet")
def check_googlenet(student):
    got = _build(student, "inception_module", (28, 28, 192), 64, 96, 128, 16, 32, 32, "inception_3a")
    assert_equal(got["shape"], [None, 28, 28, 256], "inception_module (3a) on 28x28x192: output shape")
    assert_equal(got["layers"], ["InputLayer", "Functional"], "inception_module (3a): layers of keras.Model(x, module(x))")
    assert_equal(got["params"], inception_weights(192, 64, 96, 128, 16, 32, 32), "inception_module (3a): weights")
    got = _build(student, "inception_module", (9, 9, 5), 3, 2, 4, 1, 2, 6, "m")
    assert_equal(got["shape"], [None, 9, 9, 15], "inception_module(9x9x5, 3, 2, 4, 1, 2, 6): output shape")
    assert_equal(got["params"], inception_weights(5, 3, 2, 4, 1, 2, 6), "inception_module(9x9x5, 3, 2, 4, 1, 2, 6): weights")
    expected, channels = {"conv1": 7 * 7 * 3 * 64, "conv2": 64 * 64 + 9 * 64 * 192}, 192
    for row, f in GOOGLENET_INCEPTION.items():
        expected[row] = inception_weights(channels, *f)
        channels = f[0] + f[2] + f[4] + f[5]
    expected["linear"] = channels * 1000 + 1000
    got = student.probe(GOOGLENET, names=list(expected))
    assert_equal(got["shape"], [None, 1000], "GoogLeNet: output shape")
    for row, want in expected.items():
        assert_equal(got["rows"][row], want, f"GoogLeNet: parameters of the layer named {row!r}")
    assert_equal(got["out5b"], [None, 7, 7, 1024], "GoogLeNet: inception_5b's output shape")
    assert_equal(got["total"], sum(expected.values()), "GoogLeNet: total parameters")


# ============================================================================================
# Parts 4-6: stochastic depth at depth, augmentation and test-time augmentation, looking inside
# ============================================================================================
_B_TRAINING_PY = Path(__file__).resolve().parent / "training.py"


# ---------------------------------------------------------------------------------------------
# Reference formulas and helpers
# ---------------------------------------------------------------------------------------------
def _b_conv(k, cin, cout):
    return k * k * cin * cout


def _b_bn(c):
    return 4 * c                       # gamma, beta, moving mean, moving variance


def _b_sd_resnet_params(depth, in_channels, num_classes, widths=(16, 32, 64)):
    n = (depth - 2) // 6
    p, c = _b_conv(3, in_channels, widths[0]) + _b_bn(widths[0]), widths[0]
    for stage, f in enumerate(widths):
        for i in range(n):
            stride = 2 if stage > 0 and i == 0 else 1
            p += _b_conv(3, c, f) + _b_bn(f) + _b_conv(3, f, f) + _b_bn(f)
            if stride != 1 or c != f:
                p += _b_conv(1, c, f) + _b_bn(f)
            c = f
    return p + c * num_classes + num_classes


def _b_survival(num_blocks, p_L):
    return [1.0 - k / num_blocks * (1.0 - p_L) for k in range(1, num_blocks + 1)]


def _b_downsample_params(in_channels, num_classes, downsample, widths):
    p, c = 0, in_channels
    for f in widths:
        p += _b_conv(3, c, f) + _b_bn(f)
        c = f
        if downsample == "strided":
            p += _b_conv(3, f, f) + _b_bn(f)
    return p + c * num_classes + num_classes


def _b_rng(seed):
    return np.random.default_rng(seed)


def _b_shape(got, shape, case):
    arr = as_array(got, case)
    if arr.shape != tuple(shape):
        raise HiddenTestFailure(f"{case}: expected shape {tuple(shape)}, got shape {arr.shape}")
    return arr


# ---------------------------------------------------------------------------------------------
# Probes (trusted code run in the student's namespace; they return plain data)
# ---------------------------------------------------------------------------------------------
_B_SD_RESNET = """
import numpy as np
m = build_sd_resnet(depth, num_classes, tuple(input_shape), **kwargs)
sd = [l for l in m.layers if type(l).__name__ == "StochasticDepth"]
fed = set()
for l in m.layers:
    if type(l).__name__ == "Add":
        ins = l.input if isinstance(l.input, (list, tuple)) else [l.input]
        fed.update(t._keras_history[0].name for t in ins)
probs = None if sample is None else np.asarray(m(np.asarray(sample, dtype="float32"), training=False))
result = {"params": int(m.count_params()),
          "shape": [None if d is None else int(d) for d in m.output.shape],
          "layers": [type(l).__name__ for l in m.layers],
          "survival": [float(l.survival_probability) for l in sd],
          "sd_into_add": int(sum(l.name in fed for l in sd)),
          "probs": probs}
"""

_B_SD_ERRORS = """
result = {}
for depth in depths:
    try:
        build_sd_resnet(depth, 10, (8, 8, 1))
        result[str(depth)] = "no error"
    except ValueError:
        result[str(depth)] = "ValueError"
    except Exception as e:  # noqa: BLE001
        result[str(depth)] = type(e).__name__
"""

_B_DOWNSAMPLE = """
import numpy as np
m = build_downsample_cnn(num_classes, tuple(input_shape), *args)
result = {"params": int(m.count_params()),
          "shape": [None if d is None else int(d) for d in m.output.shape],
          "layers": [type(l).__name__ for l in m.layers],
          "strides": [list(l.strides) for l in m.layers if type(l).__name__ == "Conv2D"]}
"""

_B_DOWNSAMPLE_ERROR = """
try:
    build_downsample_cnn(10, (8, 8, 1), "avgpool")
    result = "no error"
except ValueError:
    result = "ValueError"
except Exception as e:  # noqa: BLE001
    result = type(e).__name__
"""

_B_TTA_PREDICT = """
import numpy as np
import keras
tiny = keras.Sequential([keras.Input(tuple(shape)), keras.layers.Flatten(),
                         keras.layers.Dense(int(np.shape(W)[1]), activation="softmax")])
tiny.set_weights([np.asarray(W, "float32"), np.asarray(b, "float32")])
result = np.asarray(tta_predict(tiny, np.asarray(x, "float32"), padding, flip=flip))
"""

_B_FILTERS = """
import numpy as np
import keras
m = keras.Sequential([keras.Input(tuple(shape)), keras.layers.Conv2D(int(np.shape(kernel)[-1]), 3, name="first"),
                      keras.layers.Conv2D(5, 3), keras.layers.GlobalAveragePooling2D()])
m.get_layer("first").set_weights([np.asarray(kernel, "float32"), np.zeros(np.shape(kernel)[-1], "float32")])
result = np.asarray(first_layer_filters(m))
"""

_B_SALIENCY = """
import numpy as np
import keras
stack = [keras.Input(tuple(shape)), keras.layers.Flatten()]
if len(weights) == 4:
    stack.append(keras.layers.Dense(int(np.shape(weights[0])[1]), activation="relu"))
stack.append(keras.layers.Dense(int(np.shape(weights[-2])[1]), activation="softmax"))
m = keras.Sequential(stack)
m.set_weights([np.asarray(w, "float32") for w in weights])
result = np.asarray(saliency_map(m, np.asarray(x, "float32"), np.asarray(labels, "int64")))
"""

_B_ACTMAX = """
import numpy as np
import keras
L = keras.layers
net = keras.Sequential([keras.Input(tuple(np.shape(x0))),
                        L.Conv2D(int(np.shape(kernel)[-1]), 3, padding="same", activation="relu", name="conv"),
                        L.GlobalAveragePooling2D(), L.Dense(int(np.shape(dense)[1]), activation="softmax", name="out")])
net.set_weights([np.asarray(kernel, "float32"), np.asarray(bias, "float32"), np.asarray(dense, "float32"),
                 np.zeros(np.shape(dense)[1], "float32")])
img, history = activation_maximization(net, layer, unit, np.asarray(x0, "float32"), **kwargs)
result = {"x": np.asarray(img), "history": [float(h) for h in history]}
"""

_B_TRAIN = """
import sys, time, types
import numpy as np
course = types.ModuleType("course_training_b")
sys.modules["course_training_b"] = course
exec(compile(training_source, "training.py (trusted copy)", "exec"), course.__dict__)
profile = course.select_profile(profile_name, data_dir)
full = course.load_data(profile)
# no test split in this process: training without validation, predictions on the grader's images only
data = course.Data(full.x_train, full.y_train, full.x_train[:1], full.y_train[:1], full.num_classes)
del full
if kind == "sd":
    build = lambda depth, k, shape: build_sd_resnet(depth, k, shape, p_L=0.5, widths=tuple(widths))
else:
    build = lambda depth, k, shape: build_downsample_cnn(k, shape, "strided", tuple(widths))
start = time.perf_counter()
model, history = course.fit(build, profile, data, epochs=epochs, validation=False)
predictions = course.predict_classes(model, profile, x_eval)
convs = [l for l in model.layers if type(l).__name__ == "Conv2D"]
result = {"predictions": predictions, "history": history, "seconds": time.perf_counter() - start,
          "first_kernel": np.asarray(convs[0].kernel, "float32") if convs else None}
"""


# ---------------------------------------------------------------------------------------------
# B1. Stochastic depth at depth
# ---------------------------------------------------------------------------------------------
def _b_expect_sd_resnet(student, depth, num_classes, input_shape, case, sample=None, **kwargs):
    got = student.probe(_B_SD_RESNET, depth=depth, num_classes=num_classes, input_shape=list(input_shape),
                        kwargs=kwargs, sample=sample)
    n = (depth - 2) // 6
    widths = tuple(kwargs.get("widths", (16, 32, 64)))
    assert_equal(got["shape"], [None, num_classes], f"{case}: output shape")
    assert_equal(got["params"], _b_sd_resnet_params(depth, input_shape[-1], num_classes, widths),
                 f"{case}: parameter count (StochasticDepth has none)")
    assert_equal(got["layers"].count("Add"), 3 * n, f"{case}: number of residual additions")
    survival = got["survival"]
    assert_equal(len(survival), 3 * n, f"{case}: number of StochasticDepth layers (one per block)")
    check_close(f"{case}: survival probabilities of the {3 * n} blocks, input to output",
                _b_survival(3 * n, kwargs.get("p_L", 0.5)), survival, tol=1e-9)
    assert_equal(got["sd_into_add"], 3 * n, f"{case}: StochasticDepth layers feeding a residual Add (the branch, "
                                            f"before the add)")
    return got


@trusted_check("test_sd_expected_depth", part="sd_expected_depth")
def check_sd_expected_depth_visible_cases(student):
    for args, kwargs in (((54,), {}), ((54,), {"p_L": 1.0}), ((3,), {}), ((9,), {"p_L": 0.2})):
        p_L = kwargs.get("p_L", 0.5)
        check_close(f"sd_expected_depth{args + tuple(kwargs.values())}", sum(_b_survival(args[0], p_L)),
                    student.call("sd_expected_depth", *args, **kwargs), tol=1e-9)


@trusted_check("test_build_sd_resnet", part="build_sd_resnet")
def check_build_sd_resnet_visible_cases(student):
    _b_expect_sd_resnet(student, 20, 10, (32, 32, 3), "build_sd_resnet(20, 10, 32x32x3)")
    _b_expect_sd_resnet(student, 20, 10, (32, 32, 3), "build_sd_resnet(20, 10, 32x32x3, p_L=1.0)", p_L=1.0)
    _b_expect_sd_resnet(student, 8, 10, (8, 8, 1), "build_sd_resnet(8, 10, 8x8x1, p_L=0.2, widths=(4, 8, 16))",
                        p_L=0.2, widths=[4, 8, 16])
    got = student.probe(_B_SD_ERRORS, depths=[19, 2])
    for d in (19, 2):
        assert_equal(got[str(d)], "ValueError", f"build_sd_resnet({d}, ...) ({d} is not 6n+2 with n >= 1)")


@hidden_test(points=3, name="stochastic depth: expected depth and the SD ResNet at other depths, widths, inputs",
             part="build_sd_resnet")
def b_sd_other_depths(student):
    for L, p_L in ((1, 0.5), (27, 0.8), (100, 0.0)):
        check_close(f"sd_expected_depth({L}, p_L={p_L})", L - (1 - p_L) * (L + 1) / 2,
                    student.call("sd_expected_depth", L, p_L=p_L), tol=1e-9)
    x = _b_rng(30).standard_normal((2, 12, 12, 2)).astype(np.float32)
    got = _b_expect_sd_resnet(student, 32, 7, (12, 12, 2), "build_sd_resnet(32, 7, 12x12x2, p_L=0.8, widths=(4, 6, 8))",
                              sample=x, p_L=0.8, widths=[4, 6, 8])
    check_close("build_sd_resnet(32, 7, ...): inference probabilities sum to 1", np.ones(2), np.sum(got["probs"], axis=1),
                tol=1e-4)
    _b_expect_sd_resnet(student, 56, 100, (8, 8, 3), "build_sd_resnet(56, 100, 8x8x3, p_L=0.0)", p_L=0.0,
                        widths=[2, 4, 8])
    got = student.probe(_B_SD_ERRORS, depths=[10, 0, -4, 21])
    for d in (10, 0, -4, 21):
        assert_equal(got[str(d)], "ValueError", f"build_sd_resnet({d}, ...) ({d} is not 6n+2 with n >= 1)")


# ---------------------------------------------------------------------------------------------
# B2. Augmentation, test-time augmentation, down-sampling
# ---------------------------------------------------------------------------------------------
def _b_crop_offsets(x, y, padding, case):
    """The (dy, dx) of each output as a crop of its zero-padded input; fails when one is not a crop."""
    n, h, w, _ = x.shape
    y = _b_shape(y, x.shape, case)
    padded = np.pad(x.astype(np.float64), ((0, 0), (padding, padding), (padding, padding), (0, 0)))
    offsets = np.full((n, 2), -1)
    for dy in range(2 * padding + 1):
        for dx in range(2 * padding + 1):
            hit = np.all(y == padded[:, dy:dy + h, dx:dx + w], axis=(1, 2, 3)) & (offsets[:, 0] < 0)
            offsets[hit] = (dy, dx)
    bad = int(np.sum(offsets[:, 0] < 0))
    if bad:
        raise HiddenTestFailure(f"{case}: {bad} of {n} outputs are not {h}x{w} crops of their input zero-padded by "
                                f"{padding} (first: image {int(np.argmax(offsets[:, 0] < 0))})")
    return offsets


def _b_check_crop(student, x, padding, seed, case, min_share=0.5):
    y = student.call("aug_random_crop", x, padding, seed=seed)
    offsets = _b_crop_offsets(x, y, padding, case)
    k = 2 * padding + 1
    counts = np.zeros((k, k), int)
    np.add.at(counts, (offsets[:, 0], offsets[:, 1]), 1)
    expected = len(x) / k ** 2
    if counts.min() < min_share * expected or counts.max() > (2 - min_share) * expected:
        raise HiddenTestFailure(f"{case}: the {k}x{k} offsets should be about uniform ({expected:.0f} each); got "
                                f"counts from {counts.min()} to {counts.max()}")
    check_close(f"{case}: the same seed gives the same crops", y, student.call("aug_random_crop", x, padding, seed=seed),
                tol=0)
    other = as_array(student.call("aug_random_crop", x, padding, seed=seed + 1), case)
    assert_equal(bool(np.any(other != np.asarray(y))), True, f"{case}: another seed gives other crops")


def _b_check_flip(student, x, seed, case):
    y = _b_shape(student.call("aug_random_flip", x, seed=seed), x.shape, case)
    same, mirrored = np.all(y == x, axis=(1, 2, 3)), np.all(y == x[:, :, ::-1], axis=(1, 2, 3))
    if not np.all(same | mirrored):
        raise HiddenTestFailure(f"{case}: {int(np.sum(~(same | mirrored)))} outputs are neither their image nor its "
                                f"left-right mirror")
    if not abs(mirrored.mean() - 0.5) < 0.06:
        raise HiddenTestFailure(f"{case}: expected about half of the images mirrored (0.5 +- 0.06), got "
                                f"{mirrored.mean():.3f}")
    check_close(f"{case}: the same seed gives the same flips", y, student.call("aug_random_flip", x, seed=seed), tol=0)
    other = as_array(student.call("aug_random_flip", x, seed=seed + 1), case)
    assert_equal(bool(np.any(other != y)), True, f"{case}: another seed gives other flips")


def _b_check_scale_jitter(student, x, max_size, seed, case, min_count):
    import tensorflow as tf   # the grader's own resize (the task names tf.image.resize, bilinear)
    n, h, _, _ = x.shape
    y = _b_shape(student.call("aug_scale_jitter", x, max_size, seed=seed), x.shape, case)
    sizes = list(range(h, max_size + 1))
    resized = {s: tf.image.resize(x, (s, s)).numpy().astype(np.float64) for s in sizes}
    found = np.full(n, -1)
    for s in sizes:
        for dy in range(s - h + 1):
            for dx in range(s - h + 1):
                hit = (np.max(np.abs(y - resized[s][:, dy:dy + h, dx:dx + h]), axis=(1, 2, 3)) <= 1e-5) & (found < 0)
                found[hit] = s
    bad = int(np.sum(found < 0))
    if bad:
        raise HiddenTestFailure(f"{case}: {bad} of {n} outputs are not {h}x{h} crops of their image resized "
                                f"(tf.image.resize, bilinear) to S x S for an S in {h}..{max_size}")
    counts = [int(np.sum(found == s)) for s in sizes]
    if min(counts) < min_count:
        raise HiddenTestFailure(f"{case}: every size {h}..{max_size} should be drawn about equally often; got counts "
                                f"{counts}")
    check_close(f"{case}: the same seed gives the same images", y, student.call("aug_scale_jitter", x, max_size, seed=seed),
                tol=0)
    check_close(f"{case}: max_size = H is the identity", x, student.call("aug_scale_jitter", x, h, seed=seed), tol=1e-6)


@trusted_check("test_aug_random_crop", part="augmentation")
def check_aug_random_crop_visible_cases(student):
    x = _b_rng(20).uniform(0.1, 1.0, size=(450, 5, 5, 2)).astype(np.float32)
    _b_check_crop(student, x, 1, 3, "aug_random_crop(450x5x5x2, padding 1, seed 3)")
    check_close("aug_random_crop with padding 0 is the identity", x, student.call("aug_random_crop", x, 0, seed=3), tol=0)


@trusted_check("test_aug_random_flip", part="augmentation")
def check_aug_random_flip_visible_cases(student):
    x = _b_rng(21).uniform(size=(1000, 4, 6, 3)).astype(np.float32)
    _b_check_flip(student, x, 5, "aug_random_flip(1000x4x6x3, seed 5)")


@trusted_check("test_aug_scale_jitter", part="augmentation")
def check_aug_scale_jitter_visible_cases(student):
    x = _b_rng(22).uniform(size=(120, 6, 6, 1)).astype(np.float32)
    _b_check_scale_jitter(student, x, 8, 7, "aug_scale_jitter(120x6x6x1, max_size 8, seed 7)", min_count=15)


def _b_tta_views(x, padding, flip):
    n, h, w, _ = x.shape
    p = padding
    framed = np.pad(x, ((0, 0), (p, p), (p, p), (0, 0)))
    corners = [framed[:, top:top + h, left:left + w] for top, left in ((0, 0), (0, 2 * p), (2 * p, 0), (2 * p, 2 * p))]
    out = [x, *corners]
    if flip:
        out += [v[:, :, ::-1] for v in out]
    return np.stack(out)


def _b_softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _b_check_tta_predict(student, x, padding, flip, k, seed, case):
    rng = _b_rng(seed)
    W = rng.standard_normal((int(np.prod(x.shape[1:])), k)).astype(np.float32)
    b = rng.standard_normal(k).astype(np.float32)
    got = student.probe(_B_TTA_PREDICT, shape=list(x.shape[1:]), W=W, b=b, x=x, padding=padding, flip=flip)
    views = _b_tta_views(x.astype(np.float64), padding, flip)
    expected = np.mean([_b_softmax(v.reshape(len(x), -1) @ W + b) for v in views], axis=0)
    check_close(case, expected, got, tol=1e-5)


@trusted_check("test_tta_crops", part="tta")
def check_tta_crops_visible_cases(student):
    x = np.arange(1, 19, dtype=np.float32).reshape(2, 3, 3, 1)
    check_close("tta_crops(2x3x3x1, padding 1)", _b_tta_views(x, 1, False), student.call("tta_crops", x, 1), tol=0)
    x = _b_rng(23).uniform(size=(3, 6, 6, 3)).astype(np.float32)
    check_close("tta_crops(3x6x6x3, padding 2, flip=True)", _b_tta_views(x, 2, True),
                student.call("tta_crops", x, 2, flip=True), tol=0)


@trusted_check("test_tta_predict", part="tta")
def check_tta_predict_visible_cases(student):
    rng = _b_rng(24)
    x = rng.uniform(size=(4, 5, 5, 2)).astype(np.float32)
    W, b = rng.standard_normal((50, 3)).astype(np.float32), rng.standard_normal(3).astype(np.float32)
    for flip in (False, True):
        got = student.probe(_B_TTA_PREDICT, shape=[5, 5, 2], W=W, b=b, x=x, padding=1, flip=flip)
        views = _b_tta_views(x.astype(np.float64), 1, flip)
        expected = np.mean([_b_softmax(v.reshape(4, -1) @ W + b) for v in views], axis=0)
        check_close(f"tta_predict(Flatten-Dense softmax model, 4x5x5x2, padding 1, flip={flip}): mean of the "
                    f"{len(views)} views' probabilities", expected, got, tol=1e-5)


@hidden_test(points=3, name="augmentation and TTA: other paddings, channel counts, image sizes", part="augmentation")
def b_augmentation_other_cases(student):
    x = _b_rng(31).uniform(0.1, 1.0, size=(1250, 7, 7, 3)).astype(np.float32)
    _b_check_crop(student, x, 2, 11, "aug_random_crop(1250x7x7x3, padding 2, seed 11)", min_share=0.4)
    x1 = _b_rng(32).uniform(0.1, 1.0, size=(1, 4, 9, 1)).astype(np.float32)
    _b_crop_offsets(x1, student.call("aug_random_crop", x1, 3, seed=0), 3, "aug_random_crop(1x4x9x1, padding 3)")
    _b_check_flip(student, _b_rng(33).uniform(size=(801, 3, 5, 2)).astype(np.float32), 12,
                  "aug_random_flip(801x3x5x2, seed 12)")
    _b_check_scale_jitter(student, _b_rng(34).uniform(-1, 1, size=(90, 5, 5, 3)).astype(np.float32), 7, 13,
                          "aug_scale_jitter(90x5x5x3, max_size 7, seed 13)", min_count=12)
    x = _b_rng(35).uniform(size=(2, 4, 7, 2)).astype(np.float32)
    check_close("tta_crops(2x4x7x2, padding 3, flip=True)", _b_tta_views(x, 3, True),
                student.call("tta_crops", x, 3, flip=True), tol=0)
    _b_check_tta_predict(student, _b_rng(36).uniform(size=(3, 6, 4, 1)).astype(np.float32), 2, True, 5, 37,
                         "tta_predict(Flatten-Dense softmax model, 3x6x4x1, padding 2, flip=True, 5 classes)")


def _b_expect_downsample(student, num_classes, input_shape, args, case):
    got = student.probe(_B_DOWNSAMPLE, num_classes=num_classes, input_shape=list(input_shape), args=list(args))
    down = args[0] if args else "maxpool"
    widths = tuple(args[1]) if len(args) > 1 else (16, 32)
    assert_equal(got["shape"], [None, num_classes], f"{case}: output shape")
    assert_equal(got["params"], _b_downsample_params(input_shape[-1], num_classes, down, widths),
                 f"{case}: parameter count")
    pools = len(widths) if down == "maxpool" else 0
    assert_equal(got["layers"].count("MaxPooling2D"), pools, f"{case}: number of MaxPooling2D layers")
    strides = [[1, 1]] * len(widths) if down == "maxpool" else [[1, 1], [2, 2]] * len(widths)
    assert_equal(got["strides"], strides, f"{case}: conv strides, input to output")


@trusted_check("test_build_downsample_cnn", part="downsample")
def check_build_downsample_cnn_visible_cases(student):
    _b_expect_downsample(student, 10, (8, 8, 1), (), "build_downsample_cnn(10, 8x8x1) (max pooling)")
    _b_expect_downsample(student, 10, (8, 8, 1), ("strided",), "build_downsample_cnn(10, 8x8x1, 'strided')")
    _b_expect_downsample(student, 5, (12, 12, 3), ("strided", [4, 8, 8]),
                         "build_downsample_cnn(5, 12x12x3, 'strided', widths (4, 8, 8))")
    assert_equal(student.probe(_B_DOWNSAMPLE_ERROR), "ValueError", "build_downsample_cnn(..., downsample='avgpool')")


# ---------------------------------------------------------------------------------------------
# B3. Looking inside
# ---------------------------------------------------------------------------------------------
def _b_saliency_expected(x, labels, weights):
    """max_c |d p_y / d x| of the softmax model Flatten -> [Dense-ReLU] -> Dense-softmax, by hand."""
    flat = x.reshape(len(x), -1).astype(np.float64)
    if len(weights) == 4:
        W1, b1, W2, b2 = (np.asarray(w, np.float64) for w in weights)
        z1 = flat @ W1 + b1
        h = np.maximum(z1, 0)
    else:
        W2, b2 = (np.asarray(w, np.float64) for w in weights)
        h = flat
    p = _b_softmax(h @ W2 + b2)
    grads = []
    for i, y in enumerate(labels):
        dz2 = p[i, y] * (np.eye(p.shape[1])[y] - p[i])       # d p_y / d logits
        g = W2 @ dz2
        if len(weights) == 4:
            g = W1 @ (g * (z1[i] > 0))
        grads.append(g)
    return np.abs(np.stack(grads).reshape(x.shape)).max(axis=-1)


def _b_check_saliency(student, x, labels, weights, case):
    got = student.probe(_B_SALIENCY, shape=list(x.shape[1:]), weights=weights, x=x, labels=np.asarray(labels))
    expected = _b_saliency_expected(x, labels, weights)
    _b_shape(got, expected.shape, f"{case}: shape (N, H, W)")
    assert_close(got, expected, case, tol=1e-4)
    return np.asarray(got)


def _b_conv_same(x, kernel, bias):
    """3x3 'same' convolution (cross-correlation, as Keras) of one image (H, W, C) -> (H, W, F), pre-activation."""
    h, w, _ = x.shape
    xp = np.pad(x.astype(np.float64), ((1, 1), (1, 1), (0, 0)))
    z = np.zeros((h, w, kernel.shape[-1])) + bias
    for di in range(3):
        for dj in range(3):
            z += xp[di:di + h, dj:dj + w] @ kernel[di, dj].astype(np.float64)
    return z


def _b_unit_activation(x, kernel, bias, unit):
    return float(np.mean(np.maximum(_b_conv_same(x, kernel, bias)[..., unit], 0)))


def _b_class_probability(x, kernel, bias, dense, unit):
    features = np.maximum(_b_conv_same(x, kernel, bias), 0).mean(axis=(0, 1))
    return float(_b_softmax((features @ dense)[None])[0, unit])


def _b_ascent_step(x, kernel, bias, unit, step_size, l2, lo, hi):
    """One step of the task's gradient ascent, by hand: g = d(a - l2 |x|^2)/dx; x + step * g / rms(g), clipped."""
    h, w, c = x.shape
    z = _b_conv_same(x, kernel, bias)[..., unit]
    mask = (z > 0) / (h * w)
    gp = np.zeros((h + 2, w + 2, c))
    for di in range(3):
        for dj in range(3):
            gp[di:di + h, dj:dj + w] += mask[..., None] * kernel[di, dj, :, unit].astype(np.float64)
    g = gp[1:-1, 1:-1] - 2 * l2 * x.astype(np.float64)
    return np.clip(x + step_size * g / (np.sqrt(np.mean(g ** 2)) + 1e-8), lo, hi)


def _b_check_actmax(student, kernel, bias, dense, x0, unit, steps, step_size, l2, value_range, case):
    lo, hi = value_range
    kw = {"steps": steps, "step_size": step_size, "l2": l2}
    if tuple(value_range) != (0.0, 1.0):
        kw["value_range"] = tuple(value_range)
    got = student.probe(_B_ACTMAX, kernel=kernel, bias=bias, dense=dense, x0=x0, layer="conv", unit=unit, kwargs=kw)
    x = _b_shape(got["x"], x0.shape, f"{case}: image shape")
    history = got["history"]
    assert_equal(len(history), steps + 1, f"{case}: length of the history (steps + 1)")
    if not (np.min(x) >= lo - 1e-6 and np.max(x) <= hi + 1e-6):
        raise HiddenTestFailure(f"{case}: the image must stay in {tuple(value_range)}, got values in "
                                f"[{np.min(x):.3f}, {np.max(x):.3f}]")
    a0, a1 = _b_unit_activation(x0, kernel, bias, unit), _b_unit_activation(x, kernel, bias, unit)
    check_close(f"{case}: history[0] is the unit's mean activation at x0", a0, history[0], tol=1e-4)
    check_close(f"{case}: history[-1] is the unit's mean activation at the returned image", a1, history[-1], tol=1e-4)
    if not a1 > a0 + 0.1:
        raise HiddenTestFailure(f"{case}: the unit's mean activation (computed by the grader) should increase by more "
                                f"than 0.1; it went from {a0:.4f} to {a1:.4f}")
    kw1 = dict(kw, steps=1)
    one = student.probe(_B_ACTMAX, kernel=kernel, bias=bias, dense=dense, x0=x0, layer="conv", unit=unit, kwargs=kw1)
    check_close(f"{case}, one step: clip(x0 + step_size * g / rms(g))",
                _b_ascent_step(x0, kernel, bias, unit, step_size, l2, lo, hi), one["x"], tol=1e-4)
    return a0, a1


@trusted_check("test_first_layer_filters", part="inside")
def check_first_layer_filters_visible_cases(student):
    kernel = _b_rng(25).standard_normal((3, 3, 2, 4)).astype(np.float32)
    got = student.probe(_B_FILTERS, shape=[6, 6, 2], kernel=kernel)
    check_close("first_layer_filters: the first Conv2D kernel (3, 3, 2, 4) as (4, 3, 3, 2)", np.moveaxis(kernel, -1, 0),
                got, tol=0)
    return Score(1.0, "first_layer_filters returns the kernel as (F, kh, kw, C)",
                 images={"first-layer filters (grader-built kernel)": filter_tiles(kernel)})


@trusted_check("test_saliency_map", part="inside")
def check_saliency_map_visible_cases(student):
    rng = _b_rng(26)
    x = rng.uniform(size=(3, 4, 4, 3)).astype(np.float32)
    W = (rng.standard_normal((48, 3)) * 0.3).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)
    maps = _b_check_saliency(student, x, [2, 0, 1], [W, b], "saliency_map(softmax(Wx + b) model, 3 images 4x4x3)")
    return Score(1.0, "saliency maps match the grader's (d p_y / d x by hand)",
                 images={"your saliency maps (grader-built model)": maps})


@trusted_check("test_activation_maximization", part="inside")
def check_activation_maximization_visible_cases(student):
    rng = _b_rng(27)
    kernel = (rng.standard_normal((3, 3, 1, 4)) * 0.5).astype(np.float32)
    bias = np.full(4, 0.1, np.float32)
    dense = rng.standard_normal((4, 3)).astype(np.float32)
    x0 = rng.uniform(0.4, 0.6, size=(6, 6, 1)).astype(np.float32)
    _b_check_actmax(student, kernel, bias, dense, x0, 1, 25, 0.05, 0.01, (0.0, 1.0),
                    "activation_maximization(conv layer, unit 1, 25 steps)")
    got = student.probe(_B_ACTMAX, kernel=kernel, bias=bias, dense=dense, x0=x0, layer="out", unit=2,
                        kwargs={"steps": 10, "step_size": 0.05, "l2": 0.0})
    history = got["history"]
    assert_equal(len(history), 11, "activation_maximization(softmax output, class 2, 10 steps): history length")
    p0 = _b_class_probability(x0, kernel, bias, dense, 2)
    p1 = _b_class_probability(_b_shape(got["x"], x0.shape, "activation_maximization(softmax output): image shape"),
                              kernel, bias, dense, 2)
    check_close("activation_maximization(softmax output, class 2): history[0] is the probability at x0", p0, history[0],
                tol=1e-4)
    check_close("activation_maximization(softmax output, class 2): history[-1] is the probability at the returned image",
                p1, history[-1], tol=1e-4)
    if not p1 > p0:
        raise HiddenTestFailure(f"activation_maximization(softmax output, class 2): the probability should increase; "
                                f"it went from {p0:.4f} to {p1:.4f}")


@hidden_test(points=1, name="saliency and activation maximization: other models, channels, units, ranges",
             part="inside")
def b_inside_other_cases(student):
    rng = _b_rng(38)
    x = rng.uniform(size=(2, 5, 3, 1)).astype(np.float32)
    weights = [(rng.standard_normal((15, 6)) * 0.5).astype(np.float32), rng.standard_normal(6).astype(np.float32),
               (rng.standard_normal((6, 4)) * 0.5).astype(np.float32), rng.standard_normal(4).astype(np.float32)]
    _b_check_saliency(student, x, [3, 1], weights, "saliency_map(Flatten-Dense(ReLU)-Dense softmax, 2 images 5x3x1)")
    kernel = (rng.standard_normal((3, 3, 2, 3)) * 0.5).astype(np.float32)
    bias = np.full(3, 0.05, np.float32)
    dense = rng.standard_normal((3, 2)).astype(np.float32)
    x0 = rng.uniform(-0.2, 0.2, size=(5, 7, 2)).astype(np.float32)
    _b_check_actmax(student, kernel, bias, dense, x0, 2, 20, 0.1, 0.1, (-1.0, 1.0),
                    "activation_maximization(5x7x2 input, unit 2, l2 0.1, range (-1, 1))")


# ---------------------------------------------------------------------------------------------
# The training checks
# ---------------------------------------------------------------------------------------------
# The rules the training checks apply: the notebook states them from here (the release fills its {{rule:KEY}}
# placeholders, autograder/authoring/rules.py; tests/autograder/authoring/test_rules.py reads them back).
RULES = {
    "thresholds": {   # (minimum test accuracy, fraction of the points), best first
        "sd": {"smoke": [(0.80, 1.0), (0.65, 0.75), (0.45, 0.5), (0.25, 0.25)],
               "full": [(0.88, 1.0), (0.83, 0.75), (0.70, 0.5), (0.50, 0.25)]},
        "strided": {"smoke": [(0.90, 1.0), (0.80, 0.75), (0.60, 0.5), (0.30, 0.25)],
                    "full": [(0.80, 1.0), (0.72, 0.75), (0.60, 0.5), (0.40, 0.25)]},
    },
    "runs": {   # what each check trains: (widths, epochs) per profile (None: the profile's epochs)
        "sd": {"smoke": ((8, 16, 32), 8), "full": ((16, 32, 64), None)},
        "strided": {"smoke": ((16, 32), None), "full": ((32, 64, 128), None)},
    },
}
_B_THRESHOLDS = RULES["thresholds"]
_B_RUNS = RULES["runs"]
_B_STARTUP_SECONDS = 120.0   # imports, data loading and prediction on top of the training budget
_B_EVAL_NOISE = {"digits": 0.02, "cifar10": 2}   # the test images' fresh noise at each grading (secret_test_split)


def _b_trusted_training():
    """The instructor's training.py (never the copy in the submission)."""
    spec = importlib.util.spec_from_file_location("training_deep_cnns_training_trusted", _B_TRAINING_PY)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _b_requested_profile(student):
    """The profile the grader resolved (passed on the proxy, never read from the environment)."""
    name = getattr(student, "profile", None) or "smoke"
    return name if name in ("smoke", "full", "auto") else "smoke"


def _b_training_check(student, kind, what):
    training = _b_trusted_training()
    profile = training.select_profile(_b_requested_profile(student))
    widths, epochs = _B_RUNS[kind][profile.name]
    test = training.load_data(profile)
    x_eval, y_test = secret_test_split(test.x_test, test.y_test, _B_EVAL_NOISE[profile.dataset])   # labels stay here
    out = student.probe(_B_TRAIN, timeout=profile.time_budget + _B_STARTUP_SECONDS,
                        training_source=_B_TRAINING_PY.read_text(), profile_name=profile.name,
                        data_dir=profile.data_dir, kind=kind, widths=list(widths), epochs=epochs, x_eval=x_eval)
    predictions = np.asarray(out["predictions"]).reshape(-1)
    if predictions.shape != y_test.shape:
        raise HiddenTestFailure(f"training check: expected {y_test.shape[0]} test predictions, "
                                f"got {predictions.shape[0]}")
    accuracy = float(np.mean(predictions == y_test))
    thresholds = _B_THRESHOLDS[kind][profile.name]
    fraction = next((f for minimum, f in thresholds if accuracy >= minimum), 0.0)
    history = out["history"]
    note = " (stopped early by the time budget)" if history.get("stopped_by_time_budget") else ""
    table = ", ".join(f">= {m:.0%}: {f:.0%}" for m, f in thresholds)
    message = (f"{profile.name} profile ({profile.dataset}): {what} (widths {widths}) reached {accuracy:.1%} test "
               f"accuracy after {len(history.get('loss', []))} epochs in {float(out['seconds']):.0f} s{note}; "
               f"points by accuracy: {table}.")
    tiles = filter_tiles(out.get("first_kernel"))
    return Score(fraction, message, leaderboard={"test accuracy": accuracy},
                 curves={"loss": list(history.get("loss", []))},
                 images={} if tiles is None else {"first-layer filters of the trained model": tiles})


@hidden_test(points=4, name="training check: ResNet-20 with stochastic depth (p_L = 0.5), course recipe",
             part="build_sd_resnet")
def b_sd_training_check(student):
    return _b_training_check(student, "sd", "build_sd_resnet(20, ..., p_L=0.5)")


@hidden_test(points=3, name="training check: the strided-convolution CNN, course recipe", part="downsample")
def b_strided_training_check(student):
    return _b_training_check(student, "strided", "build_downsample_cnn(..., 'strided')")
