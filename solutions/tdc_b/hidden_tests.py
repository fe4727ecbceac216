"""Hidden tests of tdc_b, part B of training_deep_cnns (instructor only, never released): 14 points, and
the trusted checks of the notebook's eleven grade cells (no points of their own: a grade cell's points
count only when its check passes here).

Part B1 (stochastic depth at depth), B2 (augmentation, test-time augmentation, strided convolution vs max
pooling) and B3 (looking inside: first-layer filters, saliency, activation maximization). The student's
functions run in the student's process (``student.call`` / ``student.probe``), which hands back plain
data; every expected value is computed here: parameter counts from the architecture formulas, crops and
flips by search over the padded input, scale jittering with TensorFlow's resize, TTA averages, saliency
maps and activation-maximization steps with NumPy on grader-built models whose gradients are written out
by hand. The two training checks train the student's ``build_sd_resnet`` and strided
``build_downsample_cnn`` with the trusted ``training.py`` next to this file and compute the test accuracy
here from the returned predictions.

Every module-level name of this file starts with ``_b_`` or ``b_`` (it is appended to part A's file).
"""

import importlib.util
import sys
from pathlib import Path

import numpy as np

from autograder.hidden import (HiddenTestFailure, Score, assert_close, assert_equal, filter_tiles, hidden_test,
                               trusted_check)

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
    return [1.0 - l / num_blocks * (1.0 - p_L) for l in range(1, num_blocks + 1)]


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


def _b_array(got, case):
    """``got`` as a float64 array, or a failure saying what came back instead."""
    if got is None:
        raise HiddenTestFailure(f"{case}: expected an array, got None")
    try:
        return np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        raise HiddenTestFailure(f"{case}: expected a numeric array, got {type(got).__name__}") from None


def _b_close(case, expected, got, tol=1e-5):
    """The visible cells' ``check_close``, run here: max |expected - got| <= tol (absolute)."""
    expected, got = np.asarray(expected, np.float64), _b_array(got, case)
    if expected.shape != got.shape:
        raise HiddenTestFailure(f"{case}: expected shape {expected.shape}, got shape {got.shape}")
    err = float(np.max(np.abs(expected - got), initial=0.0))
    if not err <= tol:   # NaN fails too
        raise HiddenTestFailure(f"{case}: expected {np.round(expected.ravel()[:6], 5)}..., "
                                f"got {np.round(got.ravel()[:6], 5)}... (max abs difference {err:.2e}, "
                                f"tolerance {tol:.0e})")


def _b_shape(got, shape, case):
    arr = _b_array(got, case)
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
data = course.load_data(profile)
if kind == "sd":
    build = lambda depth, k, shape: build_sd_resnet(depth, k, shape, p_L=0.5, widths=tuple(widths))
else:
    build = lambda depth, k, shape: build_downsample_cnn(k, shape, "strided", tuple(widths))
start = time.perf_counter()
model, history = course.fit(build, profile, data, epochs=epochs)
predictions = course.predict_classes(model, profile, data.x_test)
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
    _b_close(f"{case}: survival probabilities of the {3 * n} blocks, input to output",
             _b_survival(3 * n, kwargs.get("p_L", 0.5)), survival, tol=1e-9)
    assert_equal(got["sd_into_add"], 3 * n, f"{case}: StochasticDepth layers feeding a residual Add (the branch, "
                                            f"before the add)")
    return got


