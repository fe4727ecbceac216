"""Scoring (nbgrader's ``determine_grade``: error -> 0, a numeric execute_result -> partial credit,
else full points; points from the SOURCE metadata), with three changes:

- stderr alone never costs points (TensorFlow chatter); errors do.
- the kernel's own execute_reply status must be "ok" (hiding the traceback display is not enough).
- tamper checks: the grader injects a snapshot cell before the first notebook cell (identity and
  code of numpy / numpy.testing / math / builtins / IPython execution functions) and records the
  functions and classes each LOCKED cell defines; right before every grade cell an injected check
  compares them. A grade cell that runs after a monkeypatch gets 0 points with a message naming
  what changed. The check's verdict is read from its output, tagged with a random token sent only
  with the check itself. This is defence in depth (student code shares the kernel, so a determined
  attacker who rewrites the kernel's machinery can fool in-kernel checks); the hard guarantee is
  that hidden tests compare in the grader process, and a hidden test can ``guard`` notebook cells
  so their points count only when the trusted check agrees.
"""
from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from .cells import nbg

if TYPE_CHECKING:
    from .execute import NotebookRun


def last_error(cell):
    for out in reversed(cell.get("outputs", [])):
        if out.get("output_type") == "error":
            evalue = out.get("evalue") or ("not implemented yet" if out.get("ename") == "NotImplementedError" else "")
            return f"{out.get('ename')}: {evalue}".strip()
    return ""


def determine_grade(cell):
    """nbgrader.utils.determine_grade for code grade cells (copied: importing nbgrader costs ~5 s):
    an error (or stderr) output -> 0; a numeric execute_result -> that partial credit; else full."""
    max_points = float(nbg(cell).get("points", 0) or 0)
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error" or (output.get("output_type") == "stream"
                                                     and output.get("name") == "stderr"):
            return 0.0, max_points
        if output.get("output_type") == "execute_result":
            text = output.get("data", {}).get("text/plain", "")
            try:
                value = float(text if isinstance(text, str) else "".join(text))
            except ValueError:
                return max_points, max_points
            return (min(value, max_points) if value >= 0 else max_points), max_points
    return max_points, max_points


def score_cell(cell, run: NotebookRun | None):
    """(score, max_score, message) of a grade cell after execution (see module doc)."""
    max_points = float(nbg(cell).get("points", 0) or 0)
    clean = copy.deepcopy(cell)
    clean["outputs"] = [o for o in cell.get("outputs", [])
                        if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]
    score, _ = determine_grade(clean)
    score = float(score or 0.0)
    msg = ""
    if clean["outputs"] and any(o.get("output_type") == "error" for o in clean["outputs"]):
        score, msg = 0.0, last_error(cell)
    if run is not None:
        status = run.statuses.get(id(cell))
        if status is None and score > 0:
            score, msg = 0.0, "this cell did not run"
        elif status not in (None, "ok") and score > 0:
            score, msg = 0.0, "this cell raised an error"
        ok, detail = run.verdicts.get(id(cell), (True, ""))
        if not ok and score > 0:
            score = 0.0
            msg = ("no credit: functions the test relies on were replaced before it ran "
                   f"({detail[:300]}); tests must run against the real numpy/assertion helpers")
    score = max(0.0, min(score, max_points))
    return score, max_points, msg
