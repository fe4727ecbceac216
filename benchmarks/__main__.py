"""Run every benchmark module (benchmarks/bench_*.py), each alternating beras and TF in one run.

    python -m benchmarks            # all of them
    python -m benchmarks mlp conv   # only bench_mlp.py and bench_conv.py
    python -m benchmarks gpu        # ResNet-20 training on a GPU (one line, exit 0, where none is visible)
"""
import importlib
import os
import pathlib
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# TF keeps its defaults here (oneDNN on): we measure against TF as users run it.


def main(argv):
    here = pathlib.Path(__file__).parent
    names = sorted(p.stem[len("bench_"):] for p in here.glob("bench_*.py"))
    chosen = argv or names
    unknown = sorted(set(chosen) - set(names))
    if unknown:
        sys.exit(f"Unknown benchmark(s) {unknown}; valid: {names}")
    for name in chosen:
        if len(chosen) > 1:
            print(f"\n=== {name} ===", flush=True)
        importlib.import_module(f"benchmarks.bench_{name}").main()


if __name__ == "__main__":
    main(sys.argv[1:])
