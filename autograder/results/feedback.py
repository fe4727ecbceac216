"""What a student reads: feedback.html (every test's score and message, the grader's notes, each test's
training curves and image grids as inline PNGs) and the Gradescope rendering of results.json (``gradescope_format``).

On Gradescope students see results.json only, so everything feedback.html shows reaches them there:
the top-level ``output`` and each test's ``output`` are markdown (``output_format: "md"``): the
message's first line as prose (unchanged but for markdown escapes: tools read it as the summary),
"expected ... / got ..." and any further lines (assertion details, tracebacks) as code blocks, and
a test's training curves (``Score(curves=...)``) inside that test's own output, as an embedded PNG
(a ``data:image/png`` URI) followed by the values as a table. A curve therefore has its test's
visibility: a hidden test's curve shows after the due date like its score, never in the top-level
output. Image grids (``Score(images=...)``, e.g. a conv layer's filters from :func:`autograder.hidden.filter_tiles`)
go the same way, as a PNG after the curves. A trusted check's curves and images belong to the notebook cell it
guards (the grader names them "notebook: GRADE_ID: label"). The plain messages stay in ``extra_data`` (``text``
per test, ``output_text`` top level)."""
from __future__ import annotations

import base64
import html
import io
import re

MD_FORMAT = "md"
_EXPECTED_GOT = (re.compile(r"expected (?P<exp>.+?), got (?P<got>.+)$"),
                 re.compile(r"got (?P<got>.+?), expected (?P<exp>.+)$"))


def curve_png(curves):
    """One matplotlib figure with every curve ({label: [per-epoch values]}), as base64 PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=90)
    for label, values in curves.items():
        ax.plot(range(1, len(values) + 1), values, marker="o", label=label)
    ax.set_xlabel("epoch")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def tiles_png(tiles, columns=16):
    """A grid of small images as base64 PNG: ``tiles`` (n, h, w) are weights, drawn on a diverging colour
    scale symmetric around 0 per tile (blue negative, red positive); (n, h, w, 3) are RGB filters, each
    rescaled to [0, 1]."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
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
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


# ---------------------------------------------------------------------------------------------
# Markdown for Gradescope
# ---------------------------------------------------------------------------------------------
def md_escape(line):
    """``line`` as literal markdown text: only what markdown would act on is escaped (backslashes,
    backticks, ``*``, ``[ ]``, ``<``, ``_`` at a word's edge, a block marker at the start), so
    plain words, paths and snake_case names read and search as they are."""
    out = re.sub(r"([\\`*\[\]<])", r"\\\1", line)
    out = re.sub(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])", r"\\_", out)
    out = re.sub(r"^(\s*)([#>+-])(?=\s|$)", r"\1\\\2", out)
    out = re.sub(r"^(\s*\d+)([.)])(?=\s|$)", r"\1\\\2", out)
    return out


def md_code(text):
    """A fenced code block holding ``text`` verbatim (the fence is longer than any backtick run in it)."""
    runs = [len(r) for r in re.findall(r"`+", text)]
    fence = "`" * max(3, max(runs, default=0) + 1)
    return f"{fence}\n{text.rstrip()}\n{fence}"


def curve_markdown(curves, title="Training curve"):
    """The curves as an embedded PNG (when matplotlib can draw it) and a table of their values."""
    parts = [f"**{md_escape(title)}**"]
    try:
        parts.append(f"![{md_escape(title)}](data:image/png;base64,{curve_png(curves)})")
    except Exception as e:  # noqa: BLE001 - the table below still shows the values
        parts.append(md_escape(f"(the plot could not be drawn: {type(e).__name__}: {e})"))
    labels = list(curves)
    rows = max((len(v) for v in curves.values()), default=0)
    table = ["| epoch | " + " | ".join(md_escape(k).replace("|", "\\|") for k in labels) + " |",
             "| --- |" + " --- |" * len(labels)]
    for i in range(rows):
        table.append(f"| {i + 1} | " + " | ".join(f"{curves[k][i]:.4g}" if i < len(curves[k]) else ""
                                                   for k in labels) + " |")
    parts.append("\n".join(table))
    return "\n\n".join(parts)


def images_markdown(images):
    """Each image grid ({title: tiles}) as a title and an embedded PNG (or a note when it cannot be drawn)."""
    parts = []
    for title, tiles in images.items():
        parts.append(f"**{md_escape(title)}**")
        try:
            parts.append(f"![{md_escape(title)}](data:image/png;base64,{tiles_png(tiles)})")
        except Exception as e:  # noqa: BLE001 - feedback only
            parts.append(md_escape(f"(the image could not be drawn: {type(e).__name__}: {e})"))
    return "\n\n".join(parts)


