"""The beras_cnn assignment end to end, as a grader runs it.

- the solution notebook runs top to bottom (temp copy, cwd there) without an error, every grade cell
  passes without writing to stderr, in at most 5 minutes;
- the untouched release, run with errors allowed, finishes with its kernel alive, and every grade
  cell fails with a message derived from the NotImplementedError stubs;
- the hidden tests (LocalStudent in the same kernel) give full points against the reference and
  fail against the untouched stencil. Points: grade cells + hidden tests = 100.
"""
import json
import os
import shutil
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.util import run_sync

from autograder.hidden import collect
from tests import ROOT

pytestmark = pytest.mark.slow(seconds=60)   # end to end (tests/__init__.py); seconds: its cost, measured (heaviest start first)

SOURCE = ROOT / "solutions" / "beras_cnn"
RELEASE = ROOT / "assignments" / "beras_cnn"
HIDDEN = SOURCE / "hidden_tests.py"

HIDDEN_RUNNER = f"""
import importlib.util as _u, json as _json
from autograder.hidden import LocalStudent as _LocalStudent, collect as _collect
_spec = _u.spec_from_file_location("hidden_tests_beras_cnn", {str(HIDDEN)!r})
_mod = _u.module_from_spec(_spec)
_spec.loader.exec_module(_mod)
_results = []
for _t in _collect(_mod):
    try:
        _out = _t.fn(_LocalStudent(globals()))      # a pass: None, True or a Score of fraction 1 (curves)
        _results.append([_t.name, _t.points, _out is None or _out is True or getattr(_out, "fraction", 0) >= 1,
                         getattr(_out, "message", ""), _t.kind])
    except Exception as _e:
        _results.append([_t.name, _t.points, False, f"{{type(_e).__name__}}: {{_e}}", _t.kind])
print("HIDDEN_RESULTS " + _json.dumps(_results))
"""


def run_notebook(folder, tmp_path):
    """Execute a temp copy of ``folder``'s notebook (errors allowed), then the hidden tests in the same kernel."""
    work = tmp_path / folder.name
    shutil.copytree(folder, work, ignore=shutil.ignore_patterns("hidden_tests.py", "__pycache__", "*.pyc"))
    path = work / "beras_cnn.ipynb"
    nb = nbformat.read(path, as_version=4)
    env = {"TF_CPP_MIN_LOG_LEVEL": "3", "TF_ENABLE_ONEDNN_OPTS": "0", "NBGRADER_EXECUTION": "autograde",
           "PYTHONDONTWRITEBYTECODE": "1"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        client = NotebookClient(nb, timeout=300, allow_errors=True, kernel_name="python3",
                                resources={"metadata": {"path": str(work)}})
        with client.setup_kernel():
            start = time.perf_counter()
            for index, cell in enumerate(nb.cells):
                client.execute_cell(cell, index)
            elapsed = time.perf_counter() - start
            runner = nbformat.v4.new_code_cell(HIDDEN_RUNNER)
            nb.cells.append(runner)
            client.execute_cell(runner, len(nb.cells) - 1)
            alive = run_sync(client.kc.is_alive)()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    nb.cells.pop()
    hidden = None
    for out in runner.outputs:
        if out.output_type == "stream" and "HIDDEN_RESULTS " in out.text:
            hidden = json.loads(out.text.split("HIDDEN_RESULTS ", 1)[1].splitlines()[0])
    errors_of_runner = [o for o in runner.outputs if o.output_type == "error"]
    return {"nb": nb, "elapsed": elapsed, "alive": alive, "hidden": hidden, "runner_errors": errors_of_runner}


def grade_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")]


def errors(cell):
    return [o for o in cell.outputs if o.output_type == "error"]


def stderr(cell):
    return "".join(o.text for o in cell.outputs if o.output_type == "stream" and o.name == "stderr")


@pytest.fixture(scope="module")
def solution_run(tmp_path_factory):
    return run_notebook(SOURCE, tmp_path_factory.mktemp("solution"))


@pytest.fixture(scope="module")
def release_run(tmp_path_factory):
    return run_notebook(RELEASE, tmp_path_factory.mktemp("release"))


def test_points_add_up_to_100():
    import importlib.util
    spec = importlib.util.spec_from_file_location("hidden_tests_points", HIDDEN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    visible = sum(c.metadata["nbgrader"]["points"] for c in grade_cells(nbformat.read(SOURCE / "beras_cnn.ipynb", 4)))
    hidden = sum(t.points for t in collect(module) if t.kind == "hidden")
    assert (visible, hidden) == (64, 36) and visible + hidden == 100


def test_solution_notebook_runs_clean_and_every_grade_cell_passes(solution_run):
    nb = solution_run["nb"]
    failing = {c.id: f"{e.ename}: {e.evalue}" for c in nb.cells if c.cell_type == "code" for e in errors(c)}
    assert not failing, f"cells raised: {failing}"
    cells = grade_cells(nb)
    assert len(cells) == 16
    for cell in cells:
        assert cell.execution_count is not None
        assert not stderr(cell), f"grade cell {cell.id} wrote to stderr (nbgrader would score it 0): {stderr(cell)}"
    assert solution_run["elapsed"] <= 300, f"the solution notebook took {solution_run['elapsed']:.0f} s (cap 300 s)"
    printed = "".join(o.get("text", "") for c in nb.cells if c.id == "setup" for o in c.outputs)
    assert f"using beras from {(ROOT / 'beras').resolve()}" in printed


def test_hidden_tests_give_full_points_against_the_reference(solution_run):
    assert not solution_run["runner_errors"]
    results = solution_run["hidden"]
    assert results and [kind for *_, kind in results].count("hidden") == 11
    assert [kind for *_, kind in results].count("check") == 16    # one trusted check per grade cell
    failed = [(name, msg) for name, _, ok, msg, _ in results if not ok]
    assert not failed, failed
    assert sum(points for _, points, _, _, _ in results) == 36


def test_untouched_release_fails_each_grade_cell_clearly(release_run):
    assert release_run["alive"], "the kernel died running the untouched release"
    nb = release_run["nb"]
    assert all(c.execution_count is not None for c in nb.cells if c.cell_type == "code"), "not every cell ran"
    printed = "".join(o.get("text", "") for c in nb.cells if c.id == "setup" for o in c.outputs)
    assert "using beras from" in printed and "beras_cnn/beras" in printed and str(ROOT / "beras") not in printed
    cells = grade_cells(nb)
    assert len(cells) == 16
    for cell in cells:
        errs = errors(cell)
        assert errs, f"grade cell {cell.id} passed on the untouched release"
        message = errs[0].evalue
        assert errs[0].ename == "AssertionError", (cell.id, errs[0].ename, message)
        assert ("not implemented yet (NotImplementedError" in message or "got None" in message
                or "implement build_cnn" in message), f"grade cell {cell.id}: unclear failure message {message!r}"
        assert not stderr(cell), f"grade cell {cell.id} wrote to stderr: {stderr(cell)}"


def test_hidden_tests_fail_against_the_untouched_stencil(release_run):
    assert not release_run["runner_errors"]
    results = release_run["hidden"]
    assert results and len(results) == 27
    passed = [name for name, _, ok, _, _ in results if ok]
    assert not passed, f"hidden tests or trusted checks passed on the untouched stencil: {passed}"
    for name, _, _, msg, _ in results:
        assert "NotImplementedError" in msg or "not defined" in msg or "None" in msg, (name, msg)
