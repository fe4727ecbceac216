"""Parity rows for the core ops (beras.*) and tf.nn activations / cross-entropies (beras.nn.*).

Kinks. Where an op is not differentiable (relu at 0, max with ties, clip at its bounds, ...) the
ordinary rows keep the inputs at least 1e-2 away from the kink, so TF, beras and finite
differences (tests/beras/test_gradcheck.py) must all agree. TF's particular choice of subgradient AT
the kink is then pinned separately by the rows named ``.../at-kink``, whose inputs are rounded to
multiples of 0.5 so they land exactly on kinks and ties; finite differences are meaningless
there, so test_gradcheck skips them.
"""
import numpy as np
import tensorflow as tf
from hypothesis import strategies as st

import beras

from .strategies import arrays, shapes
from .table import Row

# ---------------------------------------------------------------- strategy helpers


def away(a, kinks, gap=1e-2):
    """Move entries closer than ``gap`` to any kink by +0.25 (kinks here are >= 0.5 apart)."""
    for k in kinks:
        a = np.where(np.abs(a - k) < gap, a + 0.25, a)
    return a


def on_grid(a):
    """Round to multiples of 0.5: lands on kinks (0, bounds) and makes ties likely."""
    return np.round(a * 2) / 2


def distinct(a, gap=0.02):
    """Same order as ``a`` but every two entries at least ``gap`` apart (no ties for max/min)."""
    flat = a.reshape(-1)
    out = np.empty_like(flat)
    order = np.argsort(flat, kind="stable")
    out[order] = np.sort(flat) + gap * np.arange(flat.size)
    return out.reshape(a.shape)


def nonzero(a, lo=0.5):
    """Magnitudes at least ``lo``, signs kept (zeros become +lo): safe divisors."""
    return np.where(a < 0, np.minimum(a, -lo), np.maximum(a, lo))


def one(d, shape_strategy=None, mapper=None, **kw):
    """Strategy for a single input array."""
    shp = shapes() if shape_strategy is None else shape_strategy
    return shp.flatmap(lambda s: arrays(d, s, **kw)).map(lambda a: [a if mapper is None else mapper(a).astype(d)])


def two(d, same_shape=False, mapper=None, shape_strategy=None, **kw):
    """Two arrays; the second broadcasts from the first's last axis unless ``same_shape``."""
    shp = shapes(min_dims=1) if shape_strategy is None else shape_strategy

    def build(s):
        s2 = s if same_shape else s[-1:]
        return st.tuples(arrays(d, s, **kw), arrays(d, s2, **kw)).map(list)
    strat = shp.flatmap(build)
    if mapper is not None:
        strat = strat.map(lambda xs: [m.astype(d) for m in mapper(*xs)])
    return strat


def unary(name, b, t, mapper=None, shape_strategy=None, **kw):
    return Row(name, b, t, lambda d: one(d, shape_strategy, mapper, **kw))


def binary(name, b, t, mapper=None, same_shape=False, **kw):
    return Row(name, b, t, lambda d: two(d, same_shape, mapper, **kw))


def saturating(name, b, t, lim64, lim32):
    """sigmoid/tanh: their gradients y(1 - y) and 1 - y**2 cancel as y saturates, so in float32
    they carry the forward's last-ulp difference (TF's Eigen approximations vs NumPy) at relative
    size ulp / (1 - y); beyond |x| ~ lim32 that exceeds 1e-5. float64 has digits to spare."""
    def inputs(d):
        lim = lim64 if d == "float64" else lim32
        return one(d, lo=-lim, hi=lim)
    return Row(name, b, t, inputs)


def matmul_inputs(batch, broadcast_b=False):
    def inputs(d):
        dims = st.tuples(*[st.integers(1, 4)] * 4)

        def build(n):
            b, m, k, p = n
            sa = (b, m, k) if batch else (m, k)
            sb = (k, p) if (broadcast_b or not batch) else (b, k, p)
            return st.tuples(arrays(d, sa), arrays(d, sb)).map(list)
        return dims.flatmap(build)
    return inputs


