"""beras.GradientTape semantics, each checked side by side against tf.GradientTape."""
import numpy as np
import pytest
import tensorflow as tf

import beras
from beras.gradcheck import rel_error

W = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])  # float64
X = np.array([[1.0, 2.0], [-3.0, 0.5], [0.0, 1.0]])


def same(b, t, tol=1e-12):
    """beras result ``b`` equals tf result ``t`` (values, dtype, None-ness)."""
    if t is None:
        assert b is None, "TF gives None here, beras does not"
        return
    assert b is not None, "beras gives None here, TF does not"
    t = tf.convert_to_tensor(t).numpy()
    assert np.asarray(b).dtype == t.dtype, f"dtype: beras {np.asarray(b).dtype}, tf {t.dtype}"
    assert rel_error(b, t) < tol


def test_persistent_tape_gives_several_gradients():
    for lib in (beras, tf):
        w = lib.Variable(W)
        with lib.GradientTape(persistent=True) as tape:
            y = lib.reduce_sum(w * w)
            z = lib.reduce_sum(lib.exp(w))
        g1, g2, g3 = tape.gradient(y, w), tape.gradient(z, w), tape.gradient(y, w)
        np.testing.assert_allclose(np.asarray(g1), 2 * W)
        np.testing.assert_allclose(np.asarray(g2), np.exp(W))
        np.testing.assert_allclose(np.asarray(g3), 2 * W)


def test_second_gradient_call_on_non_persistent_tape_raises_runtime_error():
    for lib in (beras, tf):
        w = lib.Variable(W)
        with lib.GradientTape() as tape:
            y = lib.reduce_sum(w * w)
        tape.gradient(y, w)
        with pytest.raises(RuntimeError, match="persistent"):
            tape.gradient(y, w)


def test_unconnected_source_gives_none_or_zeros():
    b, t = beras.Variable(W), tf.Variable(W)
    b2, t2 = beras.Variable(X), tf.Variable(X)
    with beras.GradientTape(persistent=True) as bt:
        by = beras.reduce_sum(b * 2.0)
    with tf.GradientTape(persistent=True) as tt:
        ty = tf.reduce_sum(t * 2.0)
    same(bt.gradient(by, b2), tt.gradient(ty, t2))
    same(bt.gradient(by, b2, unconnected_gradients="zero"),
         tt.gradient(ty, t2, unconnected_gradients=tf.UnconnectedGradients.ZERO))


def test_nested_sources_keep_their_structure():
    def run(lib):
        a, c = lib.Variable(W), lib.Variable(X)
        d = lib.Variable(np.array(2.0))
        with lib.GradientTape() as tape:
            y = lib.reduce_sum(lib.matmul(a, c)) * d
        return tape.gradient(y, {"first": [a, (c,)], "second": d})
    b, t = run(beras), run(tf)
    assert isinstance(b, dict) and set(b) == set(t)
    assert isinstance(b["first"], list) and isinstance(b["first"][1], tuple)
    same(b["first"][0], t["first"][0])
    same(b["first"][1][0], t["first"][1][0])
    same(b["second"], t["second"])


def test_constants_are_followed_only_when_watched():
    for lib in (beras, tf):
        x, u = lib.constant(X), lib.constant(X)
        with lib.GradientTape() as tape:
            tape.watch(x)
            y = lib.reduce_sum(x * x + u)
        gx, gu = tape.gradient(y, [x, u])
        np.testing.assert_allclose(np.asarray(gx), 2 * X)
        assert gu is None


def test_non_scalar_target_is_the_gradient_of_its_sum():
    bw, tw = beras.Variable(W), tf.Variable(W)
    with beras.GradientTape() as bt:
        by = beras.tanh(bw) * 3.0
    with tf.GradientTape() as tt:
        ty = tf.tanh(tw) * 3.0
    same(bt.gradient(by, bw), tt.gradient(ty, tw))


