"""Hidden tests for beras_cnn (instructor only, never released): 36 points.

Other cases than the notebook's visible tests: stride 3 with SAME, odd and non-square sizes,
non-square kernels, 1x1 convolutions, batch 1, explicit padding, float32 and float64, ties in max
pooling, SAME average pooling (padding ignored), training-mode batch norm, the Part 1 functions on
new numbers, and the structure of ``build_cnn``. References: TensorFlow / Keras, computed here.
"""
import os

import numpy as np

from autograder.hidden import HiddenTestFailure, assert_close, assert_equal, hidden_test

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


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
@hidden_test(points=3, name="Part 1: conv_output_size, same_padding, conv_params on new cases")
def part1_functions(student):
    import keras
    for w, f, p, s in [(224, 7, 3, 2), (13, 3, 1, 1), (11, 4, 0, 3), (9, 9, 0, 1)]:
        out = keras.layers.Conv2D(1, f, strides=s)(keras.layers.ZeroPadding2D(p)(keras.Input((w, w, 1))))
        assert_equal(student.call("conv_output_size", w, f, p, s), out.shape[1],
                     f"conv_output_size(w={w}, f={f}, p={p}, s={s})")
    tf = _tf()
    rng = _rng(1)
    for size, kernel, stride in [(10, 4, 3), (224, 7, 2), (9, 2, 2), (4, 5, 1), (13, 3, 3)]:
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
    for f, d_in, k in [(3, 64, 128), (7, 3, 64), (1, 512, 10)]:
        layer = keras.layers.Conv2D(k, f)
        layer.build((None, 16, 16, d_in))
        assert_equal(student.call("conv_params", f, d_in, k), layer.count_params(), f"conv_params({f}, {d_in}, {k})")
        assert_equal(student.call("conv_params", f, d_in, k, bias=False), layer.count_params() - k,
                     f"conv_params({f}, {d_in}, {k}, bias=False)")


# --------------------------------------------------------------------------------------------
# conv2d (15 points)
# --------------------------------------------------------------------------------------------
@hidden_test(points=4, name="conv2d forward: stride 3 SAME, odd non-square input, non-square kernel (float64)")
def conv2d_forward_stride3_same(student):
    tf = _tf()
    rng = _rng(2)
    for x_shape, w_shape, s in [((2, 7, 9, 3), (2, 4, 3, 4), 3), ((1, 11, 5, 2), (3, 2, 2, 3), (3, 2)),
                                ((3, 8, 8, 1), (5, 5, 1, 2), 3)]:
        x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
        got = student.call("beras.nn.conv2d", x, w, strides=s, padding="SAME")
        assert_close(got, tf.nn.conv2d(x, w, s, "SAME").numpy(),
                     f"conv2d input {x_shape}, filters {w_shape}, strides {s}, SAME", 1e-9)


@hidden_test(points=3, name="conv2d forward: float32, 1x1 conv, batch 1, explicit padding")
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


@hidden_test(points=5, name="conv2d backward: stride 3 SAME and stride 2 SAME, odd sizes (input and filter gradients)")
def conv2d_backward_strided_same(student):
    tf = _tf()
    rng = _rng(4)
    for x_shape, w_shape, s in [((2, 7, 9, 3), (3, 3, 3, 4), 3), ((1, 10, 7, 2), (2, 4, 2, 3), 3),
                                ((2, 9, 9, 2), (4, 4, 2, 2), 2)]:
        x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
        check_vjp(student, f"conv2d input {x_shape}, filters {w_shape}, stride {s}, SAME", "beras.nn.conv2d",
                  [x, w], {"strides": s, "padding": "SAME"}, lambda x, w: tf.nn.conv2d(x, w, s, "SAME"))


