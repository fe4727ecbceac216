"""What every released assignment gets, whatever its notebook: one home for the student-side kit.

- ``setup_cell.py``: the notebook's first code cell ("where you work"): on Google Colab it finds the
  assignment's folder (Drive or an uploaded zip), changes into it and pip-installs what
  requirements.txt lists that Colab lacks; locally and on JupyterHub it only prints what it found.
- ``submit_cell.py``: the notebook's last cell: saves (on Colab: fetches) the notebook, then runs
  ``submit.py --no-run`` (seconds: a Run All that reaches it does not start the notebook again).
- ``submit.py``: the submission command shipped in every release folder (standard library, plus
  nbformat/nbclient to run the notebook): ran top to bottom?, what is unimplemented, the zip the
  grader reads.

Both cells are locked nbgrader cells with fixed ids (``course_setup``, ``course_submit``); they skip
themselves when ``NBGRADER_EXECUTION`` is set (the grader's runs). :func:`inject` adds them to the
release's notebook (before nbgrader's generate_assignment) and to the grader bundle's notebook, so the
grader restores them from the bundle exactly as released. The templates are the files of this folder,
with the placeholder values (``"example"``, ``None``, ``[]``) replaced on their own lines.
"""
from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
SETUP_ID = "course_setup"
SUBMIT_ID = "course_submit"
TEMPLATES = ("setup_cell.py", "submit_cell.py", "submit.py")


def _template(name):
    return (HERE / name).read_text(encoding="utf-8")


def fingerprint():
    """A hash of the templates (the grader bundle is rebuilt when they change)."""
    h = hashlib.sha256()
    for name in TEMPLATES:
        h.update(name.encode() + b"\0" + _template(name).encode() + b"\0")
    return h.hexdigest()


def _cell_source(template, name):
    text = _template(template).rstrip("\n")
    call = {"setup_cell.py": "_course_setup", "submit_cell.py": "_course_submit"}[template]
    old = f'    {call}("example")'
    assert text.count(old) == 1, f"{template}: expected one line {old!r}"
    return text.replace(old, f"    {call}({json.dumps(name)})")


def _cell(cell_id, source):
    import nbformat
    cell = nbformat.v4.new_code_cell(source)
    cell.id = cell_id
    cell.metadata = {"nbgrader": {"grade": False, "grade_id": cell_id, "locked": True, "schema_version": 3,
                                  "solution": False}}
    return cell


def setup_cell(name):
    return _cell(SETUP_ID, _cell_source("setup_cell.py", name))


def submit_cell(name):
    return _cell(SUBMIT_ID, _cell_source("submit_cell.py", name))


def inject(nb, name):
    """``nb`` with the setup cell before its first code cell and the submit cell last (any earlier
    copies of them replaced). Returns ``nb``."""
    nb.cells = [c for c in nb.cells
                if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") not in (SETUP_ID, SUBMIT_ID)]
    first = next((i for i, c in enumerate(nb.cells) if c.get("cell_type") == "code"), len(nb.cells))
    nb.cells.insert(first, setup_cell(name))
    nb.cells.append(submit_cell(name))
    return nb


def inject_file(path, name):
    """Inject the cells into the notebook file ``path`` (rewritten in nbformat's layout)."""
    import nbformat
    nb = nbformat.read(str(path), as_version=4)
    nbformat.write(inject(nb, name), str(path))


def _set(text, variable, value):
    pattern = re.compile(rf"^{variable} = .*$", re.M)
    assert len(pattern.findall(text)) == 1, f"submit.py template: expected one line `{variable} = ...`"
    if isinstance(value, list):
        body = "".join(f"    {json.dumps(v)},\n" for v in value)
        literal = f"[\n{body}]" if value else "[]"
    else:
        literal = json.dumps(value) if isinstance(value, str) else repr(value)
    return pattern.sub(lambda m: f"{variable} = {literal}", text)


def submit_script(name, stencil, student_files, release_files):
    """The text of the release's submit.py."""
    text = _template("submit.py")
    text = _set(text, "ASSIGNMENT", name)
    text = _set(text, "STENCIL", stencil)
    text = _set(text, "STUDENT_FILES", sorted(student_files))
    return _set(text, "RELEASE_FILES", sorted(release_files))
