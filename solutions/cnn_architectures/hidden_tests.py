"""Hidden tests of cnn_architectures (instructor only, never released): 41 points, and the trusted
checks of the notebook's nine grade cells (no points of their own: a grade cell's points count only
when its check passes here).

The student's functions are built inside the student's process (``student.probe``), which hands
back plain numbers (parameter counts, shapes, small arrays); every expected value is computed
here, in the grader, from the architecture formulas below (independent of Keras). The training
check trains the student's ``build_resnet`` with the trusted ``training.py`` next to this file
and computes the test accuracy here from the returned predictions. Each trusted check re-runs the
cases of its visible grade cell (same inputs, seeds and tolerances) and compares here; it shares the
``part`` of the hidden test of the same function.

The profile comes from the grader (``student.profile``: "smoke" by default, "full", or "auto").
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np

from autograder.hidden import (HiddenTestFailure, Score, as_array, assert_close, assert_equal, check_close, hidden_test,
                               secret_rng, secret_test_split, trusted_check)

HERE = Path(__file__).resolve().parent
TRAINING_PY = HERE / "training.py"


# ---------------------------------------------------------------------------------------------
# Reference formulas (parameter counts include BN's moving mean/variance: 4 per channel)
# ---------------------------------------------------------------------------------------------
def bn(c):
    return 4 * c


def conv(k, cin, cout, bias=False):
    return k * k * cin * cout + (cout if bias else 0)


def vgg_params(cin, filters, num_convs):
    return conv(3, cin, filters, True) + (num_convs - 1) * conv(3, filters, filters, True)


def inception_params(cin, f1, r3, f3, r5, f5, pool_proj):
    return (conv(1, cin, f1, True) + conv(1, cin, r3, True) + conv(3, r3, f3, True)
            + conv(1, cin, r5, True) + conv(5, r5, f5, True) + conv(1, cin, pool_proj, True))


def basic_params(cin, filters, stride=1):
    p = conv(3, cin, filters) + bn(filters) + conv(3, filters, filters) + bn(filters)
    if stride != 1 or cin != filters:
        p += conv(1, cin, filters) + bn(filters)
    return p


def bottleneck_params(cin, filters, stride=1):
    out = 4 * filters
    p = conv(1, cin, filters) + bn(filters) + conv(3, filters, filters) + bn(filters) + conv(1, filters, out) + bn(out)
    if stride != 1 or cin != out:
        p += conv(1, cin, out) + bn(out)
    return p


def gap_params(c, k):
    return c * k + k


def resnet_params(depth, in_channels, num_classes):
    n = (depth - 2) // 6
    p, c = conv(3, in_channels, 16) + bn(16), 16
    for stage, filters in enumerate((16, 32, 64)):
        for i in range(n):
            p += basic_params(c, filters, 2 if stage > 0 and i == 0 else 1)
            c = filters
    return p + gap_params(64, num_classes)


def resnet_trainable(depth, in_channels, num_classes):
    """Trainable = total minus the BN moving statistics (2 per BN channel)."""
    n = (depth - 2) // 6
    bn_channels = 16 + n * 2 * (16 + 32 + 64) + 32 + 64   # stem + 2 BN per block + 2 projection BNs
    return resnet_params(depth, in_channels, num_classes) - 2 * bn_channels


def dense_params(c0, num_layers, k):
    return sum(bn(c0 + l * k) + conv(3, c0 + l * k, k) for l in range(num_layers))


def survival(num_blocks, p_L):
    return [1.0 - l / num_blocks * (1.0 - p_L) for l in range(1, num_blocks + 1)]


# ---------------------------------------------------------------------------------------------
# Probes (trusted code run in the student's namespace; they return plain data)
# ---------------------------------------------------------------------------------------------
BUILD = """
import numpy as np
import keras
x = keras.Input(tuple(input_shape))
y = globals()[fn](x, *args, **kwargs)
m = keras.Model(x, y)
out = None
if sample is not None:
    out = np.asarray(m(np.asarray(sample, dtype="float32"), training=False))
