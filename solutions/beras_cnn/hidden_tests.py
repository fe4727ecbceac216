"""Hidden tests for beras_cnn (instructor only, never released): 36 points, plus the trusted checks.

Trusted checks (``@trusted_check``, no points of their own) re-run each notebook grade cell's cases
here, in the grader: a grade cell scores only when its check passes (the kernel is the student's).
The overfitting and training checks return a ``Score`` with the student's learning curves and (training)
first-layer filters, which the feedback shows beside those cells.
Each test and check names its ``part``: where the student's beras computes with a forbidden
framework during a part, every point of that part is withheld.

Other cases than the notebook's visible tests: stride 3 with SAME, odd and non-square sizes,
non-square kernels, 1x1 convolutions, batch 1, explicit padding, float32 and float64, ties in max
pooling, SAME average pooling (padding ignored), training-mode batch norm, the Part 1 functions on
new numbers, and the structure of ``build_cnn``. References: TensorFlow / Keras, computed here.
"""
import os

import numpy as np

from autograder.hidden import (HiddenTestFailure, Score, assert_close, assert_equal, filter_tiles, hidden_test,
                               secret_rng, secret_test_split, series, trusted_check)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# The rules the checks below apply: the notebook states them from here (the release fills its {{rule:KEY}}
# placeholders, autograder/authoring/rules.py; tests/autograder/authoring/test_rules.py reads them back).
RULES = {
    # check_training retrains a fresh build_cnn() itself, with these settings (not the student's own run)
    "train_epochs": 6,
    "train_batch_size": 32,
    "train_seed": 0,
    # its bar: clearly above the linear baseline the notebook prints (logistic regression, 96.7 % on this split)
    "min_test_accuracy": 0.975,
    # check_overfit: full-batch steps on the 20 digits, and the loss to get below
    "overfit_steps": 30,
    "overfit_loss": 0.05,
}


def _tf():
    import tensorflow as tf
    return tf


def _rng(seed):
    return np.random.default_rng(seed)


def tf_vjp(fn, inputs, upstream):
    """Output and gradients of sum(fn(*inputs) * upstream) w.r.t. each input, with TensorFlow."""
    tf = _tf()
    ts = [tf.constant(x) for x in inputs]
    with tf.GradientTape() as tape:
        tape.watch(ts)
        out = fn(*ts)
    return out.numpy(), [g.numpy() for g in tape.gradient(out, ts, output_gradients=tf.constant(upstream))]


def check_vjp(student, case, name, inputs, kwargs, tf_fn, tol=1e-8, seed=0):
    """student's op ``name`` (dotted) vs ``tf_fn``: output and gradients w.r.t. every input."""
    expected = tf_fn(*[_tf().constant(x) for x in inputs]).numpy()
    upstream = _rng(seed).standard_normal(expected.shape).astype(expected.dtype)
    want_out, want_grads = tf_vjp(tf_fn, inputs, upstream)
    out, grads = student.vjp(name, list(inputs), kwargs, wrt=tuple(range(len(inputs))), upstream=upstream)
    assert_close(out, want_out, f"{case}: output", tol)
    for i, (got, want) in enumerate(zip(grads, want_grads)):
        assert_close(got, want, f"{case}: gradient w.r.t. input {i} {np.shape(inputs[i])}", tol)


# --------------------------------------------------------------------------------------------
# Part 1: the arithmetic functions on new numbers (3 points)
# --------------------------------------------------------------------------------------------
@hidden_test(points=3, name="Part 1: conv_output_size, same_padding, conv_params on new cases", part="part1_functions")
def part1_functions(student):
    import keras
    r = secret_rng()   # cases drawn at each grading: no table of constants answers them
    cases = [(224, 7, 3, 2), (9, 9, 0, 1)]
    while len(cases) < 5:
        w, f, p, s = int(r.integers(5, 65)), int(r.integers(1, 12)), int(r.integers(0, 4)), int(r.integers(1, 5))
        if w + 2 * p >= f:
            cases.append((w, f, p, s))
    for w, f, p, s in cases:
        out = keras.layers.Conv2D(1, f, strides=s)(keras.layers.ZeroPadding2D(p)(keras.Input((w, w, 1))))
        assert_equal(student.call("conv_output_size", w, f, p, s), out.shape[1],
                     f"conv_output_size(w={w}, f={f}, p={p}, s={s})")
    tf = _tf()
    rng = _rng(1)
    for size, kernel, stride in [(4, 5, 1)] + [(int(r.integers(3, 41)), int(r.integers(1, 8)), int(r.integers(1, 5)))
                                               for _ in range(4)]:
        got = student.call("same_padding", size, kernel, stride)
        if not (isinstance(got, (list, tuple)) and len(got) == 2):
            raise HiddenTestFailure(f"same_padding({size}, {kernel}, {stride}): expected a pair, got {got!r}")
        x, k = rng.standard_normal((1, size, size, 1)), rng.standard_normal((kernel, kernel, 1, 1))
        before, after = int(got[0]), int(got[1])
        if min(before, after) < 0:
            raise HiddenTestFailure(f"same_padding({size}, {kernel}, {stride}): negative padding {got}")
        explicit = tf.nn.conv2d(x, k, stride, [[0, 0], [before, after], [before, after], [0, 0]]).numpy()
        assert_close(explicit, tf.nn.conv2d(x, k, stride, "SAME").numpy(),
                     f"same_padding({size}, {kernel}, {stride}) = {tuple(got)}: conv with that padding vs 'SAME'")
    for f, d_in, k in [(7, 3, 64)] + [(int(r.choice([1, 3, 5, 7])), int(r.integers(1, 600)), int(r.integers(1, 300)))
                                      for _ in range(2)]:
        layer = keras.layers.Conv2D(k, f)
        layer.build((None, 16, 16, d_in))
        assert_equal(student.call("conv_params", f, d_in, k), layer.count_params(), f"conv_params({f}, {d_in}, {k})")
        assert_equal(student.call("conv_params", f, d_in, k, bias=False), layer.count_params() - k,
                     f"conv_params({f}, {d_in}, {k}, bias=False)")


