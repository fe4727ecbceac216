"""Small checks for notebooks and tests, with messages that say what is wrong.

    from beras.testing import check_close, check_equal, case, tape_gradients

    with case("conv2d, VALID, stride 1"):              # names the case; turns NotImplementedError into
        got = beras.nn.conv2d(x, w, 1, "VALID")         # "conv2d, VALID, stride 1: not implemented yet (...)"
        check_close("conv2d, VALID, stride 1", got, expected)

Every failure is an ``AssertionError`` whose message reads ``"<case>: expected ..., got ..."``.
Plain NumPy; no TensorFlow here (the notebooks compute their references with TF themselves).
"""
from __future__ import annotations

import contextlib
import traceback

import numpy as np

from .gradcheck import rel_error, tape_gradients  # noqa: F401  (defined once, there; the notebooks import them here)


def _array(value):
    if hasattr(value, "numpy"):
        value = value.numpy()
    return np.asarray(value)


def check_close(case, got, expected, tol=1e-6):
    """Fail with ``"case: expected shape/values ..., got ..."`` unless ``got`` matches ``expected``
    (same shape, finite, relative error below ``tol``). Returns the relative error."""
    if got is None:
        raise AssertionError(f"{case}: expected an array of shape {np.shape(_array(expected))}, got None")
    got, expected = _array(got), _array(expected)
    if got.shape != expected.shape:
        raise AssertionError(f"{case}: expected shape {expected.shape}, got shape {got.shape}")
    if not np.issubdtype(got.dtype, np.number) and got.dtype != bool:
        raise AssertionError(f"{case}: expected a numeric array, got dtype {got.dtype}")
    if not np.all(np.isfinite(got)):
        raise AssertionError(f"{case}: the result contains NaN or infinity")
    err = rel_error(got, expected)
    if not err < tol:
        diff = np.abs(got.astype(np.float64) - expected.astype(np.float64))
        where = np.unravel_index(int(np.argmax(diff)), diff.shape) if diff.ndim else ()
        raise AssertionError(
            f"{case}: values differ (relative error {err:.2e} > tolerance {tol:.0e}); largest difference at "
            f"index {tuple(int(i) for i in where)}: expected {expected[where].item()!r}, got {got[where].item()!r}")
    return err


def check_equal(case, got, expected):
    """Fail with ``"case: expected X, got Y"`` unless ``got == expected`` (tuples and lists compare alike)."""
    norm = (lambda v: tuple(v) if isinstance(v, (list, tuple)) else v)
    ok = norm(got) == norm(expected)
    if isinstance(ok, np.ndarray):
        ok = bool(ok.all())
    if not ok:
        raise AssertionError(f"{case}: expected {expected!r}, got {got!r}")


def check_dtype(case, got, expected_dtype):
    got_dtype = _array(got).dtype
    if got_dtype != np.dtype(expected_dtype):
        raise AssertionError(f"{case}: expected dtype {np.dtype(expected_dtype)}, got dtype {got_dtype}")


@contextlib.contextmanager
def case(name):
    """Name a test case: a ``NotImplementedError`` inside becomes ``"<name>: not implemented yet (where)"``."""
    try:
        yield
    except NotImplementedError as e:
        frames = traceback.extract_tb(e.__traceback__)
        last = frames[-1] if frames else None
        in_notebook = last is not None and ("ipykernel" in last.filename or last.filename.startswith("<"))
        where = "?" if last is None else (f"{last.name} in your notebook" if in_notebook
                                          else f"{last.name} in {_short(last.filename)}:{last.lineno}")
        raise AssertionError(f"{name}: not implemented yet (NotImplementedError raised by {where})") from None


def _short(filename):
    """``.../beras/nn/conv.py`` -> ``beras/nn/conv.py`` (the part a student recognizes)."""
    parts = filename.replace("\\", "/").split("/")
    return "/".join(parts[len(parts) - 1 - parts[::-1].index("beras"):]) if "beras" in parts else filename

