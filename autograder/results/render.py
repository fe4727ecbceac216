"""The three renderings of one :class:`~autograder.results.model.Results`, each a function of the object
(none reads another's output); the PNGs were drawn once, when the object was made.

- :func:`to_gradescope`: results.json. On Gradescope students see results.json only, so everything
  feedback.html shows reaches them there: the top-level ``output`` and each test's ``output`` are markdown
  (``output_format: "md"``): the message's first line as prose (unchanged but for markdown escapes: tools
  read it as the summary), "expected ... / got ..." and any further lines (assertion details, tracebacks)
  as code blocks, and a test's training curves (``Score(curves=...)``) inside that test's own output, as an
  embedded PNG (a ``data:image/png`` URI) followed by the values as a table. A curve therefore has its
  test's visibility: a hidden test's curve shows after the due date like its score, never in the top-level
  output. Image grids (``Score(images=...)``, e.g. a conv layer's filters from
  :func:`autograder.hidden.filter_tiles`) go the same way, as a PNG after the curves. A trusted check's
  curves and images belong to the notebook cell it guards (the grader names them "notebook: GRADE_ID:
  label"). The plain messages stay in ``extra_data`` (``text`` per test, ``output_text`` top level).
- :func:`to_html`: feedback.html (every test's score and plain message, the grader's notes, each test's
  curves and image grids under its name).
- :func:`to_summary_markdown`: the CI job summary's score table, from the object or from a results.json
  read from disk (``autograder summary DIR/results.json``).
"""
from __future__ import annotations

import base64
import html
import re

from .model import Results, TestResult

MD_FORMAT = "md"
_EXPECTED_GOT = (re.compile(r"expected (?P<exp>.+?), got (?P<got>.+)$"),
                 re.compile(r"got (?P<got>.+?), expected (?P<exp>.+)$"))


def _b64(figure):
    return base64.b64encode(figure.png).decode()


# ---------------------------------------------------------------------------------------------
# results.json (markdown for Gradescope)
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


def _md_figure(figure, what):
    if figure.png is None:
        return md_escape(f"(the {what} could not be drawn: {figure.error})")
    return f"![{md_escape(figure.title)}](data:image/png;base64,{_b64(figure)})"


def curve_markdown(curves, figure):
    """The curves' plot (when it could be drawn) and a table of their values."""
    parts = [f"**{md_escape(figure.title)}**", _md_figure(figure, "plot")]
    labels = list(curves)
    rows = max((len(v) for v in curves.values()), default=0)
    table = ["| epoch | " + " | ".join(md_escape(k).replace("|", "\\|") for k in labels) + " |",
             "| --- |" + " --- |" * len(labels)]
    for i in range(rows):
        table.append(f"| {i + 1} | " + " | ".join(f"{curves[k][i]:.4g}" if i < len(curves[k]) else ""
                                                   for k in labels) + " |")
    parts.append("\n".join(table))
    return "\n\n".join(parts)


def message_markdown(text):
    """A message as markdown: first line as prose, expected/got and the rest as code."""
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
    return parts


def row_markdown(t):
    """One test's output: its message, then its curves (plot and table) and image grids."""
    parts = message_markdown(t.text)
    if t.curves:
        parts.append(curve_markdown(t.curves, t.curve_figure))
    for figure in t.image_figures:
        parts += [f"**{md_escape(figure.title)}**", _md_figure(figure, "image")]
    return "\n\n".join(parts)


def notes_markdown(notes):
    """The top-level output: each note a paragraph (its first line), further lines as code."""
    return "\n\n".join("\n\n".join(message_markdown(note)) for note in notes if str(note).strip())


def _test_json(t: TestResult):
    head = {"name": t.name, "number": t.number}
    if not t.manual:
        head.update(score=t.score, max_score=t.max_score, status=t.status)
    return {**head, "output": row_markdown(t), "visibility": t.visibility, "tags": list(t.tags),
            "extra_data": {**t.extra_data, "text": t.text}, "output_format": MD_FORMAT}


def top_visibility(tests):
    """The top-level ``visibility`` of results.json: ``"visible"`` when every test is; else the most
    restrictive visibility among the tests (``hidden`` > ``after_published`` > ``after_due_date``).

    Gradescope's autograder specification (gradescope-autograders.readthedocs.io, "Autograder
    Specifications": results.json's top-level ``"visibility"`` and each test's own ``"visibility"``, which
    overrides it) is what keeps the total score from telling hidden results early: the top-level ``score``
    is the sum over *all* tests (the grade of record), so while some tests are not shown the whole
    submission's result (its total and top-level ``output``) takes the hidden tests' visibility, and each
    visible test keeps ``"visible"`` explicitly, so it still shows right away. Before the due date a
    student sees the visible rows (and their sum), never a total that includes hidden points."""
    seen = {t.visibility for t in tests if not t.manual}
    for level in ("hidden", "after_published", "after_due_date"):
        if level in seen:
            return level
    return "visible"


