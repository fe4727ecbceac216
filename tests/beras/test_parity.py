"""Every row of the parity table: beras vs TF/Keras, values and gradients, float64 and float32."""
import dataclasses

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given
from hypothesis import strategies as st

import beras
from beras.gradcheck import agree

from .parity import ROWS

TOL = {"float64": 1e-9, "float32": 1e-5}
# The absolute floor of the comparison (beras.gradcheck.agree, as check_gradients): where every value is
# ~0 (e.g. a gradient at its minimum: a smoothed label equal to the prediction) both libraries return
# rounding noise of the terms that cancel, which are O(1) here, so the floor is the dtype's rounding unit
# (float32 1.2e-7, float64 2.2e-16; times Row.scale where the cancelling terms are larger), not
# check_gradients' finite-difference noise.
FLOOR = {d: float(np.finfo(d).eps) for d in TOL}


def _flat(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def run_beras(row, arrays):
    xs = [beras.constant(a) for a in arrays]
    with beras.GradientTape() as tape:
        tape.watch(xs)
        out = row.beras(*xs)
    grads = tape.gradient(out, xs) if row.grad else None
    return _flat(out), grads


def run_tf(row, arrays):
    xs = [tf.constant(a) for a in arrays]
    with tf.GradientTape() as tape:
        tape.watch(xs)
        out = row.tf(*xs)
    grads = tape.gradient(out, xs) if row.grad else None
    return _flat(out), grads


CASES = [pytest.param(row, dtype, id=f"{row.name}-{dtype}") for row in ROWS for dtype in row.dtypes]


def compare(row, dtype, arrays, tol=None):
    """beras vs TF on ``arrays``: outputs (and their dtype), then gradients, each by ``agree``."""
    tol = row.tol.get(dtype, TOL[dtype]) if tol is None else tol
    floor = FLOOR[dtype] * row.scale
    b_out, b_grads = run_beras(row, arrays)
    t_out, t_grads = run_tf(row, arrays)
    for i, (b, t) in enumerate(zip(b_out, t_out)):
        assert np.asarray(b).dtype == np.dtype(dtype) or not np.issubdtype(np.asarray(b).dtype, np.floating), \
            f"{row.name}: output {i} has dtype {np.asarray(b).dtype}, expected {dtype}"
        ok, err, gap = agree(b, t.numpy(), tol, floor)
        assert ok, f"{row.name}: output {i} differs from TF, rel error {err:.2e} >= {tol:.0e}, max gap {gap:.1e}"
    if row.grad:
        for i, (gb, gt) in enumerate(zip(b_grads, t_grads)):
            if gt is None:
                assert gb is None, f"{row.name}: TF gives no gradient for input {i}, beras does"
                continue
            assert gb is not None, f"{row.name}: beras gives no gradient for input {i}, TF does"
            ok, err, gap = agree(gb, tf.convert_to_tensor(gt).numpy(), tol, floor)
            assert ok, f"{row.name}: gradient {i} differs from TF, rel error {err:.2e} >= {tol:.0e}, max gap {gap:.1e}"


@pytest.mark.parametrize("row,dtype", CASES)
def test_parity(row, dtype):
    @given(st.data())
    def check(data):
        compare(row, dtype, data.draw(row.inputs(dtype), label="inputs"))

    check()


BCE_SMOOTHED = next(r for r in ROWS if r.name == "losses.binary_crossentropy/label_smoothing")


@pytest.mark.parametrize("label,pred,n", [(0.0, 0.1, 3), (1.0, 0.9, 1), (1.0, 0.9, 3)])
def test_parity_where_the_smoothed_label_is_the_prediction(label, pred, n):
    """label_smoothing=0.2 turns 0/1 into 0.1/0.9, and the row's strategy draws exactly those predictions
    (0.05 away from the label, doubled): the gradient w.r.t. y_pred is 0 up to float32 rounding, where
    beras and TF round differently (0 vs 3e-8). Noise against noise: a relative error of up to 1, an
    absolute gap below float32's rounding unit; a real gradient there would still be compared."""
    y, p = np.full(n, label, np.float32), np.full(n, pred, np.float32)
    (_, b_grad), (_, t_grad) = run_beras(BCE_SMOOTHED, [y, p])[1], run_tf(BCE_SMOOTHED, [y, p])[1]
    ok, err, gap = agree(b_grad, t_grad.numpy(), TOL["float32"], FLOOR["float32"])
    assert err > TOL["float32"] and 0 < gap < FLOOR["float32"], (err, gap)    # the case that used to fail
    compare(BCE_SMOOTHED, "float32", [y, p])
    with pytest.raises(AssertionError, match="gradient 1 differs"):            # a gradient off by 1e-6 (8 floors)
        compare(dataclasses.replace(BCE_SMOOTHED, beras=lambda t, q: BCE_SMOOTHED.beras(t, q) + beras.reduce_sum(q) * 1e-6),
                "float32", [y, p])
