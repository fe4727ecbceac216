"""`autograder new NAME [--stencil PACKAGE]`: a small, complete assignment that releases and grades to
100 at once, for an instructor to grow from (docs/authoring.md walks through it).

It writes ``solutions/NAME/``: ``NAME.ipynb`` (nbgrader source: a setup cell, one solution cell, one
grade cell worth 60 points, one written answer worth 5 points graded by hand), ``hidden_tests.py`` (the grade cell's trusted check and a 40-point hidden
test), ``assignment.toml`` (the manifest). With ``--stencil PACKAGE`` the assignment also has a stencil:
``PACKAGE/`` in the course root (created with one marked function unless it exists), which students
complete next to the notebook, and the framework rule for it.
"""
from __future__ import annotations

import os
import re

import nbformat

from ..errors import GraderError
from ..policy import DEFAULT_FORBIDDEN

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
# nbgrader's markers, spelled out only here (this file ships in the grader's package: no marker lines in it)
MARKERS = {"@BEGIN@": "### BEGIN " + "SOLUTION", "@END@": "### END " + "SOLUTION"}


def _marked(text):
    for placeholder, marker in MARKERS.items():
        text = text.replace(placeholder, marker)
    return text

SETUP = """# Setup (locked): this folder first on sys.path, so your own files are the ones imported.
import os
import sys

import numpy as np

sys.path.insert(0, os.getcwd())
{stencil_import}print("ready")"""

SOLUTION = """def normalize(x):
    \"\"\"Scale a 1-D array to zero mean and unit standard deviation (np.std, ddof=0).\"\"\"
    @BEGIN@
    x = np.asarray(x, dtype=np.float64)
    return (x - x.mean()) / x.std()
    @END@"""

GRADE = """# Visible test (60 points): what the function must do, with the expected and the returned values.
got = normalize([1.0, 2.0, 3.0, 4.0])
expected = np.array([-1.3416407865, -0.4472135955, 0.4472135955, 1.3416407865])
assert np.allclose(got, expected), f"normalize([1, 2, 3, 4]): expected {expected}, got {got}"
@STENCIL_CHECK@print("normalize: all checks pass")"""

HIDDEN = '''"""Hidden tests of {name} (instructor only, never released).

Every notebook grade cell needs a trusted check (its points count only when the check passes here,
in the grader); hidden tests add their own points. Expected values are computed here.
"""
import numpy as np

from autograder.hidden import assert_close, hidden_test, trusted_check


@trusted_check("test_normalize", part="normalize")
def check_normalize(student):
    """The grade cell's own case, re-run through the student's process and compared here."""
    x = np.array([1.0, 2.0, 3.0, 4.0])
    assert_close(student.call("normalize", x), (x - x.mean()) / x.std(), "normalize([1, 2, 3, 4])")
{stencil_trusted}

@hidden_test(points=40, name="normalize: other lengths, negative and large values", part="normalize")
def normalize_other_cases(student):
    rng = np.random.default_rng(0)
    for x in [rng.normal(5, 3, 7), -np.arange(1.0, 12.0), rng.uniform(1e3, 1e4, 5)]:
        assert_close(student.call("normalize", x), (x - x.mean()) / x.std(), f"normalize of {{len(x)}} values")
'''

STENCIL_TRUSTED = '''

@trusted_check("test_normalize", part="normalize")
def check_stencil_center(student):
    """The stencil function the grade cell also uses, run where only the student's package is imported."""
    x = np.array([1.0, 2.0, 6.0])
    assert_close(student.call("{package}.center", x), x - x.mean(), "{package}.center([1, 2, 6])")
'''

STENCIL_MODULE = '''"""The part of {package} students write (the release replaces each solution region by a stub)."""
import numpy as np


def center(x):
    """x minus its mean, as a float64 array."""
    @BEGIN@
    x = np.asarray(x, dtype=np.float64)
    return x - x.mean()
    @END@
'''

MANIFEST = '''# The manifest of {name}: release, grade, package and demo read it (autograder/authoring/manifest.py).
title = "{title}"
demo = false            # true: `make demo` grades its reference and untouched release too
demo_cost = 1
{stencil_table}
[hidden]
visibility = "after_due_date"   # hidden results show on Gradescope after the due date

[profiles.smoke]
cell_timeout = 120
call_timeout = 60
total_timeout = 600
'''


