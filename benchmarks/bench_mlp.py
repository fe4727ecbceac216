"""One training epoch of the digits MLP (beras.examples.mlp) in beras vs Keras's ``fit``, as users
run it (verbose=0, batch 32, 1437 images -> 45 steps), alternating in one run. Goal: within 2x."""
from beras.datasets import load_digits
from beras.examples.mlp import build_mlp

from .timing import alternate, report


def main(repeats=7):
    (x, y), _ = load_digits()
    models = {name: build_mlp(name, seed=0) for name in ("beras", "keras")}

    def epoch(name):
        return lambda: models[name].fit(x, y, epochs=1, batch_size=32, verbose=0)

    medians = alternate({name: epoch(name) for name in models}, repeats=repeats, warmup=1)
    return report("mlp: one epoch of fit (digits, 45 steps of 32)", medians, baseline="keras", goal=2.0)


if __name__ == "__main__":
    main()