@trusted_check("test_sd_expected_depth", part="sd_expected_depth")
def check_sd_expected_depth_visible_cases(student):
    for args, kwargs in (((54,), {}), ((54,), {"p_L": 1.0}), ((3,), {}), ((9,), {"p_L": 0.2})):
        p_L = kwargs.get("p_L", 0.5)
        _b_close(f"sd_expected_depth{args + tuple(kwargs.values())}", sum(_b_survival(args[0], p_L)),
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
        _b_close(f"sd_expected_depth({L}, p_L={p_L})", L - (1 - p_L) * (L + 1) / 2,
                 student.call("sd_expected_depth", L, p_L=p_L), tol=1e-9)
    x = _b_rng(30).standard_normal((2, 12, 12, 2)).astype(np.float32)
    got = _b_expect_sd_resnet(student, 32, 7, (12, 12, 2), "build_sd_resnet(32, 7, 12x12x2, p_L=0.8, widths=(4, 6, 8))",
                              sample=x, p_L=0.8, widths=[4, 6, 8])
    _b_close("build_sd_resnet(32, 7, ...): inference probabilities sum to 1", np.ones(2), np.sum(got["probs"], axis=1),
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
    _b_close(f"{case}: the same seed gives the same crops", y, student.call("aug_random_crop", x, padding, seed=seed),
             tol=0)
    other = _b_array(student.call("aug_random_crop", x, padding, seed=seed + 1), case)
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
    _b_close(f"{case}: the same seed gives the same flips", y, student.call("aug_random_flip", x, seed=seed), tol=0)
    other = _b_array(student.call("aug_random_flip", x, seed=seed + 1), case)
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
    _b_close(f"{case}: the same seed gives the same images", y, student.call("aug_scale_jitter", x, max_size, seed=seed),
             tol=0)
    _b_close(f"{case}: max_size = H is the identity", x, student.call("aug_scale_jitter", x, h, seed=seed), tol=1e-6)


@trusted_check("test_aug_random_crop", part="augmentation")
def check_aug_random_crop_visible_cases(student):
    x = _b_rng(20).uniform(0.1, 1.0, size=(450, 5, 5, 2)).astype(np.float32)
    _b_check_crop(student, x, 1, 3, "aug_random_crop(450x5x5x2, padding 1, seed 3)")
    _b_close("aug_random_crop with padding 0 is the identity", x, student.call("aug_random_crop", x, 0, seed=3), tol=0)


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
    padded = np.pad(x, ((0, 0), (p, p), (p, p), (0, 0)))
    views = [x] + [padded[:, dy:dy + h, dx:dx + w] for dy, dx in ((0, 0), (0, 2 * p), (2 * p, 0), (2 * p, 2 * p))]
    if flip:
        views += [v[:, :, ::-1] for v in views]
    return np.stack(views)


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
    _b_close(case, expected, got, tol=1e-5)


@trusted_check("test_tta_crops", part="tta")
def check_tta_crops_visible_cases(student):
    x = np.arange(1, 19, dtype=np.float32).reshape(2, 3, 3, 1)
    _b_close("tta_crops(2x3x3x1, padding 1)", _b_tta_views(x, 1, False), student.call("tta_crops", x, 1), tol=0)
    x = _b_rng(23).uniform(size=(3, 6, 6, 3)).astype(np.float32)
    _b_close("tta_crops(3x6x6x3, padding 2, flip=True)", _b_tta_views(x, 2, True),
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
        _b_close(f"tta_predict(Flatten-Dense softmax model, 4x5x5x2, padding 1, flip={flip}): mean of the "
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
    _b_close("tta_crops(2x4x7x2, padding 3, flip=True)", _b_tta_views(x, 3, True),
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
    _b_close(f"{case}: history[0] is the unit's mean activation at x0", a0, history[0], tol=1e-4)
    _b_close(f"{case}: history[-1] is the unit's mean activation at the returned image", a1, history[-1], tol=1e-4)
    if not a1 > a0 + 0.1:
        raise HiddenTestFailure(f"{case}: the unit's mean activation (computed by the grader) should increase by more "
                                f"than 0.1; it went from {a0:.4f} to {a1:.4f}")
    kw1 = dict(kw, steps=1)
    one = student.probe(_B_ACTMAX, kernel=kernel, bias=bias, dense=dense, x0=x0, layer="conv", unit=unit, kwargs=kw1)
    _b_close(f"{case}, one step: clip(x0 + step_size * g / rms(g))",
             _b_ascent_step(x0, kernel, bias, unit, step_size, l2, lo, hi), one["x"], tol=1e-4)
    return a0, a1


@trusted_check("test_first_layer_filters", part="inside")
def check_first_layer_filters_visible_cases(student):
    kernel = _b_rng(25).standard_normal((3, 3, 2, 4)).astype(np.float32)
    got = student.probe(_B_FILTERS, shape=[6, 6, 2], kernel=kernel)
    _b_close("first_layer_filters: the first Conv2D kernel (3, 3, 2, 4) as (4, 3, 3, 2)", np.moveaxis(kernel, -1, 0),
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
    _b_close("activation_maximization(softmax output, class 2): history[0] is the probability at x0", p0, history[0],
             tol=1e-4)
    _b_close("activation_maximization(softmax output, class 2): history[-1] is the probability at the returned image",
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
_B_THRESHOLDS = {   # (minimum test accuracy, fraction of the points), best first
    "sd": {"smoke": [(0.80, 1.0), (0.65, 0.75), (0.45, 0.5), (0.25, 0.25)],
           "full": [(0.88, 1.0), (0.83, 0.75), (0.70, 0.5), (0.50, 0.25)]},
    "strided": {"smoke": [(0.90, 1.0), (0.80, 0.75), (0.60, 0.5), (0.30, 0.25)],
                "full": [(0.80, 1.0), (0.72, 0.75), (0.60, 0.5), (0.40, 0.25)]},
}
_B_RUNS = {   # what each check trains: (widths, epochs) per profile (None: the profile's epochs)
    "sd": {"smoke": ((8, 16, 32), 8), "full": ((16, 32, 64), None)},
    "strided": {"smoke": ((16, 32), None), "full": ((32, 64, 128), None)},
}
_B_STARTUP_SECONDS = 120.0   # imports, data loading and prediction on top of the training budget


def _b_trusted_training():
    """The instructor's training.py (never the copy in the submission)."""
    spec = importlib.util.spec_from_file_location("tdc_b_training_trusted", _B_TRAINING_PY)
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
    out = student.probe(_B_TRAIN, timeout=profile.time_budget + _B_STARTUP_SECONDS,
                        training_source=_B_TRAINING_PY.read_text(), profile_name=profile.name,
                        data_dir=profile.data_dir, kind=kind, widths=list(widths), epochs=epochs)
    y_test = training.load_data(profile).y_test
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
                 curves={"loss": list(history.get("loss", [])), "val_accuracy": list(history.get("val_accuracy", []))},
                 images={} if tiles is None else {"first-layer filters of the trained model": tiles})


@hidden_test(points=4, name="training check: ResNet-20 with stochastic depth (p_L = 0.5), course recipe",
             part="build_sd_resnet")
def b_sd_training_check(student):
    return _b_training_check(student, "sd", "build_sd_resnet(20, ..., p_L=0.5)")


@hidden_test(points=3, name="training check: the strided-convolution CNN, course recipe", part="downsample")
def b_strided_training_check(student):
    return _b_training_check(student, "strided", "build_downsample_cnn(..., 'strided')")