# --------------------------------------------------------------------------------------------
# conv2d (15 points)
# --------------------------------------------------------------------------------------------
@hidden_test(points=4, name="conv2d forward: stride 3 SAME, odd non-square input, non-square kernel (float64)", part="conv2d")
def conv2d_forward_stride3_same(student):
    tf = _tf()
    rng = _rng(2)
    for x_shape, w_shape, s in [((2, 7, 9, 3), (2, 4, 3, 4), 3), ((1, 11, 5, 2), (3, 2, 2, 3), (3, 2)),
                                ((3, 8, 8, 1), (5, 5, 1, 2), 3)]:
        x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
        got = student.call("beras.nn.conv2d", x, w, strides=s, padding="SAME")
        assert_close(got, tf.nn.conv2d(x, w, s, "SAME").numpy(),
                     f"conv2d input {x_shape}, filters {w_shape}, strides {s}, SAME", 1e-9)


@hidden_test(points=3, name="conv2d forward: float32, 1x1 conv, batch 1, explicit padding", part="conv2d")
def conv2d_forward_misc(student):
    tf = _tf()
    rng = _rng(3)
    x, w = rng.standard_normal((2, 6, 7, 5)).astype("float32"), rng.standard_normal((3, 3, 5, 4)).astype("float32")
    got = student.call("beras.nn.conv2d", x, w, strides=2, padding="SAME")
    assert_close(got, tf.nn.conv2d(x, w, 2, "SAME").numpy(), "conv2d float32 stride 2 SAME", 1e-5)
    if np.asarray(got).dtype != np.float32:
        raise HiddenTestFailure(f"conv2d float32: expected a float32 result, got {np.asarray(got).dtype}")
    x, w = rng.standard_normal((1, 5, 4, 6)), rng.standard_normal((1, 1, 6, 3))
    assert_close(student.call("beras.nn.conv2d", x, w, strides=1, padding="VALID"),
                 tf.nn.conv2d(x, w, 1, "VALID").numpy(), "conv2d 1x1 filters, batch 1", 1e-9)
    pads = [[0, 0], [2, 0], [1, 3], [0, 0]]
    x, w = rng.standard_normal((2, 5, 6, 2)), rng.standard_normal((3, 3, 2, 2))
    assert_close(student.call("beras.nn.conv2d", x, w, strides=1, padding=pads),
                 tf.nn.conv2d(x, w, 1, pads).numpy(), f"conv2d explicit padding {pads}", 1e-9)


@hidden_test(points=5, name="conv2d backward: stride 3 SAME and stride 2 SAME, odd sizes (input and filter gradients)", part="conv2d")
def conv2d_backward_strided_same(student):
    tf = _tf()
    rng = _rng(4)
    for x_shape, w_shape, s in [((2, 7, 9, 3), (3, 3, 3, 4), 3), ((1, 10, 7, 2), (2, 4, 2, 3), 3),
                                ((2, 9, 9, 2), (4, 4, 2, 2), 2)]:
        x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
        check_vjp(student, f"conv2d input {x_shape}, filters {w_shape}, stride {s}, SAME", "beras.nn.conv2d",
                  [x, w], {"strides": s, "padding": "SAME"}, lambda x, w: tf.nn.conv2d(x, w, s, "SAME"))


@hidden_test(points=3, name="conv2d backward: VALID with leftover rows, non-square strides, 1x1 filters", part="conv2d")
def conv2d_backward_valid(student):
    tf = _tf()
    rng = _rng(5)
    for x_shape, w_shape, s in [((2, 8, 8, 3), (3, 3, 3, 2), 2), ((1, 9, 10, 2), (3, 2, 2, 3), (2, 3)),
                                ((3, 4, 5, 4), (1, 1, 4, 2), 1)]:
        x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
        check_vjp(student, f"conv2d input {x_shape}, filters {w_shape}, strides {s}, VALID", "beras.nn.conv2d",
                  [x, w], {"strides": s, "padding": "VALID"}, lambda x, w: tf.nn.conv2d(x, w, s, "VALID"))


# --------------------------------------------------------------------------------------------
# bias_add, pooling (11 points)
# --------------------------------------------------------------------------------------------
@hidden_test(points=2, name="bias_add: 2-D and 4-D values, gradients w.r.t. value and bias", part="bias_add")
def bias_add_grads(student):
    tf = _tf()
    rng = _rng(6)
    for v_shape in [(7, 3), (3, 5, 2, 4), (1, 1, 1, 6)]:
        v, b = rng.standard_normal(v_shape), rng.standard_normal(v_shape[-1:])
        check_vjp(student, f"bias_add value {v_shape}", "beras.nn.bias_add", [v, b], {}, tf.nn.bias_add)


@hidden_test(points=3, name="max pooling: ties route the gradient to the first maximum (row-major)", part="max_pool")
def max_pool_ties(student):
    tf = _tf()
    rng = _rng(7)
    x = rng.integers(0, 3, (2, 6, 6, 3)).astype(np.float64)     # many ties
    for k, s, pad in [(2, 2, "VALID"), (3, 2, "SAME"), (3, 1, "VALID")]:
        check_vjp(student, f"max_pool2d with ties, {k}x{k} stride {s} {pad}", "beras.nn.max_pool2d", [x],
                  {"ksize": k, "strides": s, "padding": pad}, lambda x: tf.nn.max_pool2d(x, k, s, pad))


@hidden_test(points=3, name="max pooling: 3x3 stride 2 (overlapping) with SAME on odd sizes, float32", part="max_pool")
def max_pool_overlapping_same(student):
    tf = _tf()
    rng = _rng(8)
    for x_shape, dtype in [((2, 7, 9, 3), "float64"), ((1, 5, 6, 2), "float32"), ((3, 11, 11, 1), "float64")]:
        x = rng.standard_normal(x_shape).astype(dtype)
        check_vjp(student, f"max_pool2d {x_shape} {dtype}, 3x3 stride 2 SAME", "beras.nn.max_pool2d", [x],
                  {"ksize": 3, "strides": 2, "padding": "SAME"}, lambda x: tf.nn.max_pool2d(x, 3, 2, "SAME"),
                  tol=1e-9 if dtype == "float64" else 1e-5)


