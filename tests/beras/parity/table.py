"""Row format and the table assembled from the rows_* modules."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable


@dataclass(frozen=True)
class Row:
    """One parity case.

    name:   unique id shown by pytest, e.g. "conv2d/stride2-same"
    beras:  f(*beras_tensors) -> beras tensor (or a list of them)
    tf:     f(*tf_tensors) -> tf tensor (same structure)
    inputs: f(dtype) -> hypothesis strategy of a list of numpy arrays (the differentiable inputs)
    grad:   compare gradients w.r.t. every input (sum of outputs, as tf.GradientTape does)
    dtypes: which float dtypes to run
    tol:    {dtype name: relative tolerance} overrides (CS231n relative error) — keep tight
    scale:  size of the terms that cancel where a result is ~0 (default O(1)): the comparison's absolute
            floor is ``scale`` x the dtype's rounding unit (tests/test_parity.py, FLOOR)
    """
    name: str
    beras: Callable
    tf: Callable
    inputs: Callable
    grad: bool = True
    dtypes: tuple = ("float64", "float32")
    tol: dict = field(default_factory=dict)
    scale: float = 1.0


def _collect():
    from . import rows_core
    rows = list(rows_core.ROWS)
    import importlib
    import pkgutil
    import pathlib
    here = pathlib.Path(__file__).parent
    for mod in sorted(m.name for m in pkgutil.iter_modules([str(here)])):
        if mod.startswith("rows_") and mod != "rows_core":
            rows += importlib.import_module(f"{__package__}.{mod}").ROWS
    names = [r.name for r in rows]
    dupes = sorted({n for n in names if names.count(n) > 1})
    assert not dupes, f"duplicate parity row names: {dupes}"
    return rows


ROWS = _collect()
