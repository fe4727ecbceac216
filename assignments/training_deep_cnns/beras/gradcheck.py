"""Numerical gradient checking: is your backward pass right?

The tape's gradient of ``f`` should match the slope you get by nudging each input entry a
little up and a little down (centred differences). Use float64 inputs: float32 has too few
digits for finite differences to be trusted beyond ~1e-3.

    >>> import numpy as np, beras
    >>> np.random.seed(0)
    >>> x = np.random.randn(3, 4)                       # float64
    >>> w = np.random.randn(4, 2)
    >>> errors = beras.gradcheck.check_gradients(lambda x, w: beras.nn.relu(x @ w), [x, w])
    input 0 (3, 4): relative error 1.2e-10  OK
    input 1 (4, 2): relative error 3.3e-11  OK

``beras.gradcheck(f, inputs)`` (or ``beras.gradcheck.gradcheck``) returns just the numerical
gradients, ``beras.gradcheck.tape_gradients(f, inputs)`` the output and the tape's gradients;
``beras.gradcheck.rel_error(a, b)`` is the relative error used everywhere in the tests, and
``beras.gradcheck.agree(a, b, tol)`` the verdict (relative error below ``tol``, or every entry within an
absolute floor where all values are ~0).
"""
from __future__ import annotations

import sys
import types

import numpy as np

from .core.tensor import GradientTape, Tensor, constant

__all__ = ["gradcheck", "check_gradients", "rel_error", "agree", "tape_gradients"]


def rel_error(a, b):
    """CS231n relative error ``max|a - b| / max(1e-8, max(|a| + |b|))`` (0 for empty arrays).

    Normalised by the largest magnitude, so entries that are nearly zero don't blow it up.
    Rough guide in float64: < 1e-7 is right, > 1e-4 is almost certainly a bug.
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        raise ValueError(f"rel_error: shapes differ: {a.shape} vs {b.shape}")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b)) / max(1e-8, np.max(np.abs(a) + np.abs(b))))


GAP_FLOOR = 1e-8   # check_gradients: below this, finite differences' own noise (h = 1e-6 in float64)


def agree(a, b, tol, floor=GAP_FLOOR):
    """``(ok, relative error, largest absolute gap)``: ``a`` and ``b`` agree when :func:`rel_error` is
    below ``tol`` or every entry differs by less than ``floor``. Where every value is ~0 the relative
    error compares noise with noise (``rel_error(0, 3e-8)`` is 1): then only the absolute gap means
    something. ``floor``: the noise of the computation (default: finite differences' in float64)."""
    err = rel_error(a, b)
    gap = float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)), initial=0))
    return err < tol or gap < floor, err, gap


def _leaves(out):
    if isinstance(out, (list, tuple)):
        return [leaf for o in out for leaf in _leaves(o)]
    return [out]


def _outputs(out):
    return [np.asarray(o, np.float64) for o in _leaves(out)]


def _weighted_difference(plus, minus, upstream):
    """sum((plus - minus) * upstream) over every output: differences first, so big outputs don't
    swamp the tiny change with rounding error."""
    ups = _leaves(upstream) if upstream is not None else [None] * len(plus)
    return sum(np.sum(p - m if u is None else (p - m) * np.asarray(u, np.float64))
               for p, m, u in zip(plus, minus, ups))


def _default_h(dtype):
    return 1e-6 if dtype == np.float64 else 1e-3