result = {"params": int(m.count_params()),
          "trainable": int(sum(int(np.prod(w.shape)) for w in m.trainable_weights)),
          "shape": [None if d is None else int(d) for d in y.shape],
          "layers": [type(l).__name__ for l in m.layers],
          "out": out, "weights": [np.asarray(w) for w in m.get_weights()] if with_weights else None}
"""

ZERO_KERNELS = """
import numpy as np
import keras
x = keras.Input(tuple(input_shape))
m = keras.Model(x, resnet_basic_block(x, filters))
m.set_weights([np.zeros_like(w) if w.ndim == 4 else w for w in m.get_weights()])
result = np.asarray(m(np.asarray(sample, dtype="float32"), training=False))
"""

RESNET = """
import numpy as np
model = build_resnet(depth, num_classes, tuple(input_shape))
probs = None if sample is None else np.asarray(model(np.asarray(sample, dtype="float32"), training=False))
result = {"params": int(model.count_params()),
          "trainable": int(sum(int(np.prod(w.shape)) for w in model.trainable_weights)),
          "shape": [None if d is None else int(d) for d in model.output.shape],
          "layers": [type(l).__name__ for l in model.layers],
          "probs": probs}
"""

RESNET_ERRORS = """
result = {}
for depth in depths:
    try:
        build_resnet(depth, 10, (32, 32, 3))
        result[str(depth)] = "no error"
    except ValueError:
        result[str(depth)] = "ValueError"
    except Exception as e:  # noqa: BLE001
        result[str(depth)] = type(e).__name__
"""

STOCHASTIC = """
import numpy as np
import keras
x = np.asarray(sample, dtype="float32")
layer = StochasticDepth(p, seed=7)
model = keras.Sequential([keras.Input(x.shape[1:]), StochasticDepth(p, seed=8)])
result = {"inference": np.asarray(layer(x, training=False)),
          "training": np.asarray(layer(x, training=True)),
          "model_training": np.asarray(model(x, training=True)),
          "model_inference": np.asarray(model(x, training=False)),
          "p0_training": np.asarray(StochasticDepth(0.0, seed=9)(x, training=True))}
import tensorflow as tf   # inside model.fit the batch size is unknown (None) while tracing
graph = tf.function(lambda t: model(t, training=True), input_signature=[tf.TensorSpec([None, x.shape[1]])])
result["graph_training"] = np.asarray(graph(x))
"""

STOCHASTIC_VISIBLE = """
import numpy as np
x = np.asarray(sample, dtype="float32")
layer = StochasticDepth(p, seed=seed)
result = {"inference": np.asarray(layer(x, training=False)),
          "training": np.asarray(layer(x, training=True))}
result["training_again"] = np.asarray(layer(x, training=True))
result["p1_training"] = np.asarray(StochasticDepth(1.0)(x, training=True))
result["p0_training"] = np.asarray(StochasticDepth(0.0)(x, training=True))
import keras
import tensorflow as tf   # inside model.fit the batch size is unknown (None) while tracing
sd_model = keras.Sequential([keras.Input(x.shape[1:]), StochasticDepth(p, seed=2)])
graph = tf.function(lambda t: sd_model(t, training=True), input_signature=[tf.TensorSpec([None, *x.shape[1:]])])
result["graph_training"] = np.asarray(graph(x))
result["model_inference"] = np.asarray(sd_model(x, training=False))
"""

TRAIN = """
import sys, time, types
course = types.ModuleType("course_training")
sys.modules["course_training"] = course
exec(compile(training_source, "training.py (trusted copy)", "exec"), course.__dict__)
profile = course.select_profile(profile_name, data_dir)
full = course.load_data(profile)
# no test split in this process: training without validation, predictions on the grader's images only
data = course.Data(full.x_train, full.y_train, full.x_train[:1], full.y_train[:1], full.num_classes)
del full
start = time.perf_counter()
model, history = course.fit(build_resnet, profile, data, validation=False)
predictions = course.predict_classes(model, profile, x_eval)
result = {"predictions": predictions, "history": history, "seconds": time.perf_counter() - start}
"""


def build(student, fn, input_shape, *args, sample=None, with_weights=False, **kwargs):
    return student.probe(BUILD, fn=fn, input_shape=list(input_shape), args=list(args), kwargs=kwargs,
                         sample=None if sample is None else np.asarray(sample, np.float32), with_weights=with_weights)


def vgg_reference(weights, x, num_convs):
    """vgg_block's output computed here from the block's own weights (kernel, bias per conv): what its
    structure computes, whatever the student's process reports."""
    import tensorflow as tf
    h = np.asarray(x, np.float64)
    if len(weights) != 2 * num_convs:
        raise HiddenTestFailure(f"vgg_block: expected {2 * num_convs} weight arrays (a kernel and a bias per conv), "
                                f"got {len(weights)}")
    for i in range(num_convs):
        kernel, bias = np.asarray(weights[2 * i], np.float64), np.asarray(weights[2 * i + 1], np.float64)
        h = np.maximum(tf.nn.conv2d(h, kernel, 1, "SAME").numpy() + bias, 0.0)
    return tf.nn.max_pool2d(h, 2, 2, "VALID").numpy()


