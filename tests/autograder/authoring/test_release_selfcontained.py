"""Self-contained releases (issue 9): each released folder runs with only its own requirements.txt.

For every released assignment: a fresh virtualenv made from the release's requirements.txt alone (uv,
from its cache when it can: ``--offline`` first, the registry only when the cache lacks a wheel), the
folder copied into a temp dir, and its notebook run top to bottom there with errors allowed (nbclient
in that venv; no course repository on the path, no beras installed). Then:

- no ModuleNotFoundError / ImportError anywhere (everything it imports ships in the folder or is listed);
- no NameError anywhere (no cell depends on a name that an unfinished part failed to define);
- every visible test cell fails (nothing is implemented), with NotImplementedError or the test's own
  AssertionError, and every other cell that fails does so with the NotImplementedError of the part it
  calls: no cascade of other errors.

``RELEASE_TEST_ASSIGNMENTS`` points the test at another release folder (default: assignments/).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.authoring.colab_check import DRIVER, uv
from tests import ROOT

pytestmark = pytest.mark.slow(seconds=65)   # end to end (tests/__init__.py); seconds: its cost, measured (heaviest start first)

ASSIGNMENTS = Path(os.environ.get("RELEASE_TEST_ASSIGNMENTS") or ROOT / "assignments")
NAMES = sorted(p.name for p in (ROOT / "solutions").iterdir()
               if (p / f"{p.name}.ipynb").is_file() and (ASSIGNMENTS / p.name / "requirements.txt").is_file())
ALLOWED_IN_TESTS = {"NotImplementedError", "AssertionError"}


def make_venv(requirements, dest):
    subprocess.run([uv(), "venv", "-q", "--python", sys.executable, str(dest)], check=True, timeout=300)
    py = dest / "bin" / "python"
    cmd = [uv(), "pip", "install", "-q", "--python", str(py), "-r", str(requirements)]
    if subprocess.run(cmd + ["--offline"], capture_output=True, timeout=600).returncode != 0:
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)   # a cold cache: the registry
        assert run.returncode == 0, f"{requirements} does not install:\n{run.stderr[-3000:]}"
    return py


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """{name: (cells, stderr)}: every release run in its own venv (the notebooks run at the same time)."""
    base = tmp_path_factory.mktemp("selfcontained")
    procs = {}
    for name in NAMES:
        folder = base / name
        shutil.copytree(ASSIGNMENTS / name, folder, ignore=shutil.ignore_patterns("__pycache__", "*.zip"))
        venv = base / f"venv-{name}"
        py = make_venv(folder / "requirements.txt", venv)
        env = {k: v for k, v in os.environ.items()
               if k not in ("PYTHONPATH", "VIRTUAL_ENV", "NBGRADER_EXECUTION", "PYTHONHOME")}
        env.update({"PATH": f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}", "MPLBACKEND": "Agg",
                    "TF_CPP_MIN_LOG_LEVEL": "3", "JUPYTER_DATA_DIR": str(base / "jupyter"),
                    "COURSE_SUBMIT_RUN": "1"})       # the submit cell would run the notebook again
        procs[name] = subprocess.Popen([str(py), "-c", DRIVER, str(folder / f"{name}.ipynb"), "600", str(folder)],
                                       cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                       text=True)
    out = {}
    for name, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=1200)
        lines = [ln for ln in stdout.splitlines() if ln.startswith("CELLS-JSON ")]
        assert proc.returncode == 0 and lines, f"{name}: the notebook could not be run:\n{stdout[-2000:]}{stderr[-3000:]}"
        out[name] = json.loads(lines[-1][len("CELLS-JSON "):])["cells"]
    return out


def _errors(cells):
    return [(c["id"], c["grade"], e.split(":", 1)[0], e) for c in cells for e in c["error"]]


@pytest.mark.parametrize("name", NAMES)
def test_everything_it_imports_is_there(runs, name):
    missing = [f"{cid}: {e}" for cid, _, ename, e in _errors(runs[name])
               if ename in ("ModuleNotFoundError", "ImportError")]
    assert not missing, f"{name} is not self-contained:\n" + "\n".join(missing)


@pytest.mark.parametrize("name", NAMES)
def test_no_name_error_cascade(runs, name):
    names = [f"{cid}: {e}" for cid, _, ename, e in _errors(runs[name]) if ename == "NameError"]
    assert not names, f"{name}: NameErrors when the parts are unfinished:\n" + "\n".join(names)


@pytest.mark.parametrize("name", NAMES)
def test_each_unfinished_part_fails_its_own_test(runs, name):
    cells = runs[name]
    tests = [c for c in cells if c["grade"]]
    assert tests, f"{name}: no visible test cell ran"
    passing = [c["id"] for c in tests if not c["error"]]
    assert not passing, f"{name}: visible tests pass on the untouched release: {passing}"
    wrong = [f"{cid}: {e}" for cid, grade, ename, e in _errors(cells)
             if ename not in (ALLOWED_IN_TESTS if grade else {"NotImplementedError"})]
    assert not wrong, f"{name}: errors other than the unfinished parts' own NotImplementedError:\n" + "\n".join(wrong)
    setup = next(c for c in cells if c["id"] == "course_setup")
    assert not setup["error"]