@hidden_test(points=3, name="average pooling: SAME ignores the padding; odd sizes, stride 3", part="avg_pool")
def avg_pool_same(student):
    tf = _tf()
    rng = _rng(9)
    for x_shape, k, s in [((2, 7, 5, 3), 3, 2), ((1, 8, 7, 2), 2, 3), ((2, 5, 5, 1), 4, 3)]:
        x = rng.standard_normal(x_shape)
        check_vjp(student, f"avg_pool2d {x_shape}, {k}x{k} stride {s} SAME", "beras.nn.avg_pool2d", [x],
                  {"ksize": k, "strides": s, "padding": "SAME"}, lambda x: tf.nn.avg_pool2d(x, k, s, "SAME"))


# --------------------------------------------------------------------------------------------
# batch norm (4 points)
# --------------------------------------------------------------------------------------------
BN_PROBE = """
import beras
xs = [beras.constant(a) for a in (x, gamma, beta)]
with beras.GradientTape() as tape:
    tape.watch(xs)
    mean, variance = beras.nn.moments(xs[0], axes)
    y = beras.nn.batch_normalization(xs[0], mean, variance, xs[2], xs[1], 1e-3)
grads = tape.gradient(y, xs, output_gradients=beras.constant(upstream))
result = [y.numpy()] + [None if g is None else g.numpy() for g in grads]
"""


@hidden_test(points=4, name="batch norm in training mode (batch statistics): output and gradients w.r.t. x, gamma, beta", part="batch_norm")
def batch_norm_training(student):
    tf = _tf()
    rng = _rng(10)
    for x_shape, axes in [((5, 4, 3, 6), [0, 1, 2]), ((16, 7), [0])]:
        c = x_shape[-1]
        x = rng.standard_normal(x_shape) * 2.5 - 1
        gamma, beta = rng.uniform(0.5, 2, c), rng.standard_normal(c)
        upstream = rng.standard_normal(x_shape)
        want_y, want = tf_vjp(lambda x, g, b: tf.nn.batch_normalization(x, *tf.nn.moments(x, axes), b, g, 1e-3),
                              [x, gamma, beta], upstream)
        got = student.probe(BN_PROBE, stencil=True, x=x, gamma=gamma, beta=beta, axes=axes, upstream=upstream)
        case = f"training-mode batch norm of x {x_shape} over axes {axes}"
        assert_close(got[0], want_y, f"{case}: output", 1e-8)
        for name, g, w in zip(["x", "gamma", "beta"], got[1:], want):
            assert_close(g, w, f"{case}: gradient w.r.t. {name}", 1e-8)


# --------------------------------------------------------------------------------------------
# build_cnn (3 points)
# --------------------------------------------------------------------------------------------
DESCRIBE = """
import numpy as np


def describe(model):   # each layer's type, plain configuration and weights: what the grader evaluates itself
    plain = (str, int, float, bool, list, tuple, type(None))
    return [{"type": type(layer).__name__,
             "config": {k: v for k, v in layer.get_config().items() if isinstance(v, plain)},
             "weights": [np.asarray(w, dtype=np.float64) for w in layer.get_weights()]} for layer in model.layers]
"""

CNN_PROBE = DESCRIBE + """
model = build_cnn()
out = model(np.asarray(x, "float32"))
result = {"out": np.asarray(out, dtype=np.float64), "layers": describe(model),
          "compiled": getattr(model, "optimizer", None) is not None}
"""


# --------------------------------------------------------------------------------------------
# The grader's own forward pass: a model is judged by what its weights compute here (on inputs the
# grader draws), never by what the student's objects report or predict
# --------------------------------------------------------------------------------------------
def _activation(name, z):
    if name in (None, "linear"):
        return z
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "softmax":
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    if name == "tanh":
        return np.tanh(z)
    raise HiddenTestFailure("the grader cannot evaluate one of its activations (it knows linear, relu, softmax, "
                            "sigmoid, tanh)")


def _pair(v):
    v = tuple(int(a) for a in (v if isinstance(v, (list, tuple)) else (v, v)))
    if len(v) != 2:
        raise ValueError(v)
    return v


def _layer_forward(layer, h):
    tf = _tf()
    kind, cfg, w = layer.get("type"), layer.get("config") or {}, [np.asarray(a, np.float64) for a in layer.get("weights") or []]
    if cfg.get("data_format", "channels_last") not in (None, "channels_last"):
        raise HiddenTestFailure(f"a {kind} layer with data_format {cfg.get('data_format')!r}: the grader evaluates NHWC only")
    if kind == "Conv2D":
        if int(cfg.get("groups", 1)) != 1:
            raise HiddenTestFailure("a grouped Conv2D: the grader evaluates groups=1 only")
        kernel = w[0]
        if kernel.ndim != 4 or kernel.shape[:2] != _pair(cfg["kernel_size"]) or kernel.shape[2] != h.shape[-1]:
            raise HiddenTestFailure(f"a Conv2D whose kernel {kernel.shape} does not fit its configuration or its input")
        out = tf.nn.conv2d(h, kernel, _pair(cfg["strides"]), str(cfg["padding"]).upper(),
                           dilations=_pair(cfg.get("dilation_rate", 1))).numpy()
        if cfg.get("use_bias", True):
            out = out + w[1]
        return _activation(cfg.get("activation"), out)
    if kind in ("MaxPooling2D", "AveragePooling2D"):
        pool = tf.nn.max_pool2d if kind == "MaxPooling2D" else tf.nn.avg_pool2d
        return pool(h, _pair(cfg["pool_size"]), _pair(cfg.get("strides") or cfg["pool_size"]),
                    str(cfg.get("padding", "valid")).upper()).numpy()
    if kind == "Flatten":
        return h.reshape(len(h), -1)
    if kind == "Dense":
        if w[0].ndim != 2 or w[0].shape[0] != h.shape[-1]:
            raise HiddenTestFailure(f"a Dense layer whose kernel {w[0].shape} does not fit its input {h.shape}")
        return _activation(cfg.get("activation"), h @ w[0] + (w[1] if cfg.get("use_bias", True) else 0.0))
    if kind == "ReLU":
        slope, thr, cap = float(cfg.get("negative_slope") or 0), float(cfg.get("threshold") or 0), cfg.get("max_value")
        out = np.where(h >= thr, h, slope * (h - thr))
        return out if cap is None else np.minimum(out, float(cap))
    if kind == "LeakyReLU":
        return np.where(h >= 0, h, float(cfg.get("negative_slope", 0.3)) * h)
    if kind in ("Activation", "Softmax"):
        return _activation(cfg.get("activation", "softmax"), h)
    if kind in ("Dropout", "InputLayer"):
        return h
    raise HiddenTestFailure("the grader cannot evaluate one of its layers (it knows Conv2D, MaxPooling2D, "
                            "AveragePooling2D, Flatten, Dense, ReLU, LeakyReLU, Activation, Softmax, Dropout)")


