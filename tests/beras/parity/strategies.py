"""hypothesis strategies for parity inputs."""
import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp


def shapes(min_dims=1, max_dims=3, min_side=1, max_side=5):
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def arrays(dtype, shape, lo=-3.0, hi=3.0, away_from=None):
    """Finite floats in [lo, hi]; ``away_from`` keeps values at least 1e-2 from a kink (e.g. 0 for relu)."""
    elements = st.floats(lo, hi, allow_nan=False, allow_infinity=False, allow_subnormal=False, width=64)
    strat = hnp.arrays(np.float64, shape, elements=elements)
    if away_from is not None:
        strat = strat.map(lambda a: np.where(np.abs(a - away_from) < 1e-2, away_from + 0.5, a))
    # no subnormals in the target dtype either: TF's CPU kernels flush them to zero
    return strat.map(lambda a: _flush_subnormals(a.astype(dtype)))


def _flush_subnormals(a):
    return np.where(np.abs(a) < np.finfo(a.dtype).tiny, np.zeros((), a.dtype), a) if a.dtype.kind == "f" else a


def positive(dtype, shape, lo=0.1, hi=3.0):
    return arrays(dtype, shape, lo, hi)


def seeded(dtype, *shape_fns):
    """Draw a seed and shapes, then fill arrays with normal noise: fast for big inputs (conv, pooling)."""
    def build(seed_and_shapes):
        seed, shapes_ = seed_and_shapes
        rng = np.random.default_rng(seed)
        return [rng.standard_normal(s).astype(dtype) for s in shapes_]
    return st.tuples(st.integers(0, 2**31 - 1), st.tuples(*shape_fns)).map(build)