# A written answer: an nbgrader manual-grade cell (markdown, grade + solution, points). The release shows
# "YOUR ANSWER HERE"; the grader gives it no points and reports it as pending manual grading; formgrader
# (or Gradescope's manual questions) grades it. Its points are outside the autograded total.
WRITTEN_QUESTION = ("**Written answer (5 points, graded by hand).** Why divide by the standard deviation rather "
                    "than by the range (max - min)? Two or three sentences in the cell below.")
WRITTEN_ANSWER = ("The range depends on the two most extreme values only, so one outlier rescales everything; "
                  "the standard deviation uses every value, and after dividing by it the result has unit "
                  "variance whatever the data's scale.")


def _meta(gid, *, grade=False, solution=False, locked=False, points=None, ns=False):
    m = {"nbgrader": {"grade": grade, "solution": solution, "locked": locked, "grade_id": gid, "schema_version": 3}}
    if points is not None:
        m["nbgrader"]["points"] = points
    if ns:
        m["tags"] = ["grader-namespace"]
    return m


def notebook(name, title, package=None):
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    stencil_import = f"import {package}\n" if package else ""
    stencil_check = (f"assert np.allclose({package}.center([1.0, 2.0, 6.0]), [-2.0, -1.0, 3.0]), "
                     f"\"{package}.center([1, 2, 6]): expected [-2, -1, 3]\"\n") if package else ""
    intro = (f"# {title}\n\nImplement `normalize` below"
             + (f" and `center` in `{package}/ops.py`" if package else "") +
             ". Each task is followed by a locked test cell; the grader also runs hidden tests.")
    cells = [
        md(intro, metadata=_meta("intro", locked=True)),
        code(SETUP.format(stencil_import=stencil_import), metadata=_meta("setup", locked=True, ns=True)),
        code(_marked(SOLUTION) if not package else _marked(SOLUTION).replace(
            "    x = np.asarray(x, dtype=np.float64)\n    return (x - x.mean()) / x.std()",
            f"    x = {package}.center(x)\n    return x / np.sqrt(np.mean(x ** 2))"),
            metadata=_meta("normalize", solution=True, ns=True)),
        code(GRADE.replace("@STENCIL_CHECK@", stencil_check), metadata=_meta("test_normalize", grade=True, locked=True,
                                                                        points=60)),
        md(WRITTEN_QUESTION, metadata=_meta("written_question", locked=True)),
        md(WRITTEN_ANSWER, metadata=_meta("written_why_std", grade=True, solution=True, points=5)),
    ]
    for i, c in enumerate(cells):
        c["id"] = f"{name.replace('_', '-')}-{i}"
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def new(name, root, stencil=None, title=None):
    """Write the scaffold of assignment ``name`` into the course ``root``; returns the files written."""
    if not NAME_RE.match(name or ""):
        raise GraderError(f"invalid assignment name {name!r}: use lower-case letters, digits and _ (a-z first)")
    if stencil is not None and not NAME_RE.match(stencil):
        raise GraderError(f"invalid stencil package name {stencil!r}: use lower-case letters, digits and _")
    folder = os.path.join(root, "solutions", name)
    if os.path.exists(folder):
        raise GraderError(f"{folder} exists already: choose another name or edit it")
    if stencil is not None and os.path.exists(os.path.join(root, stencil)):
        raise GraderError(f"{os.path.join(root, stencil)} exists already: --stencil creates a new package; to "
                          "use an existing one, scaffold without --stencil and set [stencil] package in the manifest")
    title = title or name.replace("_", " ").capitalize()
    written = []

    def write(path, text):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        written.append(path)

    os.makedirs(folder)
    nbformat.write(notebook(name, title, stencil), os.path.join(folder, f"{name}.ipynb"))
    written.append(os.path.join(folder, f"{name}.ipynb"))
    write(os.path.join(folder, "hidden_tests.py"), HIDDEN.format(
        name=name, stencil_trusted=STENCIL_TRUSTED.format(package=stencil) if stencil else ""))
    forbidden = ", ".join(f'"{m}"' for m in DEFAULT_FORBIDDEN)
    table = f'\n[stencil]\npackage = "{stencil}"\nforbidden = [{forbidden}]\n' if stencil else ""
    write(os.path.join(folder, "assignment.toml"), MANIFEST.format(name=name, title=title, stencil_table=table))
    if stencil:
        write(os.path.join(root, stencil, "__init__.py"), f'"""{stencil}: the package students complete."""\n'
                                                          "from .ops import center  # noqa: F401\n")
        write(os.path.join(root, stencil, "ops.py"), _marked(STENCIL_MODULE.format(package=stencil)))
    return written