def evaluate(layers, x, what):
    """The model described by ``layers`` (each layer's type, configuration and weights, as the student's process
    reported them) applied to ``x`` here, in the grader: the outputs of the weights the student's training
    produced, wherever the student's objects claim otherwise (a description that does not compute fails)."""
    if not isinstance(layers, list) or not layers:
        raise HiddenTestFailure(f"{what}: the model has no layers the grader can evaluate")
    h = np.asarray(x, dtype=np.float64)
    try:
        for layer in layers:
            h = _layer_forward(layer if isinstance(layer, dict) else {}, h)
    except HiddenTestFailure as e:
        raise HiddenTestFailure(f"{what}: {e}") from None
    except Exception as e:  # noqa: BLE001 - a description that does not compute
        raise HiddenTestFailure(f"{what}: the grader could not evaluate your model from its layers' configuration "
                                f"and weights ({type(e).__name__})") from None
    if not np.all(np.isfinite(h)):
        raise HiddenTestFailure(f"{what}: the model's outputs (computed by the grader from its weights) are not finite")
    return h


def layer_types(layers):
    """The layers' types, after :func:`evaluate` accepted them (so each is one the grader knows)."""
    return [str(layer.get("type")) for layer in layers if isinstance(layer, dict)]


@hidden_test(points=3, name="build_cnn: a compiled beras CNN with Conv2D, MaxPooling2D, 10 outputs", part="build_cnn")
def build_cnn_structure(student):
    x = secret_rng().uniform(0, 1, (3, 8, 8, 1)).astype(np.float32)
    info = student.probe(CNN_PROBE, uses_stencil=True, x=x)
    mine = evaluate(info["layers"], x, "build_cnn()")      # its structure, computed here from its weights
    assert_equal(tuple(mine.shape), (3, 10), "build_cnn()(images of shape (3, 8, 8, 1)).shape")
    for needed in ["Conv2D", "MaxPooling2D"]:
        if needed not in layer_types(info["layers"]):
            raise HiddenTestFailure(f"build_cnn: expected a {needed} layer, got layers {layer_types(info['layers'])}")
    assert_close(info["out"], mine, "build_cnn: the model's own outputs vs its layers evaluated by the grader", 1e-4)
    if not info["compiled"]:
        raise HiddenTestFailure("build_cnn: expected a compiled model (model.compile(...)), got no optimizer")
    assert_close(mine.sum(axis=1), np.ones(3), "build_cnn: class probabilities should sum to 1", 1e-4)


# ============================================================================================
# Trusted checks: each notebook grade cell's own cases, re-run and compared here
# ============================================================================================
def expect_forward(student, case, name, inputs, kwargs, tf_fn, tol=1e-8):
    want = tf_fn(*[_tf().constant(x) for x in inputs]).numpy()
    assert_close(student.call(name, *inputs, **kwargs), want, f"{case}: output", tol)


@trusted_check("test_p1_functions", part="part1_functions")
def check_p1_functions(student):
    import keras
    for w, f, p, s in [(32, 3, 1, 1), (32, 5, 0, 1), (7, 3, 0, 2), (28, 2, 0, 2), (10, 3, 1, 3)]:
        out = keras.layers.Conv2D(1, f, strides=s)(keras.layers.ZeroPadding2D(p)(keras.Input((w, w, 1))))
        assert_equal(student.call("conv_output_size", w, f, p, s), out.shape[1],
                     f"conv_output_size(w={w}, f={f}, p={p}, s={s})")
    tf = _tf()
    rng = _rng(101)
    for size, kernel, stride in [(5, 3, 1), (5, 5, 1), (6, 3, 2), (7, 4, 1), (8, 1, 3)]:
        got = student.call("same_padding", size, kernel, stride)
        if not (isinstance(got, (list, tuple)) and len(got) == 2) or min(int(got[0]), int(got[1])) < 0:
            raise HiddenTestFailure(f"same_padding({size}, {kernel}, {stride}): expected a pair of paddings >= 0, "
                                    f"got {got!r}")
        x, k = rng.standard_normal((1, size, size, 1)), rng.standard_normal((kernel, kernel, 1, 1))
        pads = [[0, 0], [int(got[0]), int(got[1])], [int(got[0]), int(got[1])], [0, 0]]
        assert_close(tf.nn.conv2d(x, k, stride, pads).numpy(), tf.nn.conv2d(x, k, stride, "SAME").numpy(),
                     f"same_padding({size}, {kernel}, {stride}) = {tuple(got)}: conv with that padding vs 'SAME'")
    for f, d_in, k in [(3, 3, 16), (5, 16, 32), (1, 256, 64)]:
        layer = keras.layers.Conv2D(k, f)
        layer.build((None, 9, 9, d_in))
        assert_equal(student.call("conv_params", f, d_in, k), layer.count_params(), f"conv_params({f}, {d_in}, {k})")
        assert_equal(student.call("conv_params", f, d_in, k, bias=False), layer.count_params() - k,
                     f"conv_params({f}, {d_in}, {k}, bias=False)")


NUMBERS_PROBE = """
result = {name: globals().get(name) for name in names}
result["three"] = [params_three_3x3(d) for d in ds]
result["one"] = [params_one_7x7(d) for d in ds]
result["bn"] = [batchnorm_mean_shape(*shape) for shape in shapes]
"""
P1_NAMES = ["alexnet_conv1_shape", "alexnet_conv1_weights", "alexnet_pool1_shape", "alexnet_pool1_params",
            "pad_keep_size_3x3", "pad_keep_size_5x5", "receptive_field_three_3x3", "plain_3x3_params",
            "bottleneck_params"]


