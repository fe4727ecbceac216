"""Every row of the parity table: beras vs TF/Keras, values and gradients, float64 and float32."""
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given
from hypothesis import strategies as st

import beras
from beras.gradcheck import rel_error

from .parity import ROWS

TOL = {"float64": 1e-9, "float32": 1e-5}


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


@pytest.mark.parametrize("row,dtype", CASES)
def test_parity(row, dtype):
    tol = row.tol.get(dtype, TOL[dtype])

    @given(st.data())
    def check(data):
        arrays = data.draw(row.inputs(dtype), label="inputs")
        b_out, b_grads = run_beras(row, arrays)
        t_out, t_grads = run_tf(row, arrays)
        for i, (b, t) in enumerate(zip(b_out, t_out)):
            assert np.asarray(b).dtype == np.dtype(dtype) or not np.issubdtype(np.asarray(b).dtype, np.floating), \
                f"{row.name}: output {i} has dtype {np.asarray(b).dtype}, expected {dtype}"
            err = rel_error(b, t.numpy())
            assert err < tol, f"{row.name}: output {i} differs from TF, rel error {err:.2e} >= {tol:.0e}"
        if row.grad:
            for i, (gb, gt) in enumerate(zip(b_grads, t_grads)):
                if gt is None:
                    assert gb is None, f"{row.name}: TF gives no gradient for input {i}, beras does"
                    continue
                assert gb is not None, f"{row.name}: beras gives no gradient for input {i}, TF does"
                err = rel_error(gb, tf.convert_to_tensor(gt).numpy())
                assert err < tol, f"{row.name}: gradient {i} differs from TF, rel error {err:.2e} >= {tol:.0e}"

    check()