def test_list_of_targets_adds_their_gradients():
    bw, tw = beras.Variable(W), tf.Variable(W)
    with beras.GradientTape() as bt:
        bys = [bw * bw, beras.reduce_sum(bw)]
    with tf.GradientTape() as tt:
        tys = [tw * tw, tf.reduce_sum(tw)]
    same(bt.gradient(bys, bw), tt.gradient(tys, tw))


def test_non_trainable_variables_are_not_watched():
    for lib in (beras, tf):
        w, frozen = lib.Variable(W), lib.Variable(W, trainable=False)
        with lib.GradientTape() as tape:
            y = lib.reduce_sum(w * frozen)
        gw, gf = tape.gradient(y, [w, frozen])
        np.testing.assert_allclose(np.asarray(gw), W)
        assert gf is None


def test_watch_accessed_variables_false():
    for lib in (beras, tf):
        w, v = lib.Variable(W), lib.Variable(W)
        with lib.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(v)
            y = lib.reduce_sum(w * v)
        gw, gv = tape.gradient(y, [w, v])
        assert gw is None
        np.testing.assert_allclose(np.asarray(gv), W)
        assert [id(x) for x in tape.watched_variables()] == [id(v)]


def test_output_gradients_weight_the_target():
    up = np.arange(6.0).reshape(2, 3)
    bw, tw = beras.Variable(W), tf.Variable(W)
    with beras.GradientTape() as bt:
        by = beras.sigmoid(bw) * bw
    with tf.GradientTape() as tt:
        ty = tf.sigmoid(tw) * tw
    same(bt.gradient(by, bw, output_gradients=up), tt.gradient(ty, tw, output_gradients=tf.constant(up)))


def test_a_variable_used_twice_accumulates():
    bw, tw = beras.Variable(W), tf.Variable(W)
    with beras.GradientTape() as bt:
        by = beras.reduce_sum(bw @ beras.transpose(bw)) + beras.reduce_sum(bw * bw * 3.0)
    with tf.GradientTape() as tt:
        ty = tf.reduce_sum(tw @ tf.transpose(tw)) + tf.reduce_sum(tw * tw * 3.0)
    same(bt.gradient(by, bw), tt.gradient(ty, tw))


def test_indexing_and_reshape_chains():
    def f(lib, w):
        flat = lib.reshape(w, [-1])
        picked = flat[1:5] * flat[::-1][:4]
        grid = lib.reshape(lib.concat([picked, flat[:2]], axis=0), (3, 2))
        return lib.reduce_sum(lib.transpose(grid)[1] ** 2) + grid[0, 1] * w[1, 2]
    bw, tw = beras.Variable(W), tf.Variable(W)
    with beras.GradientTape() as bt:
        by = f(beras, bw)
    with tf.GradientTape() as tt:
        ty = f(tf, tw)
    same(by.numpy(), ty)
    same(bt.gradient(by, bw), tt.gradient(ty, tw))


@pytest.mark.parametrize("value,dtype", [(1.5, "float32"), ([1.0, 2.0], "float32"), (np.float64(1.5), "float64"),
                                         (np.ones(2), "float64"), (np.ones(2, np.float32), "float32")])
def test_dtypes_follow_tf(value, dtype):
    for make in (beras.constant, beras.Variable):
        x = make(value)
        assert x.dtype == np.dtype(dtype) == tf.constant(value).dtype.as_numpy_dtype
        with beras.GradientTape() as tape:
            tape.watch(x)
            y = beras.reduce_sum(x * 2.0 + 1)
        assert y.dtype == np.dtype(dtype)
        assert tape.gradient(y, x).dtype == np.dtype(dtype)


def test_ops_after_the_block_are_not_recorded():
    w = beras.Variable(W)
    with beras.GradientTape() as tape:
        y = w * 2.0
    z = beras.reduce_sum(y * y)  # outside: not recorded
    g = tape.gradient(z, w)
    assert g is None
    tw = tf.Variable(W)
    with tf.GradientTape() as tt:
        ty = tw * 2.0
    assert tt.gradient(tf.reduce_sum(ty * ty), tw) is None