def _p1_numbers(student, names=P1_NAMES, ds=(1, 4, 64), shapes=((8, 3, 5, 5), (2, 16, 7, 4), (1, 1, 2, 3))):
    got = student.probe(NUMBERS_PROBE, names=list(names), ds=list(ds), shapes=[list(s) for s in shapes])
    if not isinstance(got, dict):
        raise HiddenTestFailure(f"Part 1 numbers: expected the notebook's values, got {got!r}")
    return got


def _as_tuple(v):
    return tuple(int(x) for x in v) if isinstance(v, (list, tuple)) else v


@trusted_check("test_p1_alexnet", part="part1_numbers")
def check_p1_alexnet(student):
    import keras
    got = _p1_numbers(student)
    inp = keras.Input((227, 227, 3))
    conv1, pool1 = keras.layers.Conv2D(96, 11, strides=4), keras.layers.MaxPooling2D(3, strides=2)
    c1 = conv1(inp)
    p1 = pool1(c1)
    assert_equal(_as_tuple(got["alexnet_conv1_shape"]), tuple(c1.shape[1:]), "alexnet_conv1_shape")
    assert_equal(got["alexnet_conv1_weights"], int(np.prod(conv1.kernel.shape)), "alexnet_conv1_weights (no biases)")
    assert_equal(_as_tuple(got["alexnet_pool1_shape"]), tuple(p1.shape[1:]), "alexnet_pool1_shape")
    assert_equal(got["alexnet_pool1_params"], pool1.count_params(), "alexnet_pool1_params")
    for k, name in [(3, "pad_keep_size_3x3"), (5, "pad_keep_size_5x5")]:
        p = got[name]
        if not isinstance(p, int) or p < 0:
            raise HiddenTestFailure(f"{name}: expected a padding (an int >= 0), got {p!r}")
        out = keras.layers.Conv2D(1, k)(keras.layers.ZeroPadding2D(p)(keras.Input((5, 5, 1))))
        assert_equal(tuple(out.shape[1:3]), (5, 5), f"{name}={p}: output size of a {k}x{k} conv on a padded 5x5 map")


@trusted_check("test_p1_vgg_inception", part="part1_numbers")
def check_p1_vgg_inception(student):
    import keras
    got = _p1_numbers(student)
    assert_equal(got["receptive_field_three_3x3"], 7, "receptive_field_three_3x3 (side length)")
    for i, d in enumerate((1, 4, 64)):
        three = keras.Sequential([keras.Input((16, 16, d))] +
                                 [keras.layers.Conv2D(d, 3, padding="same", use_bias=False) for _ in range(3)])
        one = keras.Sequential([keras.Input((16, 16, d)), keras.layers.Conv2D(d, 7, padding="same", use_bias=False)])
        assert_equal(got["three"][i], three.count_params(), f"params_three_3x3({d})")
        assert_equal(got["one"][i], one.count_params(), f"params_one_7x7({d})")
    plain = keras.Sequential([keras.Input((28, 28, 256)), keras.layers.Conv2D(256, 3, padding="same", use_bias=False)])
    bottleneck = keras.Sequential([keras.Input((28, 28, 256)), keras.layers.Conv2D(64, 1, use_bias=False),
                                   keras.layers.Conv2D(64, 3, padding="same", use_bias=False),
                                   keras.layers.Conv2D(256, 1, use_bias=False)])
    assert_equal(got["plain_3x3_params"], plain.count_params(), "plain_3x3_params")
    assert_equal(got["bottleneck_params"], bottleneck.count_params(), "bottleneck_params")


@trusted_check("test_p1_batchnorm", part="part1_numbers")
def check_p1_batchnorm(student):
    shapes = ((8, 3, 5, 5), (2, 16, 7, 4), (1, 1, 2, 3))
    got = _p1_numbers(student, shapes=shapes)
    for shape, g in zip(shapes, got["bn"]):
        want = np.mean(np.zeros(shape), axis=(0, 2, 3), keepdims=True).shape
        assert_equal(_as_tuple(g), want, f"batchnorm_mean_shape{shape}")


EXAMPLE_IMAGE = np.array([[3, 3, 2, 1, 0], [0, 0, 1, 3, 1], [3, 1, 2, 2, 3], [2, 0, 0, 2, 2], [2, 0, 0, 0, 1]], float)
EXAMPLE_KERNEL = np.array([[0, 1, 2], [2, 2, 0], [0, 1, 2]], float)


@trusted_check("test_conv2d_naive", part="conv2d_naive")
def check_conv2d_naive(student):
    tf = _tf()
    got = student.call_isolated("conv2d_naive", EXAMPLE_IMAGE[None, :, :, None], EXAMPLE_KERNEL[:, :, None, None], 1, "VALID")
    assert_close(got, np.array([[12, 12, 17], [10, 17, 19], [9, 6, 14]], float)[None, :, :, None],
                 "conv2d_naive on the lecture's 5x5 example (stride 1, VALID)")
    rng = _rng(109)
    for x_shape, w_shape, s, pad in [((2, 5, 5, 3), (3, 3, 3, 2), 1, "VALID"), ((1, 6, 6, 2), (3, 3, 2, 3), 1, "SAME"),
                                     ((2, 7, 6, 2), (3, 2, 2, 2), 2, "SAME"), ((1, 8, 7, 1), (2, 3, 1, 2), (3, 2), "VALID"),
                                     ((1, 7, 7, 2), (3, 3, 2, 2), 3, "SAME")]:
        x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
        assert_close(student.call_isolated("conv2d_naive", x, w, s, pad), tf.nn.conv2d(x, w, s, pad).numpy(),
                     f"conv2d_naive input {x_shape}, filters {w_shape}, strides {s}, {pad}", 1e-8)


