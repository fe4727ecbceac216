"""The PNGs of the feedback: a test's training curves (one plot) and its image grids (e.g. a conv layer's
filters). Drawn once, when :func:`autograder.results.model.make_results` builds the results; every
renderer embeds the same bytes."""
from __future__ import annotations

import dataclasses
import io


@dataclasses.dataclass(frozen=True)
class Figure:
    """One drawn figure: its ``title``, its PNG bytes, or ``error`` (why it could not be drawn)."""
    title: str
    png: bytes | None = None
    error: str = ""


def _savefig(fig):
    import matplotlib.pyplot as plt
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def curve_png(curves):
    """One matplotlib figure with every curve ({label: [per-epoch values]}), as PNG bytes."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=90)
    for label, values in curves.items():
        ax.plot(range(1, len(values) + 1), values, marker="o", label=label)
    ax.set_xlabel("epoch")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return _savefig(fig)


def tiles_png(tiles, columns=16):
    """A grid of small images as PNG bytes: ``tiles`` (n, h, w) are weights, drawn on a diverging colour
    scale symmetric around 0 per tile (blue negative, red positive); (n, h, w, 3) are RGB filters, each
    rescaled to [0, 1]."""
    import numpy as np
    plt = _pyplot()
    tiles = np.asarray(tiles, dtype=np.float64)
    n = len(tiles)
    cols = max(1, min(columns, n))
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(0.7 * cols + 0.4, 0.7 * rows + 0.3), dpi=90, squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i >= n:
            ax.axis("off")
            continue
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_color("0.6")
        t = tiles[i]
        if t.ndim == 3:
            lo, hi = t.min(), t.max()
            ax.imshow((t - lo) / (hi - lo) if hi > lo else np.zeros_like(t), interpolation="nearest")
        else:
            lim = float(np.abs(t).max()) or 1.0
            ax.imshow(t, cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.03, top=0.97, wspace=0.2, hspace=0.2)
    return _savefig(fig)


def draw(title, fn, data):
    """``fn(data)`` as a :class:`Figure`; a figure that cannot be drawn says why (feedback is never a
    reason to fail grading)."""
    try:
        return Figure(title, fn(data))
    except Exception as e:  # noqa: BLE001 - feedback only: the values are still shown
        return Figure(title, None, f"{type(e).__name__}: {e}")