def test_nested_tapes_each_record_first_order_gradients():
    w = beras.Variable(W)
    with beras.GradientTape() as outer:
        with beras.GradientTape() as inner:
            y = beras.reduce_sum(w ** 3)
        g_inner = inner.gradient(y, w)
    np.testing.assert_allclose(g_inner.numpy(), 3 * W ** 2)
    np.testing.assert_allclose(outer.gradient(y, w).numpy(), 3 * W ** 2)


def test_bad_arguments_raise_clearly():
    w = beras.Variable(W)
    with beras.GradientTape(persistent=True) as tape:
        y = beras.reduce_sum(w)
    with pytest.raises(TypeError, match="source"):
        tape.gradient(y, [W])
    with pytest.raises(TypeError, match="target"):
        tape.gradient(3.0, w)
    with pytest.raises(ValueError, match="unconnected_gradients"):
        tape.gradient(y, w, unconnected_gradients="zeros")
    with pytest.raises(TypeError, match="watch"):
        tape.watch(np.ones(2))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
@pytest.mark.parametrize("grad_shape,shape", [
    ((4, 5, 6, 3), (3,)), ((4, 5, 6, 3), (1, 1, 1, 3)), ((4, 5, 6, 3), (6, 3)), ((4, 5, 6, 3), (5, 1, 3)),
    ((4, 5, 6, 3), (1,)), ((4, 5, 6, 3), ()), ((7, 3), (1, 3)), ((7, 3), (7, 1)), ((2, 4, 3), (4, 1)),
])
def test_unbroadcast_sums_exactly_the_broadcast_axes(grad_shape, shape, dtype):
    """Both of unbroadcast's paths (one BLAS product over leading axes of contiguous floats; NumPy's sum
    otherwise, e.g. for a transposed view or integers) give NumPy's sums over the broadcast axes."""
    from beras.core.tensor import unbroadcast
    rng = np.random.default_rng(0)
    grad = rng.integers(-50, 50, grad_shape).astype(dtype)
    extra = len(grad_shape) - len(shape)
    axes = tuple(range(extra)) + tuple(extra + i for i, n in enumerate(shape) if n == 1 and grad_shape[extra + i] != 1)
    expected = grad.astype(np.float64).sum(axis=axes).reshape(shape)
    for g in (grad, np.asfortranarray(grad)):
        got = unbroadcast(g, shape)
        assert got.shape == tuple(shape) and got.dtype == dtype
        np.testing.assert_array_equal(got, expected)    # small integers: every summation order is exact


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("x_shape,b_shape", [
    ((3, 0, 4), (4,)), ((0, 4), (4,)), ((2, 3, 0), (0,)), ((0, 3, 1), (3, 1)), ((0, 0), (1, 0)), ((2, 0, 3), ()),
])
def test_broadcasting_with_an_empty_batch_gives_tfs_zero_gradients(x_shape, b_shape, dtype):
    """``x + b`` with an empty ``x``: an empty value, and b's gradient is zeros of b's shape, as in TF
    (unbroadcast's one-product channel sum once failed here: reshape(0, -1) cannot infer the columns)."""
    rng = np.random.default_rng(0)
    x, b = rng.standard_normal(x_shape).astype(dtype), rng.standard_normal(b_shape).astype(dtype)
    results = {}
    for lib in (beras, tf):
        xs = [lib.constant(x), lib.constant(b)]
        with lib.GradientTape() as tape:
            tape.watch(xs)
            y = xs[0] + xs[1]
        results[lib.__name__] = [y.numpy(), *(g.numpy() for g in tape.gradient(y, xs))]
    for ours, theirs in zip(results["beras"], results["tensorflow"]):
        assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
        np.testing.assert_array_equal(ours, theirs)
    assert results["beras"][2].shape == b_shape and not results["beras"][2].any()