@trusted_check("test_im2col", part="conv2d")
def check_im2col(student):
    tf = _tf()
    rng = _rng(110)
    for xp_shape, k, s, d in [((1, 5, 5, 1), (3, 3), (1, 1), (1, 1)), ((2, 6, 7, 3), (3, 3), (2, 2), (1, 1)),
                              ((1, 7, 6, 2), (2, 3), (2, 1), (1, 1)), ((2, 7, 7, 2), (3, 3), (1, 1), (2, 2)),
                              ((2, 4, 5, 4), (1, 1), (1, 1), (1, 1))]:
        xp = rng.standard_normal(xp_shape)
        patches = tf.image.extract_patches(xp, [1, *k, 1], [1, *s, 1], [1, *d, 1], "VALID").numpy()
        got = student.call("beras.nn.conv.im2col", xp, k, tuple(patches.shape[1:3]), s, d)
        assert_close(got, patches.reshape(-1, patches.shape[-1]),
                     f"im2col of a padded input {xp_shape}, kernel {k}, strides {s}, dilations {d}", 1e-12)


@trusted_check("test_conv2d_forward", part="conv2d")
def check_conv2d_forward(student):
    tf = _tf()
    got = student.call("beras.nn.conv2d", EXAMPLE_IMAGE[None, :, :, None], EXAMPLE_KERNEL[:, :, None, None], 1, "VALID")
    assert_close(got, np.array([[12, 12, 17], [10, 17, 19], [9, 6, 14]], float)[None, :, :, None],
                 "conv2d on the lecture's 5x5 example (stride 1, VALID)")
    rng = _rng(102)
    for x_shape, w_shape, s, pad in [((2, 6, 6, 3), (3, 3, 3, 4), 1, "VALID"), ((2, 7, 7, 3), (3, 3, 3, 4), 1, "SAME"),
                                     ((1, 9, 8, 2), (3, 3, 2, 5), 2, "SAME"), ((3, 10, 7, 2), (2, 4, 2, 3), 2, "VALID"),
                                     ((2, 5, 5, 4), (1, 1, 4, 6), 1, "VALID"), ((2, 8, 8, 3), (5, 5, 3, 2), 3, "SAME"),
                                     ((1, 6, 5, 2), (3, 3, 2, 3), 1, [[0, 0], [1, 2], [0, 1], [0, 0]])]:
        x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
        expect_forward(student, f"conv2d input {x_shape}, filters {w_shape}, stride {s}, {pad}", "beras.nn.conv2d",
                       [x, w], {"strides": s, "padding": pad}, lambda x, w: tf.nn.conv2d(x, w, s, pad))
    x, w = rng.standard_normal((2, 6, 5, 3)).astype("float32"), rng.standard_normal((3, 3, 3, 4)).astype("float32")
    expect_forward(student, "conv2d in float32, stride 2, SAME", "beras.nn.conv2d", [x, w],
                   {"strides": 2, "padding": "SAME"}, lambda x, w: tf.nn.conv2d(x, w, 2, "SAME"), 1e-5)


@trusted_check("test_conv2d_backward", part="conv2d")
def check_conv2d_backward(student):
    tf = _tf()
    rng = _rng(103)
    for x_shape, w_shape, s, pad in [((2, 5, 5, 2), (3, 3, 2, 3), 1, "VALID"), ((2, 6, 6, 3), (3, 3, 3, 2), 1, "SAME"),
                                     ((1, 7, 8, 2), (3, 3, 2, 4), 2, "SAME"), ((2, 9, 7, 3), (2, 3, 3, 2), 2, "VALID"),
                                     ((2, 4, 4, 3), (1, 1, 3, 5), 1, "VALID"), ((1, 5, 4, 2), (3, 2, 2, 3), 2, "SAME"),
                                     ((2, 8, 7, 2), (3, 3, 2, 2), 3, "SAME"), ((1, 7, 6, 2), (3, 2, 2, 3), (2, 1), "VALID")]:
        x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
        check_vjp(student, f"conv2d gradients: input {x_shape}, filters {w_shape}, stride {s}, {pad}",
                  "beras.nn.conv2d", [x, w], {"strides": s, "padding": pad},
                  lambda x, w: tf.nn.conv2d(x, w, s, pad), seed=int(rng.integers(1 << 30)))


@trusted_check("test_bias_add", part="bias_add")
def check_bias_add(student):
    tf = _tf()
    rng = _rng(104)
    for v_shape in [(2, 4, 4, 3), (5, 7), (1, 3, 2, 6)]:
        v, b = rng.standard_normal(v_shape), rng.standard_normal(v_shape[-1:])
        check_vjp(student, f"bias_add value {v_shape}, bias {v_shape[-1:]}", "beras.nn.bias_add", [v, b], {},
                  tf.nn.bias_add)


def _pool_cases(student, name, tf_pool, example, example_out, cases, seed):
    got = student.call(f"beras.nn.{name}", example[None, :, :, None], 2, 2, "VALID")
    assert_close(got, example_out[None, :, :, None], f"{name} on the lecture's 4x4 example (2x2, stride 2)")
    rng = _rng(seed)
    for x_shape, k, s, pad in cases:
        x = rng.standard_normal(x_shape)
        check_vjp(student, f"{name} input {x_shape}, {k}x{k}, stride {s}, {pad}", f"beras.nn.{name}", [x],
                  {"ksize": k, "strides": s, "padding": pad}, lambda x: tf_pool(x, k, s, pad))


@trusted_check("test_max_pool", part="max_pool")
def check_max_pool(student):
    tf = _tf()
    _pool_cases(student, "max_pool2d", tf.nn.max_pool2d,
                np.array([[6, 3, 1, -3], [4, 1, 2, 0], [3, 1, 3, 2], [7, 1, 1, 1]], float), np.array([[6, 2], [7, 3]], float),
                [((2, 4, 6, 3), 2, 2, "VALID"), ((2, 7, 7, 2), 3, 2, "VALID"), ((1, 6, 5, 3), 3, 2, "SAME"),
                 ((2, 5, 5, 1), 2, 1, "SAME"), ((1, 5, 6, 2), 3, 2, "SAME")], 105)
    _, (dx,) = student.vjp("beras.nn.max_pool2d", [np.ones((1, 2, 2, 1))], {"ksize": 2, "strides": 2, "padding": "VALID"},
                           upstream=np.ones((1, 1, 1, 1)))
    assert_close(dx, np.array([[1.0, 0.0], [0.0, 0.0]])[None, :, :, None],
                 "max_pool2d gradient with ties (a 2x2 window of ones)")


