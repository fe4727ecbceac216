"""beras.gradcheck: finite differences agree with the tape on every row of the parity table (float64),
and the student-facing helpers behave as documented."""
import numpy as np
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

import beras
from beras.gradcheck import agree, check_gradients, gradcheck, rel_error, tape_gradients

from .parity import ROWS

TOL = 1e-6  # centred differences with h = 1e-6 in float64 are good to ~1e-8 here

# Rows whose function routes the input through float32 on purpose: finite differences need a
# bigger step to see past float32 rounding, and are then only good to ~1e-4.
SPECIAL = {"cast/roundtrip": dict(h=1e-2, tol=1e-4)}

# "/at-kink" rows sit exactly on kinks and ties, where the tape returns TF's conventional
# subgradient and finite differences a one-sided average: nothing to compare there.
CHECKED = [r for r in ROWS if r.grad and "float64" in r.dtypes and "at-kink" not in r.name]


@pytest.mark.parametrize("row", CHECKED, ids=[r.name for r in CHECKED])
def test_gradcheck_agrees_with_the_tape(row):
    opts = SPECIAL.get(row.name, {})

    @settings(max_examples=2, derandomize=True, database=None, phases=[Phase.generate])
    @given(st.data())
    def check(data):
        arrays = data.draw(row.inputs("float64"), label="inputs")
        _, analytic = tape_gradients(row.beras, arrays)
        numeric = gradcheck(row.beras, arrays, h=opts.get("h"))
        for i, (x, a, n) in enumerate(zip(arrays, analytic, numeric)):
            if a is None and np.all(x == np.round(x)):
                continue  # integer labels: int casts truncate 1 - h to 0, so finite differences jump
            a = np.zeros_like(n) if a is None else a  # other unconnected inputs: numerics must be 0 too
            # where every gradient is ~0, the rel_error floor (1e-8) is below the finite-difference
            # noise (h**2 |f'''| + eps |f| / h ~ 1e-10): then agree judges the absolute gap (< 1e-8)
            ok, err, gap = agree(a, n, opts.get("tol", TOL))
            assert ok, \
                f"{row.name}: input {i}: tape vs finite differences: rel error {err:.2e}, max gap {gap:.2e}"
    check()


def test_gradcheck_of_a_known_function():
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    np.testing.assert_allclose(gradcheck(lambda t: t ** 3, x), 3 * x ** 2, rtol=1e-8)
    up = np.array([[1.0, 0.0], [2.0, -1.0]])
    np.testing.assert_allclose(gradcheck(lambda t: t ** 3, x, upstream=up), 3 * x ** 2 * up, rtol=1e-8)
    gx, gw = gradcheck(lambda a, b: a @ b, [x, x.T])
    np.testing.assert_allclose(gx, np.ones((2, 2)) @ x, rtol=1e-8)
    assert beras.gradcheck(lambda t: t * t, np.array([2.0]))[0] == pytest.approx(4.0)  # the module is callable


def test_gradcheck_does_not_modify_inputs_and_handles_lists_of_outputs():
    x = np.array([1.0, 2.0])
    copy = x.copy()
    g = gradcheck(lambda t: [t * 2.0, beras.reduce_sum(t * t)], x)
    np.testing.assert_allclose(g, 2.0 + 2 * x, rtol=1e-8)
    np.testing.assert_array_equal(x, copy)


def test_check_gradients_reports_a_wrong_backward_pass(capsys):
    @beras.primitive
    def bad_square(x):
        return x * x, lambda g: (g * x,)  # forgot the factor 2

    x = np.array([1.0, -2.0, 3.0])
    err_good = check_gradients(lambda t: beras.square(t), x)
    err_bad = check_gradients(lambda t: bad_square(t), x)
    out = capsys.readouterr().out
    assert err_good < 1e-8 and err_bad > 0.1
    assert "OK" in out and "CHECK YOUR BACKWARD PASS" in out


def test_check_gradients_with_unconnected_and_integer_inputs(capsys):
    x, labels = np.array([0.5, 1.5]), np.array([1, 0])
    errors = check_gradients(lambda a, b, c: a * 2.0, [x, x.copy(), labels])
    assert errors[0] < 1e-8 and errors[1] == 0.0 and errors[2] is None
    assert "unconnected" in capsys.readouterr().out


def test_rel_error():
    assert rel_error([1.0, 2.0], [1.0, 2.0]) == 0.0
    assert rel_error(np.zeros(3), np.zeros(3)) == 0.0
    assert rel_error([], []) == 0.0
    assert rel_error([1.0], [3.0]) == pytest.approx(0.5)
    assert rel_error([1e-12], [0.0]) == pytest.approx(1e-4)  # tiny values are judged against the 1e-8 floor
    with pytest.raises(ValueError, match="shapes differ"):
        rel_error(np.zeros(2), np.zeros(3))


def test_rel_error_has_one_library_home_and_the_grader_agrees():
    import beras.testing
    from autograder.hidden import rel_error as grader_rel_error
    assert beras.testing.rel_error is rel_error            # beras.testing imports the one definition
    rng = np.random.default_rng(0)
    cases = [([1.0], [3.0]), ([1e-12], [0.0]), ([], []), (np.zeros(3), np.zeros(3))]
    cases += [(rng.standard_normal((4, 5)), rng.standard_normal((4, 5))) for _ in range(3)]
    for a, b in cases:                                      # the grader's copy (it never imports beras)
        assert grader_rel_error(a, b) == rel_error(a, b)


def test_tape_gradients_has_one_home_and_the_notebooks_convention():
    """One definition, in beras.gradcheck (beras.testing, where the notebooks import it, re-exports it):
    ``(output, gradients)``, a list of gradients for a list of inputs, one for a single input, each equal
    to TF's for the same upstream gradient."""
    import tensorflow as tf

    import beras.testing
    assert beras.testing.tape_gradients is tape_gradients
    rng = np.random.default_rng(0)
    x, w, up = rng.standard_normal((3, 4)), rng.standard_normal((4, 2)), rng.standard_normal((3, 2))
    out, (dx, dw, dn) = tape_gradients(lambda a, b, n: beras.nn.relu(a @ b), [x, w, np.ones(2)], up)
    xs = [tf.constant(x), tf.constant(w)]
    with tf.GradientTape() as tape:
        tape.watch(xs)
        t_out = tf.nn.relu(xs[0] @ xs[1])
    t_dx, t_dw = tape.gradient(t_out, xs, output_gradients=tf.constant(up))
    assert isinstance(out, np.ndarray) and dn is None
    for ours, theirs in [(out, t_out), (dx, t_dx), (dw, t_dw)]:
        assert ours.dtype == theirs.numpy().dtype and rel_error(ours, theirs.numpy()) < 1e-12
    out2, dx2 = tape_gradients(lambda a: beras.nn.relu(a @ w), x, up)     # a single input: a single gradient
    np.testing.assert_array_equal(out2, out)
    np.testing.assert_array_equal(dx2, dx)
    outs, (d,) = tape_gradients(lambda a: [a * 2.0, beras.reduce_sum(a)], [x])  # several outputs: their list
    assert [o.shape for o in outs] == [(3, 4), ()] and np.all(d == 3.0)