def gradcheck(f, inputs, h=None, upstream=None):
    """Centred-difference gradients of ``sum(f(*inputs) * upstream)`` w.r.t. each input.

    f:        function of beras Tensors returning a Tensor (or a list of them); the scalar whose
              gradient is estimated is the sum of its entries (weighted by ``upstream`` if given),
              exactly what ``tape.gradient(f(...), inputs, output_gradients=upstream)`` computes.
    inputs:   list of arrays/Tensors (a single one is allowed). They are not modified.
    h:        the nudge; default 1e-6 for float64 inputs, 1e-3 for float32.
    Returns:  one NumPy array per input, shaped like it (None for non-float inputs such as labels).

    ``df/dx[i] ~= (f(x + h e_i) - f(x - h e_i)) / (2h)``: two calls of ``f`` per input entry,
    so keep the inputs small.
    """
    single = not isinstance(inputs, (list, tuple))
    arrays = [np.array(x) for x in ([inputs] if single else inputs)]

    def evaluate():
        return _outputs(f(*[constant(a) for a in arrays]))

    grads = []
    for x in arrays:
        if not np.issubdtype(x.dtype, np.floating):
            grads.append(None)
            continue
        step = h if h is not None else _default_h(x.dtype)
        grad = np.zeros(x.shape, np.float64)
        for i in np.ndindex(x.shape):
            old = x[i]
            x[i] = old + step
            plus = evaluate()
            x[i] = old - step
            minus = evaluate()
            x[i] = old
            grad[i] = _weighted_difference(plus, minus, upstream) / (2 * step)
        grads.append(grad.astype(x.dtype))
    return grads[0] if single else grads


def tape_gradients(f, inputs, upstream=None):
    """Run ``f(*inputs)`` under a ``beras.GradientTape`` -> ``(output, gradients)`` as NumPy arrays: the output
    (a list of arrays if ``f`` returns several) and the tape's gradient of its sum (weighted by ``upstream``
    if given) w.r.t. each input (None where unconnected). ``inputs``: a list of arrays/Tensors, giving a
    list of gradients, or a single one, giving a single gradient. (Also ``beras.testing.tape_gradients``.)"""
    single = not isinstance(inputs, (list, tuple))
    xs = [x if isinstance(x, Tensor) else constant(x) for x in ([inputs] if single else inputs)]
    with GradientTape() as tape:
        tape.watch(xs)
        out = f(*xs)
    outs = _leaves(out)
    ups = None if upstream is None else [np.asarray(u) for u in _leaves(upstream)]
    grads = [None if g is None else g.numpy() for g in tape.gradient(outs, xs, output_gradients=ups)]
    value = [np.asarray(o) for o in outs] if isinstance(out, (list, tuple)) else np.asarray(out)
    return value, grads[0] if single else grads


def check_gradients(f, inputs, h=None, upstream=None, tol=1e-6, verbose=True):
    """Compare the tape's gradients of ``f`` with :func:`gradcheck`'s numerical ones.

    Prints one line per input (unless ``verbose=False``) and returns the relative errors
    (a list, one per input; None for inputs that are not floats). An input the tape calls
    unconnected (None) is compared as zeros. ``tol``: the error above which a line says
    "CHECK YOUR BACKWARD PASS" (1e-6 suits float64; use ~1e-2 for float32 inputs). A line also
    says OK when every entry differs by less than 1e-8: where all gradients are ~0 the relative error
    only measures the finite differences' own noise.
    """
    single = not isinstance(inputs, (list, tuple))
    inputs = [inputs] if single else list(inputs)
    _, analytic = tape_gradients(f, inputs, upstream)
    numeric = gradcheck(f, inputs, h, upstream)
    errors = []
    for i, (x, a, n) in enumerate(zip(inputs, analytic, numeric)):
        if n is None:
            errors.append(None)
            continue
        dense = np.zeros_like(n) if a is None else a
        ok, err, _gap = agree(dense, n, tol)   # all ~0 (gap < 1e-8): below finite differences' own noise
        errors.append(err)
        if verbose:
            verdict = "OK" if ok else "CHECK YOUR BACKWARD PASS"
            note = " (the tape says unconnected: None)" if a is None else ""
            print(f"input {i} {tuple(np.shape(x))}: relative error {err:.1e}  {verdict}{note}")
    return errors[0] if single else errors


class _CallableModule(types.ModuleType):
    """Lets ``beras.gradcheck(f, inputs)`` work while ``beras.gradcheck.rel_error`` stays a module attribute."""

    def __call__(self, f, inputs, h=None, upstream=None):
        return gradcheck(f, inputs, h=h, upstream=upstream)


sys.modules[__name__].__class__ = _CallableModule
