"""The submission step on a real assignment (beras_cnn, a stencil): the zip that the release's own
submit.py writes is what the grader expects.

The session's real batch (tests/real_batches.py) hands in beras_cnn's reference and untouched release
as the zips their submit.py wrote: the reference's zip holds exactly the notebook and the stencil files
students write and grades 100; the untouched release's report lists every unimplemented part (notebook
cells and stencil kernels) and its zip grades 0. The toy course covers the rest (running the notebook,
zip vs folder): tests/autograder/authoring/test_release_student_kit.py.
"""
import json
import os
import re
import zipfile

import nbformat

from autograder.authoring.spec import find_assignment
import pytest

pytestmark = pytest.mark.slow   # end to end (see tests/__init__.py): left out of `make check`

NAME = "beras_cnn"


def _marked():
    a = find_assignment(NAME)
    with open(os.path.join(a.bundle_dir, "bundle.json")) as f:
        return json.load(f)["marked_files"]


def _results(base, kind):
    return json.loads((base / f"out_{NAME}" / kind / "results.json").read_text())


def test_the_reference_zip_grades_100(real):
    base, done = real
    assert done["c"][0] == 0, done["c"][2][-2000:]
    report = (base / "c" / "reference.zip.txt").read_text()
    assert "nothing: every part is written" in report, report
    with zipfile.ZipFile(base / "c" / "reference.zip") as zf:
        names = sorted(zf.namelist())
    assert names == sorted([f"{NAME}.ipynb"] + [f"beras/{f}" for f in _marked()])
    results = _results(base, "reference")
    assert results["score"] == 100, [(t["name"], t["score"], t["output"][:300]) for t in results["tests"]
                                     if t["score"] < t["max_score"]]


def test_the_untouched_release_lists_its_parts_and_grades_0(real):
    base, done = real
    assert done["c"][0] == 0, done["c"][2][-2000:]
    report = (base / "c" / "release.zip.txt").read_text()
    listed = report.split("== still unimplemented", 1)[1].split("==", 1)[0]
    for f in _marked():                                # every stencil file students write is listed ...
        assert re.search(rf"^  - beras/{re.escape(f)}: \w", listed, re.M), (f, listed)
    nb = nbformat.read(base / "c_folders" / "release" / f"{NAME}.ipynb", as_version=4)
    solution_ids = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells
                    if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")]
    assert solution_ids
    for gid in solution_ids:                           # ... and every notebook solution cell
        assert f"({gid}):" in listed, (gid, listed)
    assert "you can hand this in, but" in report
    assert _results(base, "release")["score"] == 0