@hidden_test(points=3, name="conv2d backward: VALID with leftover rows, non-square strides, 1x1 filters")
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
@hidden_test(points=2, name="bias_add: 2-D and 4-D values, gradients w.r.t. value and bias")
def bias_add_grads(student):
    tf = _tf()
    rng = _rng(6)
    for v_shape in [(7, 3), (3, 5, 2, 4), (1, 1, 1, 6)]:
        v, b = rng.standard_normal(v_shape), rng.standard_normal(v_shape[-1:])
        check_vjp(student, f"bias_add value {v_shape}", "beras.nn.bias_add", [v, b], {}, tf.nn.bias_add)


@hidden_test(points=3, name="max pooling: ties route the gradient to the first maximum (row-major)")
def max_pool_ties(student):
    tf = _tf()
    rng = _rng(7)
    x = rng.integers(0, 3, (2, 6, 6, 3)).astype(np.float64)     # many ties
    for k, s, pad in [(2, 2, "VALID"), (3, 2, "SAME"), (3, 1, "VALID")]:
        check_vjp(student, f"max_pool2d with ties, {k}x{k} stride {s} {pad}", "beras.nn.max_pool2d", [x],
                  {"ksize": k, "strides": s, "padding": pad}, lambda x: tf.nn.max_pool2d(x, k, s, pad))


@hidden_test(points=3, name="max pooling: 3x3 stride 2 (overlapping) with SAME on odd sizes, float32")
def max_pool_overlapping_same(student):
    tf = _tf()
    rng = _rng(8)
    for x_shape, dtype in [((2, 7, 9, 3), "float64"), ((1, 5, 6, 2), "float32"), ((3, 11, 11, 1), "float64")]:
        x = rng.standard_normal(x_shape).astype(dtype)
        check_vjp(student, f"max_pool2d {x_shape} {dtype}, 3x3 stride 2 SAME", "beras.nn.max_pool2d", [x],
                  {"ksize": 3, "strides": 2, "padding": "SAME"}, lambda x: tf.nn.max_pool2d(x, 3, 2, "SAME"),
                  tol=1e-9 if dtype == "float64" else 1e-5)


@hidden_test(points=3, name="average pooling: SAME ignores the padding; odd sizes, stride 3")
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


@hidden_test(points=4, name="batch norm in training mode (batch statistics): output and gradients w.r.t. x, gamma, beta")
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
        got = student.probe(BN_PROBE, x=x, gamma=gamma, beta=beta, axes=axes, upstream=upstream)
        case = f"training-mode batch norm of x {x_shape} over axes {axes}"
        assert_close(got[0], want_y, f"{case}: output", 1e-8)
        for name, g, w in zip(["x", "gamma", "beta"], got[1:], want):
            assert_close(g, w, f"{case}: gradient w.r.t. {name}", 1e-8)


# --------------------------------------------------------------------------------------------
# build_cnn (3 points)
# --------------------------------------------------------------------------------------------
CNN_PROBE = """
import numpy as np
model = build_cnn()
out = model(np.zeros((3, 8, 8, 1), "float32"))
result = {"shape": list(np.shape(out)), "layers": [type(layer).__name__ for layer in model.layers],
          "compiled": getattr(model, "optimizer", None) is not None,
          "sums": np.asarray(out, dtype=np.float64).sum(axis=1).tolist()}
"""


@hidden_test(points=3, name="build_cnn: a compiled beras CNN with Conv2D, BatchNormalization, MaxPooling2D, 10 outputs")
def build_cnn_structure(student):
    info = student.probe(CNN_PROBE)
    assert_equal(tuple(info["shape"]), (3, 10), "build_cnn()(images of shape (3, 8, 8, 1)).shape")
    for needed in ["Conv2D", "BatchNormalization", "MaxPooling2D"]:
        if needed not in info["layers"]:
            raise HiddenTestFailure(f"build_cnn: expected a {needed} layer, got layers {info['layers']}")
    if not info["compiled"]:
        raise HiddenTestFailure("build_cnn: expected a compiled model (model.compile(...)), got no optimizer")
    assert_close(np.asarray(info["sums"]), np.ones(3), "build_cnn: class probabilities should sum to 1", 1e-4)