def to_gradescope(results: Results):
    """results.json (Gradescope's format): markdown outputs with ``output_format: "md"``, the plain texts
    in ``extra_data``, each test's curves and images in its own output; the top-level visibility from
    :func:`top_visibility` (the total never shows hidden points early)."""
    out = {"score": results.score}
    if results.execution_time is not None:
        out["execution_time"] = results.execution_time
    out.update({"output": notes_markdown(results.notes), "output_format": MD_FORMAT,
                "visibility": top_visibility(results.tests),
                "stdout_visibility": "hidden", "tests": [_test_json(t) for t in results.tests],
                "leaderboard": [{"name": k, "value": v} for k, v in results.leaderboard],
                "extra_data": {**results.extra_data, "output_text": results.output_text}})
    return out


# ---------------------------------------------------------------------------------------------
# feedback.html
# ---------------------------------------------------------------------------------------------
def score_text(t):
    """A test's score as shown to people: ``"3 / 5"``, or for a written answer (no score until a person
    grades it) ``"by hand (5 points)"``."""
    if t.manual:
        return f"by hand ({t.extra_data.get('manual_points', 0):g} points)"
    return f"{t.score:g} / {t.max_score:g}"


def _img_html(figure, alt, what):
    if figure.png is None:
        return f"<p>{html.escape(f'(the {what} could not be drawn: {figure.error})')}</p>"
    return f"<img alt='{html.escape(alt)}' src='data:image/png;base64,{_b64(figure)}'/>"


def _plots_html(results: Results):
    """Each test's curves (one plot) and image grids under the test's name; curves of no listed test last."""
    esc = html.escape
    out = []
    for t in results.tests:
        if not (t.curve_figure or t.image_figures):
            continue
        out.append(f"<h3>{esc(t.name)}</h3>")
        if t.curve_figure:
            out.append(_img_html(t.curve_figure, "training curves", "plot"))
        for figure in t.image_figures:
            out.append(f"<p>{esc(figure.title)}</p>" + _img_html(figure, figure.title, "image"))
    if results.other_figure:
        out.append("<h3>Other curves</h3>" + _img_html(results.other_figure, "training curves", "plot"))
    return ("<h2>Training</h2>" + "".join(out)) if out else ""


def to_html(results: Results):
    """feedback.html: the notes and every test's plain message, then the leaderboard and the plots."""
    esc = html.escape
    rows = []
    for t in results.tests:
        color = "#eef2fb" if t.manual else "#e6f4ea" if t.passed else "#fce8e6"
        rows.append(f"<tr style='background:{color}'><td>{esc(t.name)}</td>"
                    f"<td>{score_text(t)}</td><td><pre>{esc(t.text)}</pre></td></tr>")
    board = ""
    if results.leaderboard:
        board = "<h2>Leaderboard</h2><ul>" + "".join(
            f"<li>{esc(str(name))}: {esc(str(value))}</li>" for name, value in results.leaderboard) + "</ul>"
    title = results.assignment
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Feedback: {esc(str(title if title is not None else ''))}</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}} td{{padding:.3em .6em;vertical-align:top}}
pre{{white-space:pre-wrap;margin:0}} table{{border-collapse:collapse;width:100%}}</style></head><body>
<h1>{esc(str(title if title is not None else 'Assignment'))}: {results.score:g} / {results.max_score:g}</h1>
<pre>{esc(results.output_text)}</pre>
<table><tr><th>Test</th><th>Score</th><th>Message</th></tr>
{''.join(rows)}
</table>
{board}{_plots_html(results)}
</body></html>
"""


# ---------------------------------------------------------------------------------------------
# The CI job summary
# ---------------------------------------------------------------------------------------------
def to_summary_markdown(results):
    """A markdown score table (for $GITHUB_STEP_SUMMARY) of ``results``: a :class:`Results`, or a
    results.json's content (read from disk: any writer's) as a dict. Plain texts, never the markdown."""
    if not isinstance(results, Results):
        results = Results.from_json(results)
    lines = [f"## Autograder: {results.score:g} / {results.max_score:g}",
             "", "| Test | Score | Message |", "| --- | --- | --- |"]
    for t in results.tests:
        msg = str(t.text).replace("\n", " ").replace("|", "\\|")[:200]
        lines.append(f"| {t.name} | {score_text(t)} | {msg} |")
    lines += ["", "```", str(results.output_text)[:3000], "```"]
    return "\n".join(lines)
