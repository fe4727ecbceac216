"""Peak memory of one training step of the digits CNN (beras.examples.cnn.build_cnn), beras vs Keras.

Batch of 128 8x8x1 digits; one step = forward in training mode, sparse cross-entropy, gradients,
Adam update (beras: ``model.train_step``; Keras: ``model.train_on_batch``, the compiled step ``fit`` runs).
Each framework runs in its own fresh subprocess, so neither sees the other's libraries or caches.

What is measured (Linux):
- "step peak RSS": the rise of the process's resident-set high-water mark during one step, over the
  resident set just before it (the mark is reset first through /proc/self/clear_refs, value 5). Shown
  for the first step (which includes one-off costs: Keras traces its graph, both create Adam's
  slots) and for a later, steady-state step (median of 5). The workers run with
  MALLOC_MMAP_THRESHOLD_=65536 so that freed large arrays go back to the OS and each step's
  temporaries show up in RSS rather than hiding in memory glibc kept from earlier steps. (Memory a
  framework pools itself and reuses from step to step is not counted again in the steady figure.)
- "process peak RSS": the whole process's high-water mark (libraries, data, model and steps).
- beras only, "tracemalloc peak": the peak of live Python/NumPy allocations during a steady step
  (NumPy reports its buffers to tracemalloc; TF's allocator does not, so Keras has no such figure).
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys

BATCH = 128
STEADY_STEPS = 5


def _status_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _reset_peak():
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM to the current RSS (Linux >= 4.0)


def _step_peak_mb(step, peaks):
    """Run ``step``; return how far RSS rose above its level just before. Appends the high-water marks
    to ``peaks`` (resetting the mark also resets getrusage's, so the process peak is tracked here)."""
    peaks.append(_status_kb("VmHWM"))
    before = _status_kb("VmRSS")
    _reset_peak()
    step()
    peaks.append(_status_kb("VmHWM"))
    return (peaks[-1] - before) / 1024


def worker(framework):
    """Runs in the subprocess: build the CNN, measure steps, print one JSON line."""
    import numpy as np

    from beras.datasets import load_digits
    from beras.examples.cnn import build_cnn

    (x, y), _ = load_digits()
    x, y = x[:BATCH], y[:BATCH]
    model = build_cnn(framework, seed=0)
    if framework == "keras":
        def step():
            model.train_on_batch(x, y)
    else:
        def step():
            model.train_step((x, y))
    peaks = []
    result = {"first_step_mb": _step_peak_mb(step, peaks)}
    result["steady_step_mb"] = statistics.median(_step_peak_mb(step, peaks) for _ in range(STEADY_STEPS))
    if framework == "beras":
        import tracemalloc
        tracemalloc.start()
        step()
        result["tracemalloc_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    result["process_peak_mb"] = max(peaks + [_status_kb("VmHWM")]) / 1024
    result["params"] = int(sum(np.prod(w.shape) for w in model.trainable_weights))
    print(json.dumps(result), flush=True)


def measure(framework):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "MALLOC_MMAP_THRESHOLD_": "65536",
           "KERAS_BACKEND": "tensorflow", "PYTHONWARNINGS": "ignore"}
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    done = subprocess.run([sys.executable, "-m", "benchmarks.bench_memory", "--worker", framework],
                          cwd=root, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{framework} memory worker failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    results = {name: measure(name) for name in ("beras", "keras")}
    print(f"memory: one training step of the digits CNN, batch {BATCH} "
          f"({results['beras']['params']} trainable parameters), each in a fresh process")
    rows = [("step peak RSS, first step", "first_step_mb"), ("step peak RSS, steady step", "steady_step_mb"),
            ("process peak RSS (everything)", "process_peak_mb"),
            ("tracemalloc peak, steady step", "tracemalloc_peak_mb")]
    print(f"  {'':<32}{'beras':>10}{'keras':>10}")
    for label, key in rows:
        cells = [f"{results[n][key]:>8.1f}MB" if key in results[n] else f"{'n/a':>10}" for n in ("beras", "keras")]
        print(f"  {label:<32}{''.join(cells)}")
    return results


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        worker(sys.argv[2])
    else:
        main()
