"""The rules a grader applies, stated in the notebook from the constants the grader uses (one home).

An assignment's ``hidden_tests.py`` may define ``RULES``, a dict literal of the numbers its checks apply
(epochs and batch size of a retraining, accuracy thresholds, ...); its checks read them from there. The
source notebook's markdown cells state them with placeholders that the release fills in:

- ``{{rule:KEY}}``: ``str`` of the value; ``KEY`` is a dotted path into ``RULES`` (dict keys, list indices:
  ``thresholds.smoke.0.0``);
- ``{{rule:KEY:SPEC}}``: ``format(value, SPEC)`` (``.0%``, ``d``, ...);
- ``{{rule:KEY:points}}``: a list of ``(minimum accuracy, fraction of the points)`` pairs, best first, as a
  sentence ("≥ 90 %: all the points, ≥ 80 %: 75 %, ...").

The release, the grader bundle and the reference submission all fill the notebook the same way
(:func:`fill_file`), so students, the grader's restored locked cells and the instructor's reference read the
same text. An unknown key, a bad path or a placeholder in a code cell is an error (the release fails):
a rule cannot be stated without its constant. ``tests/autograder/authoring/test_rules.py`` reads the stated
values back from each released notebook and compares them with the hidden tests' constants.

``RULES`` is read with :func:`ast.literal_eval` (the release never runs the hidden tests' code).
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

PLACEHOLDER = re.compile(r"\{\{rule:([A-Za-z0-9_.]+)(?::([^{}]*))?\}\}")


class RuleError(ValueError):
    """A placeholder that names no rule, or a ``RULES`` that is not a literal."""


def load(solution_dir):
    """The ``RULES`` dict of ``<solution_dir>/hidden_tests.py`` ({} when there is none)."""
    path = Path(solution_dir) / "hidden_tests.py"
    if not path.is_file():
        return {}
    for node in ast.parse(path.read_text(), str(path)).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "RULES" for t in node.targets):
            try:
                rules = ast.literal_eval(node.value)
            except ValueError as e:
                raise RuleError(f"{path}: RULES must be a literal (numbers, strings, lists, dicts): {e}") from None
            if not isinstance(rules, dict):
                raise RuleError(f"{path}: RULES must be a dict")
            return rules
    return {}


def lookup(rules, key):
    """``rules`` followed along the dotted ``key`` (dict keys, list indices)."""
    value = rules
    for part in key.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, (list, tuple)) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            raise RuleError(f"no rule {key!r} (at {part!r}); rules: {sorted(rules)}")
    return value


def render(value, spec=None):
    """The text a placeholder with format ``spec`` shows for ``value``."""
    if spec == "points":
        try:
            pairs = [(float(m), float(f)) for m, f in value]
        except (TypeError, ValueError):
            raise RuleError(f"':points' needs (minimum, fraction) pairs, got {value!r}") from None
        return ", ".join(f"≥ {m:.0%}: {'all the points' if f == 1 else format(f, '.0%')}" for m, f in pairs)
    try:
        return format(value, spec or "")
    except (TypeError, ValueError) as e:
        raise RuleError(f"cannot format {value!r} with {spec!r}: {e}") from None


def fill_text(text, rules):
    return PLACEHOLDER.sub(lambda m: render(lookup(rules, m.group(1)), m.group(2)), text)


def fill(nb, rules):
    """``nb`` (nbformat) with every markdown cell's placeholders filled from ``rules``; returns ``nb``."""
    for cell in nb.cells:
        if "{{rule:" not in cell.source:
            continue
        if cell.cell_type != "markdown":
            raise RuleError(f"cell {cell.get('id')}: rule placeholders belong in markdown cells, not {cell.cell_type}")
        cell.source = fill_text(cell.source, rules)
    return nb


def fill_file(path, solution_dir):
    """Fill the notebook at ``path`` in place from ``<solution_dir>/hidden_tests.py``'s RULES."""
    import nbformat
    nb = nbformat.read(str(path), as_version=4)
    if any("{{rule:" in c.source for c in nb.cells):
        nbformat.write(fill(nb, load(solution_dir)), str(path))
