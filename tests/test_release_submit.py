"""The submission step on a real assignment (beras_cnn, a stencil): the zip that the release's
submit.py writes is what the grader expects.

In a scratch course (a fresh release of the current sources): the reference submission's zip grades
100, and the untouched release's zip lists every unimplemented part (notebook cells and stencil
kernels) and grades 0. The toy course covers the rest (running the notebook, zip vs folder):
tests/test_release_student_kit.py.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from autograder.release import release

ROOT = Path(__file__).resolve().parents[1]
NAME = "beras_cnn"
ENV = {k: v for k, v in os.environ.items() if k not in ("NBGRADER_EXECUTION", "COURSE_SUBMIT_RUN")}
ENV.update({"TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONDONTWRITEBYTECODE": "1"})


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tmp_path_factory.mktemp("submit-course")
    shutil.copytree(ROOT / "solutions", root / "solutions", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "beras", root / "beras", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    release([NAME], root=root)
    return root


def cli(*args, cwd=ROOT):
    run = subprocess.run([sys.executable, *map(str, args)], cwd=cwd, env=ENV, capture_output=True, text=True,
                         timeout=1500)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return run.stdout


def grade(course, zip_path, out):
    cli("-m", "autograder", "grade", zip_path, "--assignment", NAME, "--out", out, "--root", course,
        "--profile", "smoke")
    return json.loads((out / "results.json").read_text())


def test_the_reference_zip_grades_100(course, tmp_path):
    ref = tmp_path / "reference"
    cli("-m", "autograder", "reference", NAME, "--out", ref, "--root", course)
    out = cli("submit.py", "--no-run", cwd=ref)
    assert "nothing: every part is written" in out, out
    with zipfile.ZipFile(ref / f"{NAME}-submission.zip") as zf:
        names = sorted(zf.namelist())
    marked = json.loads((course / "build" / "grader" / NAME / "bundle.json").read_text())["marked_files"]
    assert names == sorted([f"{NAME}.ipynb"] + [f"beras/{f}" for f in marked])
    results = grade(course, ref / f"{NAME}-submission.zip", tmp_path / "out")
    assert results["score"] == 100, [(t["name"], t["score"], t["output"][:300]) for t in results["tests"]
                                     if t["score"] < t["max_score"]]


def test_the_untouched_release_lists_its_parts_and_grades_0(course, tmp_path):
    folder = tmp_path / "release"
    shutil.copytree(course / "assignments" / NAME, folder)
    out = cli("submit.py", "--no-run", cwd=folder)
    listed = out.split("== still unimplemented", 1)[1].split("==", 1)[0]
    marked = json.loads((course / "build" / "grader" / NAME / "bundle.json").read_text())["marked_files"]
    for f in marked:                                   # every stencil file students write is listed ...
        assert re.search(rf"^  - beras/{re.escape(f)}: \w", listed, re.M), (f, listed)
    import nbformat
    nb = nbformat.read(folder / f"{NAME}.ipynb", as_version=4)
    solution_ids = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells
                    if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")]
    for gid in solution_ids:                           # ... and every notebook solution cell
        assert f"({gid}):" in listed, (gid, listed)
    assert "you can hand this in, but" in out
    results = grade(course, folder / f"{NAME}-submission.zip", tmp_path / "out")
    assert results["score"] == 0