@trusted_check("test_avg_pool", part="avg_pool")
def check_avg_pool(student):
    tf = _tf()
    _pool_cases(student, "avg_pool2d", tf.nn.avg_pool2d,
                np.array([[6, 3, 1, -3], [4, 3, 2, 0], [3, 1, 5, 1], [7, 1, 1, 1]], float), np.array([[4, 0], [3, 2]], float),
                [((2, 4, 6, 3), 2, 2, "VALID"), ((2, 7, 7, 2), 3, 2, "VALID"), ((1, 5, 6, 3), 3, 2, "SAME"),
                 ((2, 5, 5, 1), 2, 1, "SAME"), ((1, 5, 6, 2), 3, 2, "SAME")], 106)


MOMENTS_PROBE = """
import beras
xt = beras.constant(x)
with beras.GradientTape(persistent=True) as tape:
    tape.watch(xt)
    mean, variance = beras.nn.moments(xt, axes)
result = [mean.numpy(), variance.numpy(),
          tape.gradient(mean, xt, output_gradients=beras.constant(up_mean)).numpy(),
          tape.gradient(variance, xt, output_gradients=beras.constant(up_var)).numpy()]
"""


@trusted_check("test_batch_norm", part="batch_norm")
def check_batch_norm(student):
    tf = _tf()
    rng = _rng(107)
    x = rng.standard_normal((4, 3, 5, 2)) * 3 + 1
    for axes in [[0, 1, 2], [0], [1, 2]]:
        tmean, tvar = tf.nn.moments(tf.constant(x), axes)
        up_mean, up_var = rng.standard_normal(tmean.shape), rng.standard_normal(tvar.shape)
        _, (want_dmean,) = tf_vjp(lambda x: tf.nn.moments(x, axes)[0], [x], up_mean)
        _, (want_dvar,) = tf_vjp(lambda x: tf.nn.moments(x, axes)[1], [x], up_var)
        got = student.probe(MOMENTS_PROBE, stencil=True, x=x, axes=axes, up_mean=up_mean, up_var=up_var)
        case = f"moments over axes {axes}"
        for g, w, what in zip(got, [tmean.numpy(), tvar.numpy(), want_dmean, want_dvar],
                              ["mean", "variance", "gradient of the mean", "gradient of the variance"]):
            assert_close(g, w, f"{case}: {what}", 1e-8)
    c = x.shape[-1]
    params = [rng.standard_normal(c), rng.uniform(0.5, 2, c), rng.standard_normal(c), rng.uniform(0.5, 2, c)]
    check_vjp(student, "batch_normalization with (C,) mean, variance, offset, scale: all five gradients",
              "beras.nn.batch_normalization", [x] + params, {"variance_epsilon": 1e-3},
              lambda x, m, v, o, s: tf.nn.batch_normalization(x, m, v, o, s, 1e-3))
    gamma, beta = rng.uniform(0.5, 2, c), rng.standard_normal(c)
    upstream = rng.standard_normal(x.shape)
    want_y, want = tf_vjp(lambda x, g, b: tf.nn.batch_normalization(x, *tf.nn.moments(x, [0, 1, 2]), b, g, 1e-3),
                          [x, gamma, beta], upstream)
    got = student.probe(BN_PROBE, stencil=True, x=x, gamma=gamma, beta=beta, axes=[0, 1, 2], upstream=upstream)
    assert_close(got[0], want_y, "training-mode batch norm: output", 1e-8)
    for name, g, w in zip(["x", "gamma", "beta"], got[1:], want):
        assert_close(g, w, f"training-mode batch norm: gradient w.r.t. {name}", 1e-8)


def reference_translate(x, dy, dx):
    """Shifted down by dy and right by dx; what moves in is zero (np.roll, wrapped rows/columns zeroed)."""
    out = np.roll(x, (dy, dx), axis=(1, 2))
    rows, cols = np.arange(x.shape[1]), np.arange(x.shape[2])
    out[:, (rows < dy) | (rows >= x.shape[1] + dy)] = 0
    out[:, :, (cols < dx) | (cols >= x.shape[2] + dx)] = 0
    return out


@trusted_check("test_translate", part="translate")
def check_translate(student):
    imgs = _rng(108).standard_normal((2, 6, 7, 3))
    for dy, dx in [(1, 0), (0, 2), (-2, 1), (3, -3), (0, 0), (7, 0)]:
        assert_close(student.call("translate", imgs, dy, dx), reference_translate(imgs, dy, dx),
                     f"translate(images {imgs.shape}, dy={dy}, dx={dx})")