def expect_block(student, fn, input_shape, args, kwargs, params, shape, case):
    got = build(student, fn, input_shape, *args, **kwargs)
    assert_equal(got["shape"], [None, *shape], f"{case}: output shape")
    assert_equal(got["params"], params, f"{case}: parameter count")
    return got


def rng(seed):
    return np.random.default_rng(seed)


# ---------------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------------
@hidden_test(points=3, name="vgg_block: other sizes", part="vgg_block")
def vgg_other_sizes(student):
    r = secret_rng()   # sizes drawn at each grading: no table of constants answers them
    for _ in range(2):
        side, cin, filters, convs = 2 * int(r.integers(2, 6)), int(r.integers(1, 5)), int(r.integers(2, 7)), int(r.integers(1, 5))
        case = f"vgg_block({side}x{side}x{cin}, {filters} filters, {convs} convs)"
        x = r.standard_normal((2, side, side, cin)).astype(np.float32)
        got = build(student, "vgg_block", (side, side, cin), filters, convs, sample=x, with_weights=True)
        assert_equal(got["shape"], [None, side // 2, side // 2, filters], f"{case}: output shape")
        assert_equal(got["params"], vgg_params(cin, filters, convs), f"{case}: parameter count")
        assert_close(got["out"], vgg_reference(got["weights"] or [], x, convs),
                     f"{case}: output vs the block's own weights run through {convs} 3x3 'same' conv + ReLU and a 2x2 "
                     "max pool by the grader", tol=1e-4)


@hidden_test(points=4, name="inception_module: GoogLeNet 4e and a small module", part="inception_module")
def inception_other_configs(student):
    cfg = (256, 160, 320, 32, 128, 128)
    expect_block(student, "inception_module", (14, 14, 528), cfg, {}, inception_params(528, *cfg), (14, 14, 832),
                 "inception (4e) on 14x14x528")
    cfg = (1, 3, 2, 2, 5, 4)
    expect_block(student, "inception_module", (5, 7, 6), cfg, {}, inception_params(6, *cfg), (5, 7, 12),
                 "inception(5x7x6, 1, 3, 2, 2, 5, 4)")


@hidden_test(points=4, name="resnet_basic_block: other shapes, shortcut behaviour", part="resnet_basic_block")
def basic_block_other(student):
    expect_block(student, "resnet_basic_block", (6, 6, 8), (8,), {}, basic_params(8, 8), (6, 6, 8),
                 "basic block 6x6x8 -> 8")
    expect_block(student, "resnet_basic_block", (6, 6, 8), (12,), {}, basic_params(8, 12), (6, 6, 12),
                 "basic block 6x6x8 -> 12, stride 1 (projection for the channel change)")
    expect_block(student, "resnet_basic_block", (7, 7, 4), (4,), {"stride": 2}, basic_params(4, 4, 2), (4, 4, 4),
                 "basic block 7x7x4 -> 4, stride 2 (projection for the stride)")
    x = rng(11).standard_normal((3, 5, 5, 6)).astype(np.float32)
    got = student.probe(ZERO_KERNELS, input_shape=[5, 5, 6], filters=6, sample=x)
    assert_close(got, np.maximum(x, 0), "basic block 5x5x6 with all kernels zero (F = 0) must return ReLU(x)")


@hidden_test(points=4, name="resnet_bottleneck_block: other shapes", part="resnet_bottleneck_block")
def bottleneck_other(student):
    expect_block(student, "resnet_bottleneck_block", (4, 4, 256), (64,), {}, bottleneck_params(256, 64), (4, 4, 256),
                 "bottleneck 4x4x256, filters 64 (identity shortcut)")
    expect_block(student, "resnet_bottleneck_block", (6, 6, 32), (16,), {}, bottleneck_params(32, 16), (6, 6, 64),
                 "bottleneck 6x6x32, filters 16 (projection for the channel change)")
    expect_block(student, "resnet_bottleneck_block", (9, 9, 8), (2,), {"stride": 2}, bottleneck_params(8, 2, 2),
                 (5, 5, 8), "bottleneck 9x9x8, filters 2, stride 2")


@hidden_test(points=2, name="gap_head: other sizes", part="gap_head")
def gap_other(student):
    x = rng(12).standard_normal((4, 7, 5, 3)).astype(np.float32)
    got = build(student, "gap_head", (7, 5, 3), 4, sample=x)
    assert_equal(got["shape"], [None, 4], "gap_head(7x5x3, 4 classes): output shape")
    assert_equal(got["params"], gap_params(3, 4), "gap_head(7x5x3, 4 classes): parameter count")
    assert_close(np.sum(got["out"], axis=1), np.ones(4), "gap_head(7x5x3, 4): probabilities sum to 1", tol=1e-4)


@hidden_test(points=6, name="build_resnet: depths 8, 14, 32, 56; other inputs; invalid depths", part="build_resnet")
def resnet_family(student):
    for depth, shape, classes in ((8, (8, 8, 1), 10), (14, (16, 16, 3), 7), (32, (32, 32, 3), 10),
                                  (56, (12, 12, 2), 100)):
        x = rng(depth).standard_normal((2, *shape)).astype(np.float32)
        got = student.probe(RESNET, depth=depth, num_classes=classes, input_shape=list(shape), sample=x)
        case = f"build_resnet({depth}, {classes}, {shape})"
        assert_equal(got["shape"], [None, classes], f"{case}: output shape")
        assert_equal(got["params"], resnet_params(depth, shape[-1], classes), f"{case}: parameter count")
        assert_equal(got["trainable"], resnet_trainable(depth, shape[-1], classes), f"{case}: trainable parameters")
        assert_equal(got["layers"].count("Add"), 3 * ((depth - 2) // 6), f"{case}: number of residual additions")
        assert_close(np.sum(got["probs"], axis=1), np.ones(2), f"{case}: probabilities sum to 1", tol=1e-4)
    depths = [4, 10, 15, 0, -4]
    got = student.probe(RESNET_ERRORS, depths=depths)
    for d in depths:
        assert_equal(got[str(d)], "ValueError", f"build_resnet({d}, ...) ({d} is not 6n+2 with n >= 1)")


@hidden_test(points=3, name="dense_block: other sizes", part="dense_block")
def dense_other(student):
    x = rng(13).standard_normal((2, 5, 5, 3)).astype(np.float32)
    got = build(student, "dense_block", (5, 5, 3), 3, 4, sample=x)
    assert_equal(got["shape"], [None, 5, 5, 15], "dense_block(5x5x3, 3 layers, k=4): output shape")
    assert_equal(got["params"], dense_params(3, 3, 4), "dense_block(5x5x3, 3, 4): parameter count")
    assert_close(got["out"][..., :3], x, "dense_block(5x5x3, 3, 4): the first 3 output channels are the input")
    expect_block(student, "dense_block", (4, 4, 24), (6, 12), {}, dense_params(24, 6, 12), (4, 4, 96),
                 "dense_block(4x4x24, 6 layers, k=12)")


@hidden_test(points=4, name="StochasticDepth: training vs inference (statistical, seeded)", part="stochastic_depth")
def stochastic_depth(student):
    p = 0.3
    x = rng(14).uniform(0.5, 1.5, size=(3000, 5)).astype(np.float32)
    got = student.probe(STOCHASTIC, p=p, sample=x)
    assert_close(got["inference"], p * x, "StochasticDepth(0.3) at inference: 0.3 * x on a (3000, 5) input")
    assert_close(got["model_inference"], p * x, "StochasticDepth(0.3) in a Sequential model, training=False")
    for key, what in (("training", "called with training=True"), ("model_training", "in a model, training=True"),
                      ("graph_training", "traced by tf.function with an unknown batch size (as in fit)")):
        y = np.asarray(got[key])
        if y.shape != x.shape:
            raise HiddenTestFailure(f"StochasticDepth {what}: expected shape {x.shape}, got {y.shape}")
        kept, dropped = np.all(y == x, axis=1), np.all(y == 0, axis=1)
        if not np.all(kept | dropped):
            raise HiddenTestFailure(f"StochasticDepth {what}: each sample must be kept whole or dropped whole "
                                    f"({int(np.sum(~(kept | dropped)))} of 3000 rows are neither x nor 0)")
        rate = float(kept.mean())   # 3000 Bernoulli(0.3) draws: standard deviation 0.0084
        if abs(rate - p) > 0.035:
            raise HiddenTestFailure(f"StochasticDepth(0.3) {what}: expected about 30% of the samples kept, "
                                    f"got {rate:.1%}")
    assert_close(got["p0_training"], np.zeros_like(x), "StochasticDepth(0.0) in training drops every sample")


@hidden_test(points=3, name="survival_probabilities: other depths", part="survival_probabilities")
def survival_other(student):
    for args in ((3, 0.5), (1, 0.5), (10, 0.8), (27, 0.0)):
        got = student.call("survival_probabilities", *args)
        assert_close(got, survival(*args), f"survival_probabilities{args}", tol=1e-9)


# ---------------------------------------------------------------------------------------------
# Trusted checks of the notebook's grade cells: each re-runs its cell's cases (same inputs, seeds,
# tolerances) on values the student's process returns, with every expected value computed here.
# No points of their own: a grade cell keeps its points only when its check passes.
# ---------------------------------------------------------------------------------------------
@trusted_check("test_vgg_block", part="vgg_block")
def vgg_block_visible_cases(student):
    expect_block(student, "vgg_block", (32, 32, 3), (64, 2), {}, vgg_params(3, 64, 2), (16, 16, 64),
                 "vgg_block(32x32x3, 64 filters, 2 convs)")
    x = rng(0).standard_normal((2, 8, 8, 16)).astype(np.float32)
    got = build(student, "vgg_block", (8, 8, 16), 32, 3, sample=x)
    case = "vgg_block(8x8x16, 32, 3)"
    assert_equal(got["shape"], [None, 4, 4, 32], f"{case}: output shape")
    assert_equal(got["params"], vgg_params(16, 32, 3), f"{case}: parameter count")
    assert_equal(got["layers"].count("Conv2D"), 3, f"{case}: number of Conv2D layers")
    out = as_array(got["out"], f"{case}: output on a (2, 8, 8, 16) input")
    assert_equal(bool(out.size and np.all(out >= 0)), True,
                 f"{case}: output on a (2, 8, 8, 16) input is >= 0 (ReLU before the max pool)")


@trusted_check("test_inception_module", part="inception_module")
def inception_module_visible_cases(student):
    cfg = (64, 96, 128, 16, 32, 32)
    expect_block(student, "inception_module", (28, 28, 192), cfg, {}, inception_params(192, *cfg), (28, 28, 256),
                 "inception (3a) on 28x28x192")
    cfg = (3, 2, 4, 1, 2, 6)
    got = expect_block(student, "inception_module", (9, 9, 5), cfg, {}, inception_params(5, *cfg), (9, 9, 15),
                       "inception(9x9x5, 3, 2, 4, 1, 2, 6)")
    assert_equal(got["layers"].count("MaxPooling2D"), 1,
                 "inception(9x9x5, 3, 2, 4, 1, 2, 6): number of MaxPooling2D layers (the pool branch)")


@trusted_check("test_resnet_basic_block", part="resnet_basic_block")
def resnet_basic_block_visible_cases(student):
    case = "basic block 8x8x16 -> 16 (identity shortcut)"
    got = expect_block(student, "resnet_basic_block", (8, 8, 16), (16,), {}, basic_params(16, 16), (8, 8, 16), case)
    assert_equal(got["trainable"], basic_params(16, 16) - 2 * 2 * 16, f"{case}: trainable parameters")
    assert_equal(got["layers"].count("Conv2D"), 2, f"{case}: number of Conv2D layers (no 1x1 projection)")
    x = rng(1).standard_normal((2, 8, 8, 16)).astype(np.float32)
    got = student.probe(ZERO_KERNELS, input_shape=[8, 8, 16], filters=16, sample=x)
    check_close("basic block 8x8x16 -> 16 with all kernels zero (F = 0) must return ReLU(x) (identity shortcut, "
                "ReLU after the add)", np.maximum(x, 0), got)
    expect_block(student, "resnet_basic_block", (8, 8, 16), (32,), {"stride": 2}, basic_params(16, 32, 2),
                 (4, 4, 32), "basic block 8x8x16 -> 32, stride 2 (projection 1x1 conv + BN)")
    expect_block(student, "resnet_basic_block", (8, 8, 16), (24,), {}, basic_params(16, 24), (8, 8, 24),
                 "basic block 8x8x16 -> 24, stride 1 (the channel change alone needs the projection)")


@trusted_check("test_resnet_bottleneck_block", part="resnet_bottleneck_block")
def resnet_bottleneck_block_visible_cases(student):
    expect_block(student, "resnet_bottleneck_block", (8, 8, 64), (16,), {}, bottleneck_params(64, 16), (8, 8, 64),
                 "bottleneck 8x8x64, filters 16 (identity shortcut)")
    expect_block(student, "resnet_bottleneck_block", (8, 8, 64), (32,), {"stride": 2}, bottleneck_params(64, 32, 2),
                 (4, 4, 128), "bottleneck 8x8x64, filters 32, stride 2 (with the projection)")


@trusted_check("test_gap_head", part="gap_head")
def gap_head_visible_cases(student):
    x = rng(2).standard_normal((3, 4, 4, 64)).astype(np.float32)
    got = build(student, "gap_head", (4, 4, 64), 10, sample=x)
    assert_equal(got["shape"], [None, 10], "gap_head(4x4x64, 10): output shape")
    assert_equal(got["params"], gap_params(64, 10), "gap_head(4x4x64, 10): parameter count")
    out = as_array(got["out"], "gap_head(4x4x64, 10) on a (3, 4, 4, 64) input")
    if out.shape != (3, 10):
        raise HiddenTestFailure(f"gap_head(4x4x64, 10) on a (3, 4, 4, 64) input: expected shape (3, 10), "
                                f"got shape {out.shape}")
    check_close("gap_head(4x4x64, 10): outputs are probabilities (rows sum to 1)", np.ones(3), out.sum(axis=1),
                tol=1e-4)


@trusted_check("test_build_resnet", part="build_resnet")
def build_resnet_visible_cases(student):
    got = student.probe(RESNET, depth=20, num_classes=10, input_shape=[32, 32, 3], sample=None)   # built, not run
    case = "ResNet-20 (build_resnet(20, 10, (32, 32, 3)))"
    assert_equal(got["shape"], [None, 10], f"{case}: output shape")
    assert_equal(got["params"], resnet_params(20, 3, 10), f"{case}: parameters incl. BN moving statistics "
                                                          f"(option B shortcuts)")
    assert_equal(got["trainable"], resnet_trainable(20, 3, 10), f"{case}: trainable parameters")
    assert_equal(got["layers"].count("Add"), 9, f"{case}: number of residual additions (3n = 9)")
    assert_equal(got["layers"].count("Conv2D"), 21, f"{case}: number of Conv2D layers (19 3x3 + 2 projections)")
    got = student.probe(RESNET, depth=8, num_classes=10, input_shape=[8, 8, 1], sample=None)
    assert_equal(got["shape"], [None, 10], "ResNet-8 on the 8x8x1 digits: output shape")
    depths = [19, 21, 2]
    got = student.probe(RESNET_ERRORS, depths=depths)
    for d in depths:
        assert_equal(got[str(d)], "ValueError", f"build_resnet({d}, ...) ({d} is not 6n+2 with n >= 1)")


@trusted_check("test_dense_block", part="dense_block")
def dense_block_visible_cases(student):
    x = rng(3).standard_normal((2, 8, 8, 16)).astype(np.float32)
    got = build(student, "dense_block", (8, 8, 16), 4, 12, sample=x)
    case = "dense_block(8x8x16, 4 layers, k=12)"
    assert_equal(got["shape"], [None, 8, 8, 64], f"{case}: output shape")
    assert_equal(got["params"], dense_params(16, 4, 12), f"{case}: parameter count")
    assert_equal(got["layers"].count("Concatenate"), 4, f"{case}: number of Concatenate layers")
    out = as_array(got["out"], f"{case} on a (2, 8, 8, 16) input")
    if out.shape != (2, 8, 8, 64):
        raise HiddenTestFailure(f"{case} on a (2, 8, 8, 16) input: expected shape (2, 8, 8, 64), got shape {out.shape}")
    check_close(f"{case}: the first 16 output channels are the input itself", x, out[..., :16])


@trusted_check("test_stochastic_depth", part="stochastic_depth")
def stochastic_depth_visible_cases(student):
    p = 0.7
    x = rng(4).uniform(1.0, 2.0, size=(4000, 2, 2, 3)).astype(np.float32)
    got = student.probe(STOCHASTIC_VISIBLE, p=p, seed=1, sample=x)
    check_close("StochasticDepth(0.7) at inference returns 0.7 * x", p * x, got["inference"], tol=1e-6)
    y = as_array(got["training"], "StochasticDepth(0.7) in training")
    assert_equal(y.shape, x.shape, "StochasticDepth(0.7) in training: output shape")
    kept, dropped = np.all(y == x, axis=(1, 2, 3)), np.all(y == 0, axis=(1, 2, 3))
    if not np.all(kept | dropped):
        raise HiddenTestFailure(f"StochasticDepth(0.7) in training: each sample's branch must be kept whole (x) or "
                                f"dropped whole (0); {int(np.sum(~(kept | dropped)))} of 4000 samples are neither")
    rate = float(kept.mean())   # 4000 Bernoulli(0.7) draws: standard deviation 0.0072
    if not abs(rate - p) < 0.03:
        raise HiddenTestFailure(f"StochasticDepth(0.7) in training: expected about 70% of the samples kept "
                                f"(0.7 +- 0.03), got {rate:.3f}")
    y2 = as_array(got["training_again"], "StochasticDepth(0.7) in training, second call")
    assert_equal(y2.shape, x.shape, "StochasticDepth(0.7) in training, second call: output shape")
    assert_equal(bool(np.any(y2 != y)), True, "StochasticDepth(0.7) draws a new mask at each call (two training "
                                              "calls on the same input differ)")
    check_close("StochasticDepth(1.0) in training is the identity", x, got["p1_training"])
    check_close("StochasticDepth(0.0) in training drops every sample", np.zeros_like(x), got["p0_training"])
    yg = as_array(got["graph_training"], "StochasticDepth traced with an unknown batch size")
    assert_equal(yg.shape, x.shape, "StochasticDepth traced with an unknown batch size: output shape")
    kept_g = np.all(yg == x, axis=(1, 2, 3))
    assert_equal(bool(np.all(kept_g | np.all(yg == 0, axis=(1, 2, 3)))), True,
                 "StochasticDepth traced with an unknown batch size: each sample kept whole or dropped whole")
    if not abs(float(kept_g.mean()) - p) < 0.03:
        raise HiddenTestFailure(f"StochasticDepth(0.7) traced with an unknown batch size keeps about 70% of the "
                                f"samples (0.7 +- 0.03), got {float(kept_g.mean()):.3f}")
    check_close("StochasticDepth(0.7) in a model with training=False returns 0.7 * x", p * x, got["model_inference"],
                tol=1e-6)


@trusted_check("test_survival_probabilities", part="survival_probabilities")
def survival_probabilities_visible_cases(student):
    p = student.call("survival_probabilities", 54)
    try:
        n = len(p)
    except TypeError:
        raise HiddenTestFailure(f"survival_probabilities(54): expected a list of 54 probabilities, "
                                f"got {type(p).__name__}") from None
    assert_equal(n, 54, "survival_probabilities(54): length")
    check_close("survival_probabilities(54): p_1 = 1 - 1/54 * 0.5", 1 - 0.5 / 54, p[0], tol=1e-9)
    check_close("survival_probabilities(54): p_L = 0.5", 0.5, p[-1], tol=1e-9)
    check_close("survival_probabilities(4, p_L=0.2)", [0.8, 0.6, 0.4, 0.2],
                student.call("survival_probabilities", 4, p_L=0.2), tol=1e-9)


# ---------------------------------------------------------------------------------------------
# The training check
# ---------------------------------------------------------------------------------------------
# The rules the checks apply: the notebook states them from here (the release fills its {{rule:KEY}}
# placeholders, autograder/authoring/rules.py; tests/autograder/authoring/test_rules.py reads them back).
RULES = {
    "thresholds": {   # the training check: (minimum test accuracy, fraction of the points) per profile, best first
        "smoke": [(0.90, 1.0), (0.80, 0.75), (0.60, 0.5), (0.30, 0.25)],
        "full": [(0.90, 1.0), (0.85, 0.75), (0.75, 0.5), (0.50, 0.25)],
    },
}
THRESHOLDS = RULES["thresholds"]
STARTUP_SECONDS = 120.0   # imports, data loading and prediction on top of the training budget
EVAL_NOISE = {"digits": 0.02, "cifar10": 2}   # the test images' fresh noise at each grading (secret_test_split)


def trusted_training():
    """The instructor's training.py (never the copy in the submission)."""
    spec = importlib.util.spec_from_file_location("cnn_architectures_training_trusted", TRAINING_PY)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def requested_profile(student):
    """The profile the grader resolved (passed on the proxy, never read from the environment)."""
    name = getattr(student, "profile", None) or "smoke"
    return name if name in ("smoke", "full", "auto") else "smoke"


def grade_accuracy(accuracy, profile_name):
    for minimum, fraction in THRESHOLDS[profile_name]:
        if accuracy >= minimum:
            return fraction
    return 0.0


@hidden_test(points=8, name="training check: ResNet-20 trained with the course recipe")
def training_check(student):
    training = trusted_training()
    profile = training.select_profile(requested_profile(student))
    test = training.load_data(profile)
    x_eval, y_test = secret_test_split(test.x_test, test.y_test, EVAL_NOISE[profile.dataset])   # labels stay here
    out = student.probe(TRAIN, timeout=profile.time_budget + STARTUP_SECONDS,
                        training_source=TRAINING_PY.read_text(), profile_name=profile.name,
                        data_dir=profile.data_dir, x_eval=x_eval)
    predictions = np.asarray(out["predictions"]).reshape(-1)
    if predictions.shape != y_test.shape:
        raise HiddenTestFailure(f"training check: expected {y_test.shape[0]} test predictions, "
                                f"got {predictions.shape[0]}")
    accuracy = float(np.mean(predictions == y_test))
    fraction = grade_accuracy(accuracy, profile.name)
    history = out["history"]
    epochs = len(history.get("loss", []))
    note = " (stopped early by the time budget)" if history.get("stopped_by_time_budget") else ""
    table = ", ".join(f">= {m:.0%}: {f:.0%}" for m, f in THRESHOLDS[profile.name])
    message = (f"{profile.name} profile ({profile.dataset}): ResNet-{profile.depth} reached {accuracy:.1%} test "
               f"accuracy after {epochs} epochs in {float(out['seconds']):.0f} s{note}; "
               f"points by accuracy: {table}.")
    return Score(fraction, message, leaderboard={"test accuracy": accuracy},
                 curves={"accuracy": list(history.get("accuracy", []))})