def labels_and_logits(d, min_dims=2):
    """Integer labels (as floats; rows round them) of shape s[:-1], and logits of shape s."""
    def build(s):
        c = s[-1]
        labels = st.lists(st.integers(0, c - 1), min_size=int(np.prod(s[:-1])), max_size=int(np.prod(s[:-1])))
        return st.tuples(labels.map(lambda v: np.array(v, d).reshape(s[:-1])), arrays(d, s)).map(list)
    return shapes(min_dims=min_dims).flatmap(build)


def prob_rows(a, axis=-1):
    """Rows that sum to 1 (softmax of the drawn values), for label distributions."""
    e = np.exp(a - a.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def ramp(x):
    """1, 2, ..., n along the last axis (a NumPy constant): breaks the symmetry of equal entries."""
    return np.arange(1, x.shape[-1] + 1).astype(np.dtype(getattr(x.dtype, "as_numpy_dtype", x.dtype)))


def b_int(x):
    return np.rint(np.asarray(x)).astype(np.int64)


def t_int(x):
    return tf.cast(tf.round(x), tf.int64)


# ---------------------------------------------------------------- the rows

_positive = dict(lo=0.1, hi=3.0)

ROWS = [
    # arithmetic (the second operand broadcasts from the first's last axis)
    binary("add", lambda x, y: x + y, lambda x, y: x + y),
    binary("add/function", beras.add, tf.add),
    binary("subtract", lambda x, y: x - y, lambda x, y: x - y),
    binary("subtract/function", beras.subtract, tf.subtract),
    binary("multiply", lambda x, y: x * y, lambda x, y: x * y),
    binary("multiply/function", beras.multiply, tf.multiply),
    binary("divide", lambda x, y: x / y, lambda x, y: x / y, mapper=lambda x, y: (x, nonzero(y))),
    binary("divide/function", beras.divide, tf.divide, mapper=lambda x, y: (x, nonzero(y))),
    binary("divide/same-shape", lambda x, y: x / y, lambda x, y: x / y, same_shape=True,
           mapper=lambda x, y: (x, nonzero(y))),
    binary("pow/tensor-exponent", lambda x, y: x ** y, lambda x, y: x ** y,
           mapper=lambda x, y: (np.abs(nonzero(x, 0.1)), y)),
    binary("pow/function", beras.pow, tf.pow, mapper=lambda x, y: (np.abs(nonzero(x, 0.1)), y)),
    unary("pow/square-literal", lambda x: x ** 2, lambda x: x ** 2),
    unary("pow/cube-literal", lambda x: x ** 3, lambda x: x ** 3),
    unary("pow/half-literal", lambda x: x ** 0.5, lambda x: x ** 0.5, **_positive),
    unary("pow/reflected", lambda x: 2.0 ** x, lambda x: 2.0 ** x),
    unary("scalar-arithmetic", lambda x: (3.0 - x) * 2.0 / (1.5 + x * x) + 1,
          lambda x: (3.0 - x) * 2.0 / (1.5 + x * x) + 1),
    unary("scalar-arithmetic/inexact-literals",
          lambda x: beras.clip_by_value(x * 0.1 - 1e-7, -0.2, 0.1) + (x > 0.3) * x,
          lambda x: tf.clip_by_value(x * 0.1 - 1e-7, -0.2, 0.1) + tf.cast(x > 0.3, x.dtype) * x,
          mapper=lambda a: away(away(away(a, [0.3]), [-2 + 1e-6]), [1 + 1e-6])),
    unary("numpy-operand", lambda x: x * np.float64(0.5) + np.ones(x.shape[-1:], x.dtype),
          lambda x: x * np.float64(0.5).astype(x.dtype.as_numpy_dtype) + np.ones(x.shape[-1:], x.dtype.as_numpy_dtype)),
    unary("negative", lambda x: -x, lambda x: -x),
    unary("negative/function", beras.negative, tf.negative),
    # linear algebra
    Row("matmul", lambda a, b: a @ b, lambda a, b: a @ b, matmul_inputs(batch=False)),
    Row("matmul/function", beras.matmul, tf.matmul, matmul_inputs(batch=False)),
    Row("matmul/batched", beras.matmul, tf.matmul, matmul_inputs(batch=True)),
    Row("matmul/broadcast-batch", beras.matmul, tf.matmul, matmul_inputs(batch=True, broadcast_b=True)),
    # elementwise math
    unary("exp", beras.exp, tf.exp),
    unary("log", beras.log, tf.math.log, **_positive),
    unary("sqrt", beras.sqrt, tf.sqrt, **_positive),
    unary("square", beras.square, tf.square),
    unary("abs", beras.abs, tf.abs, away_from=0.0),
    unary("abs/operator", lambda x: abs(x), lambda x: abs(x), away_from=0.0),
    unary("abs/at-kink", beras.abs, tf.abs, mapper=on_grid),
    saturating("tanh", beras.tanh, tf.tanh, 5, 2),
    saturating("sigmoid", beras.sigmoid, tf.sigmoid, 10, 4),
    binary("maximum", beras.maximum, tf.maximum, same_shape=True, mapper=lambda x, y: (x, away(y - x, [0]) + x)),
    binary("maximum/broadcast", beras.maximum, tf.maximum, mapper=lambda x, y: (on_grid(x), on_grid(y) + 0.25)),
    binary("maximum/at-kink", beras.maximum, tf.maximum, same_shape=True, mapper=lambda x, y: (on_grid(x), on_grid(y))),
    binary("minimum", beras.minimum, tf.minimum, same_shape=True, mapper=lambda x, y: (x, away(y - x, [0]) + x)),
    binary("minimum/at-kink", beras.minimum, tf.minimum, same_shape=True, mapper=lambda x, y: (on_grid(x), on_grid(y))),
    Row("where", lambda c, x, y: beras.where(c > 0, x, y), lambda c, x, y: tf.where(c > 0, x, y),
        lambda d: shapes().flatmap(
            lambda s: st.tuples(*[arrays(d, s)] * 3).map(lambda xs: [away(xs[0], [0]), *xs[1:]]))),
    Row("where/broadcast-scalar", lambda c, x: beras.where(c > 0, x, 0.0), lambda c, x: tf.where(c > 0, x, 0.0),
        lambda d: shapes().flatmap(lambda s: st.tuples(*[arrays(d, s)] * 2).map(lambda xs: [away(xs[0], [0]), xs[1]]))),
    unary("clip_by_value", lambda x: beras.clip_by_value(x, -1.0, 1.5), lambda x: tf.clip_by_value(x, -1.0, 1.5),
          mapper=lambda a: away(a, [-1.0, 1.5])),
    unary("clip_by_value/at-kink", lambda x: beras.clip_by_value(x, -1.0, 1.5),
          lambda x: tf.clip_by_value(x, -1.0, 1.5), mapper=on_grid),
    # reductions
    unary("reduce_sum", beras.reduce_sum, tf.reduce_sum),
    unary("reduce_sum/axis0", lambda x: beras.reduce_sum(x, axis=0), lambda x: tf.reduce_sum(x, axis=0)),
    unary("reduce_sum/axis-1-keepdims", lambda x: beras.reduce_sum(x, axis=-1, keepdims=True),
          lambda x: tf.reduce_sum(x, axis=-1, keepdims=True)),
    unary("reduce_sum/axes0-1", lambda x: beras.reduce_sum(x, axis=[0, -1]),
          lambda x: tf.reduce_sum(x, axis=[0, -1]), shape_strategy=shapes(min_dims=2)),
    unary("reduce_mean", beras.reduce_mean, tf.reduce_mean),
    unary("reduce_mean/axis1", lambda x: beras.reduce_mean(x, axis=1), lambda x: tf.reduce_mean(x, axis=1),
          shape_strategy=shapes(min_dims=2)),
    unary("reduce_mean/axis-1-keepdims", lambda x: beras.reduce_mean(x, axis=-1, keepdims=True),
          lambda x: tf.reduce_mean(x, axis=-1, keepdims=True)),
    unary("reduce_max", beras.reduce_max, tf.reduce_max, mapper=distinct),
    unary("reduce_max/axis-1", lambda x: beras.reduce_max(x, axis=-1), lambda x: tf.reduce_max(x, axis=-1),
          mapper=distinct),
    unary("reduce_max/axis0-keepdims", lambda x: beras.reduce_max(x, axis=0, keepdims=True),
          lambda x: tf.reduce_max(x, axis=0, keepdims=True), mapper=distinct),
    unary("reduce_max/at-kink", lambda x: beras.reduce_max(x, axis=-1), lambda x: tf.reduce_max(x, axis=-1),
          mapper=on_grid),
    unary("reduce_min/axis0", lambda x: beras.reduce_min(x, axis=0), lambda x: tf.reduce_min(x, axis=0),
          mapper=distinct),
    unary("reduce_min/at-kink", beras.reduce_min, tf.reduce_min, mapper=on_grid),
    # shapes
    unary("reshape/flat", lambda x: beras.reshape(x, [-1]), lambda x: tf.reshape(x, [-1])),
    unary("reshape/column", lambda x: beras.reshape(x, (-1, 1)) * beras.reshape(x, (1, -1)),
          lambda x: tf.reshape(x, (-1, 1)) * tf.reshape(x, (1, -1))),
    unary("transpose", beras.transpose, tf.transpose),
    unary("transpose/perm", lambda x: beras.transpose(x, perm=[1, 2, 0]), lambda x: tf.transpose(x, perm=[1, 2, 0]),
          shape_strategy=shapes(min_dims=3, max_dims=3)),
    unary("transpose/.T", lambda x: x.T @ x, lambda x: tf.transpose(x) @ x, shape_strategy=shapes(2, 2)),
    unary("expand_dims-squeeze", lambda x: beras.squeeze(beras.expand_dims(x, 1) * 2.0, axis=1),
          lambda x: tf.squeeze(tf.expand_dims(x, 1) * 2.0, axis=1)),
    binary("concat/axis0", lambda x, y: beras.concat([x, y], axis=0), lambda x, y: tf.concat([x, y], axis=0),
           same_shape=True),
    binary("concat/axis-1", lambda x, y: beras.concat([x, y * y], axis=-1),
           lambda x, y: tf.concat([x, y * y], axis=-1), same_shape=True),
    binary("stack/axis0", lambda x, y: beras.stack([x, y, x]), lambda x, y: tf.stack([x, y, x]), same_shape=True),
    binary("stack/axis-1", lambda x, y: beras.stack([x, y], axis=-1), lambda x, y: tf.stack([x, y], axis=-1),
           same_shape=True),
    unary("getitem/int", lambda x: x[0], lambda x: x[0]),
    unary("getitem/slice", lambda x: x[1:] * x[:-1], lambda x: x[1:] * x[:-1]),
    unary("getitem/step", lambda x: x[::2] + x[::-1][::2], lambda x: x[::2] + x[::-1][::2]),
    unary("getitem/ellipsis-newaxis", lambda x: x[..., :2][None] * x[..., -1:],
          lambda x: x[..., :2][None] * x[..., -1:]),
    unary("getitem/2d", lambda x: x[:, 0] - x[-1, :1], lambda x: x[:, 0] - x[-1, :1],
          shape_strategy=shapes(min_dims=2)),
    unary("getitem/gather-repeats", lambda x: x[np.array([0, 0, -1])], lambda x: tf.gather(x, [0, 0, x.shape[0] - 1])),
    unary("cast/roundtrip", lambda x: beras.cast(beras.cast(x, "float32" if x.dtype == np.float64 else "float64"),
                                                 x.dtype) * x,
          lambda x: tf.cast(tf.cast(x, tf.float32 if x.dtype == tf.float64 else tf.float64), x.dtype) * x),
    # (truncation jumps at every nonzero integer: inputs keep away from them, like every kink here)
    unary("cast/to-int", lambda x: beras.cast(x, "int32"), lambda x: tf.cast(x, tf.int32),
          mapper=lambda a: away(a, [-3, -2, -1, 1, 2, 3])),
    Row("one_hot", lambda x: beras.one_hot(b_int(x), 3, dtype=x.dtype),
        lambda x: tf.one_hot(t_int(x), 3, dtype=x.dtype), lambda d: one(d), grad=False),
    Row("one_hot/on-off-axis0", lambda x: beras.one_hot(b_int(x), 4, on_value=2.0, off_value=-1.0, axis=0,
                                                        dtype=x.dtype),
        lambda x: tf.one_hot(t_int(x), 4, on_value=2.0, off_value=-1.0, axis=0, dtype=x.dtype),
        lambda d: one(d), grad=False),
    # tf.nn activations
    unary("nn.relu", beras.nn.relu, tf.nn.relu, away_from=0.0),
    unary("nn.relu/at-kink", beras.nn.relu, tf.nn.relu, mapper=on_grid),
    unary("nn.leaky_relu", beras.nn.leaky_relu, tf.nn.leaky_relu, away_from=0.0),
    unary("nn.leaky_relu/alpha0.1", lambda x: beras.nn.leaky_relu(x, alpha=0.1),
          lambda x: tf.nn.leaky_relu(x, alpha=0.1), away_from=0.0),
    unary("nn.leaky_relu/at-kink", beras.nn.leaky_relu, tf.nn.leaky_relu, mapper=on_grid),
    unary("nn.relu6", beras.nn.relu6, tf.nn.relu6, lo=-3, hi=9, mapper=lambda a: away(a, [0, 6])),
    unary("nn.relu6/at-kink", beras.nn.relu6, tf.nn.relu6, lo=-3, hi=9, mapper=on_grid),
    unary("nn.elu", beras.nn.elu, tf.nn.elu, away_from=0.0),
    unary("nn.elu/at-kink", beras.nn.elu, tf.nn.elu, mapper=on_grid),
    unary("nn.softplus", beras.nn.softplus, tf.nn.softplus, lo=-10, hi=10),
    saturating("nn.sigmoid", beras.nn.sigmoid, tf.nn.sigmoid, 10, 4),
    saturating("nn.tanh", beras.nn.tanh, tf.nn.tanh, 5, 2),
    # the sum of a softmax is 1 whatever x, so its plain gradient is ~1e-17 noise: weight the output by x
    unary("nn.softmax", lambda x: beras.nn.softmax(x) * x, lambda x: tf.nn.softmax(x) * x, lo=-10, hi=10),
    unary("nn.softmax/axis0", lambda x: beras.nn.softmax(x, axis=0) * x, lambda x: tf.nn.softmax(x, axis=0) * x),
    # d/dx sum(log_softmax(x)) = 1 - n softmax(x) cancels to float noise for equal x: weight by a ramp
    unary("nn.log_softmax", lambda x: beras.nn.log_softmax(x) * ramp(x), lambda x: tf.nn.log_softmax(x) * ramp(x),
          lo=-10, hi=10),
    unary("nn.log_softmax/axis0-weighted", lambda x: beras.nn.log_softmax(x, axis=0) * x,
          lambda x: tf.nn.log_softmax(x, axis=0) * x),
    # tf.nn cross-entropies (labels: rows summing to 1, TF's precondition for its logits gradient,
    # and not uniform, else softmax - labels cancels to float noise when the logits are equal)
    Row("nn.softmax_cross_entropy_with_logits",
        lambda y, z: beras.nn.softmax_cross_entropy_with_logits(labels=y, logits=z),
        lambda y, z: tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=z),
        lambda d: two(d, same_shape=True, mapper=lambda y, z: (prob_rows(y + ramp(y)), z))),
    Row("nn.softmax_cross_entropy_with_logits/one-hot-axis0",
        lambda y, z: beras.nn.softmax_cross_entropy_with_logits(labels=y, logits=z, axis=0),
        lambda y, z: tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=z, axis=0),
        lambda d: two(d, same_shape=True, shape_strategy=shapes(min_dims=2, max_dims=2),
                      mapper=lambda y, z: (np.eye(y.shape[0])[np.argmax(y, axis=0)].T, z))),
    Row("nn.sparse_softmax_cross_entropy_with_logits",
        lambda y, z: beras.nn.sparse_softmax_cross_entropy_with_logits(labels=b_int(y), logits=z),
        lambda y, z: tf.nn.sparse_softmax_cross_entropy_with_logits(labels=t_int(y), logits=z),
        labels_and_logits),
    Row("nn.sigmoid_cross_entropy_with_logits",
        lambda y, z: beras.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=z),
        lambda y, z: tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=z),
        lambda d: two(d, same_shape=True, mapper=lambda y, z: (np.abs(y) / 3, z * 3))),
]