@trusted_check("test_edge_filters", part="edge_filters")
def check_edge_filters(student):
    tf = _tf()
    k = np.asarray(student.call("edge_filters"), dtype=np.float64)
    assert_equal(k.shape, (3, 3, 1, 2), "edge_filters() shape")
    yy, xx = np.mgrid[0:6, 0:6].astype(float)
    for name, image, expected in [("brightness growing to the right (x ramp)", xx, (8.0, 0.0)),
                                  ("brightness growing downwards (y ramp)", yy, (0.0, 8.0))]:
        response = tf.nn.conv2d(image[None, :, :, None], k, 1, "VALID").numpy()
        assert_close(response[0].mean(axis=(0, 1)), np.array(expected), f"edge_filters on {name}: response of (G_x, G_y)")
    sobel = np.stack([[[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], [[-1, -2, -1], [0, 0, 0], [1, 2, 1]]], -1)[:, :, None, :]
    step = (xx >= 3).astype(float) - (yy >= 3).astype(float)
    assert_close(tf.nn.conv2d(step[None, :, :, None], k, 1, "VALID").numpy(),
                 tf.nn.conv2d(step[None, :, :, None], sobel.astype(float), 1, "VALID").numpy(),
                 "edge_filters on a step image")


TRAIN_PROBE = DESCRIBE + """
import beras


class Snapshots:                         # the layers after every epoch: the grader computes the test accuracy
    def __init__(self):
        self.layers = []

    def on_epoch_end(self, epoch, logs=None):
        self.layers.append(describe(model))


beras.utils.set_random_seed(seed)
model = build_cnn()
per_epoch = Snapshots()
history = model.fit(np.asarray(x_train, "float32"), np.asarray(y_train), batch_size=batch_size, epochs=epochs, verbose=0,
                    callbacks=[per_epoch])
result = {"type": type(model).__name__, "layers": describe(model), "history": dict(history.history),
          "epoch_layers": per_epoch.layers}
"""

OVERFIT_PROBE = DESCRIBE + """
import beras
beras.utils.set_random_seed(0)
model = build_cnn()
history = model.fit(np.asarray(x, "float32"), np.asarray(y), batch_size=len(x), epochs=steps, verbose=0)
result = {"losses": history.history.get("loss"), "layers": describe(model)}
"""
OVERFIT_STEPS, OVERFIT_LOSS = RULES["overfit_steps"], RULES["overfit_loss"]
# the grader's test images: the digits' test split in a secret order (secret_test_split), without noise: they
# never reach the student's process (the grader computes the outputs from the trained weights), and noise
# would move the accuracy away from the bar the notebook states (the reference: 97.2-97.8 % at 0.02, 98.06 % clean)
TEST_NOISE = 0.0


def _digits():
    """The split ``beras.datasets.load_digits()`` gives the notebook, computed here from scikit-learn (the
    grader has no instructor beras; the student's process never sees the test labels)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[..., None]
    labels = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(images, labels, test_size=360, random_state=0, stratify=labels)
    return (x_train, y_train), (x_test, y_test)


def _tiny_batch(x_train, y_train):
    """The notebook's 20 examples to overfit: the first two training digits of each class."""
    tiny = np.concatenate([np.flatnonzero(y_train == k)[:2] for k in range(10)])
    return x_train[tiny], y_train[tiny]


def _cross_entropy(probs, labels):
    return float(-np.mean(np.log(np.clip(probs[np.arange(len(labels)), labels], 1e-12, None))))


@trusted_check("test_overfit", part="build_cnn")
def check_overfit(student):
    (x_train, y_train), _ = _digits()
    x, y = _tiny_batch(x_train, y_train)
    got = student.probe(OVERFIT_PROBE, uses_stencil=True, x=x, y=y, steps=OVERFIT_STEPS)
    probs = evaluate(got["layers"], x, "overfitting 20 examples")   # the trained weights' outputs, computed here
    assert_equal(probs.shape, (len(y), 10), "outputs on the 20 examples: shape")
    loss, fitted = _cross_entropy(probs, y), int(np.sum(probs.argmax(axis=1) == y))
    curves = {"training loss on the 20 examples (one step per epoch)": series(got.get("losses"))}
    if not (loss < OVERFIT_LOSS and fitted == len(y)):
        raise HiddenTestFailure(f"overfitting 20 examples: expected a loss below {OVERFIT_LOSS} after {OVERFIT_STEPS} "
                                f"full-batch steps with all 20 classified right, got loss {loss:.4f} and {fitted} of 20 "
                                "(the trained weights evaluated by the grader)", curves=curves)
    return Score(1.0, f"overfitting 20 examples: loss {loss:.4f} after {OVERFIT_STEPS} steps, all 20 classified right",
                 curves=curves)


@trusted_check("test_training", part="build_cnn")
def check_training(student):
    (x_train, y_train), (x_test, y_test) = _digits()
    got = student.probe(TRAIN_PROBE, timeout=max(student_timeout(student), 300), uses_stencil=True,
                        x_train=x_train, y_train=y_train, seed=RULES["train_seed"],
                        batch_size=RULES["train_batch_size"], epochs=RULES["train_epochs"])
    if got.get("type") != "Sequential":   # the student's own text is not echoed in a row shown now
        raise HiddenTestFailure("model type: expected a beras Sequential model")
    layers = got["layers"]
    x_test, y_test = secret_test_split(x_test, y_test, TEST_NOISE)   # the test images never reach the student
    probs = evaluate(layers, x_test, "the trained model")   # accuracy from its weights, computed here
    for needed in ["Conv2D", "MaxPooling2D"]:
        if needed not in layer_types(layers):
            raise HiddenTestFailure(f"build_cnn: expected at least one {needed} layer, got layers {layer_types(layers)}")
    assert_equal(probs.shape, (len(x_test), 10), "predictions shape")
    accuracy = float(np.mean(probs.argmax(axis=1) == y_test))
    # the feedback: the student's learning curve (test accuracy per epoch computed here) and first-layer filters
    history = got.get("history") if isinstance(got.get("history"), dict) else {}
    curves = {"training loss": series(history.get("loss", [])),
              "training accuracy": series(history.get("accuracy", []))}
    try:
        curves["test accuracy (computed by the grader)"] = [
            float(np.mean(evaluate(epoch, x_test, "an epoch's model").argmax(axis=1) == y_test))
            for epoch in (got.get("epoch_layers") or [])[:20]]
    except HiddenTestFailure:
        pass
    first_conv = next((layer for layer in layers if isinstance(layer, dict) and layer.get("type") == "Conv2D"), None)
    tiles = filter_tiles(first_conv["weights"][0] if first_conv and first_conv.get("weights") else None)
    images = {} if tiles is None else {
        "first Conv2D layer's filters after training (red positive, blue negative, each on its own scale)": tiles}
    what = (f"test accuracy of a fresh build_cnn() trained by the grader ({RULES['train_epochs']} epochs, "
            f"batch {RULES['train_batch_size']}, seed {RULES['train_seed']}), computed by the grader from the "
            "trained weights")
    if not accuracy >= RULES["min_test_accuracy"]:
        raise HiddenTestFailure(f"{what}: expected at least {RULES['min_test_accuracy']:.1%}, got {accuracy:.2%}",
                                curves=curves, images=images)
    return Score(1.0, f"{what}: {accuracy:.2%}", curves=curves, images=images)


def student_timeout(student):
    limits = getattr(getattr(student, "sandbox", None), "limits", None)
    return getattr(limits, "call_timeout", 0) or 0
