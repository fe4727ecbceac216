"""Side-by-side timing: alternate the contenders in one run so machine noise hits both alike."""
import time

import numpy as np


def alternate(contenders, repeats=7, warmup=1):
    """``contenders``: {name: zero-arg callable}. Returns {name: median seconds}, run round-robin."""
    for fn in contenders.values():
        for _ in range(warmup):
            fn()
    times = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, fn in contenders.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: float(np.median(ts)) for name, ts in times.items()}


def report(label, medians, baseline="tf", goal=None):
    """Print one line: each median in ms and the beras/baseline ratio against its goal."""
    ratio = medians["beras"] / medians[baseline]
    verdict = "" if goal is None else ("  ok" if ratio <= goal else f"  ABOVE GOAL {goal}x")
    parts = "  ".join(f"{k}={v * 1e3:8.2f} ms" for k, v in medians.items())
    print(f"{label:<48} {parts}  ratio={ratio:5.2f}x{verdict}", flush=True)
    return ratio