def message_markdown(text, curves=None, images=None):
    """One test's message as markdown: first line as prose, expected/got and the rest as code, then the
    test's curves and image grids."""
    lines = str(text or "").strip("\n").splitlines()
    parts = []
    if lines:
        first, rest = lines[0], "\n".join(lines[1:]).strip("\n")
        parts.append(md_escape(first))
        for pattern in _EXPECTED_GOT:
            m = pattern.search(first)
            if m:
                parts.append(md_code(f"expected: {m['exp']}\ngot:      {m['got']}"))
                break
        if rest.strip():
            parts.append(md_code(rest))
    if curves:
        parts.append(curve_markdown(curves))
    if images:
        parts.append(images_markdown(images))
    return "\n\n".join(parts)


def notes_markdown(lines):
    """The top-level output: each note a paragraph (its first line), further lines as code."""
    return "\n\n".join(message_markdown(line) for line in lines if str(line).strip())


def _test_curves(name, curves):
    """The curves (or images) a test recorded (the grader names them "TEST NAME: label")."""
    prefix = f"{name}: "
    return {k[len(prefix):]: v for k, v in (curves or {}).items() if k.startswith(prefix)}


def gradescope_format(results, curves=None, notes=None, images=None):
    """``results`` (plain-text outputs) rendered for Gradescope, in place: markdown outputs with
    ``output_format: "md"``, the plain text kept in ``extra_data``, each test's curves and images in its
    output. ``notes``: the top-level output's notes (one may span lines; default: its lines)."""
    text = results.get("output", "")
    results.setdefault("extra_data", {})["output_text"] = text
    results["output"] = notes_markdown(text.splitlines() if notes is None else notes)
    results["output_format"] = MD_FORMAT
    for t in results.get("tests", []):
        plain = t.get("output", "")
        t.setdefault("extra_data", {})["text"] = plain
        t["output"] = message_markdown(plain, _test_curves(t.get("name", ""), curves),
                                       _test_curves(t.get("name", ""), images))
        t["output_format"] = MD_FORMAT
    return results


# ---------------------------------------------------------------------------------------------
# feedback.html
# ---------------------------------------------------------------------------------------------
def score_text(t):
    """A results.json test's score as shown to people: ``"3 / 5"``, or for a written answer (no score
    until a person grades it) ``"by hand (5 points)"``."""
    if "score" not in t:
        return f"by hand ({(t.get('extra_data') or {}).get('manual_points', 0):g} points)"
    return f"{t['score']:g} / {t['max_score']:g}"


def _plain(entry, key="output", extra_key="text"):
    return (entry.get("extra_data") or {}).get(extra_key, entry.get(key, ""))


def _plots_html(results, curves, images):
    """Each test's curves (one plot) and image grids under the test's name; curves of no listed test last."""
    esc = html.escape
    names = [t["name"] for t in results["tests"]]
    shown, out = set(), []
    for name in names + [None]:
        if name is None:
            mine = {k: v for k, v in (curves or {}).items() if k not in shown}
            pics = {}
        else:
            mine, pics = _test_curves(name, curves), _test_curves(name, images)
            shown.update(f"{name}: {k}" for k in mine)
        if not (mine or pics):
            continue
        out.append(f"<h3>{esc(name or 'Other curves')}</h3>")
        if mine:
            out.append(f"<img alt='training curves' src='data:image/png;base64,{curve_png(mine)}'/>")
        for title, tiles in pics.items():
            out.append(f"<p>{esc(title)}</p><img alt='{esc(title)}' src='data:image/png;base64,{tiles_png(tiles)}'/>")
    return ("<h2>Training</h2>" + "".join(out)) if out else ""


def feedback_html(results, curves=None, images=None):
    esc = html.escape
    extra = results.get("extra_data", {})
    rows = []
    for t in results["tests"]:
        color = "#eef2fb" if "score" not in t else "#e6f4ea" if t["status"] == "passed" else "#fce8e6"
        rows.append(f"<tr style='background:{color}'><td>{esc(t['name'])}</td>"
                    f"<td>{score_text(t)}</td><td><pre>{esc(_plain(t))}</pre></td></tr>")
    plot = _plots_html(results, curves, images)
    board = ""
    if results.get("leaderboard"):
        board = "<h2>Leaderboard</h2><ul>" + "".join(
            f"<li>{esc(str(e['name']))}: {esc(str(e['value']))}</li>" for e in results["leaderboard"]) + "</ul>"
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Feedback: {esc(str(extra.get('assignment', '')))}</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}} td{{padding:.3em .6em;vertical-align:top}}
pre{{white-space:pre-wrap;margin:0}} table{{border-collapse:collapse;width:100%}}</style></head><body>
<h1>{esc(str(extra.get('assignment', 'Assignment')))}: {results['score']:g} / {extra.get('max_score', 0):g}</h1>
<pre>{esc(_plain(results, 'output', 'output_text'))}</pre>
<table><tr><th>Test</th><th>Score</th><th>Message</th></tr>
{''.join(rows)}
</table>
{board}{plot}
</body></html>
"""
