"""The student kit every release gets (autograder/authoring/student_kit): the setup cell, the submit cell and submit.py.

- every released notebook (the real ones and a new one: the toy course) starts with the setup cell and
  ends with the submit cell, and the grader bundle holds the same cells (the grader restores them);
- the setup cell does nothing under the grader; locally it only reports; on Colab (a stand-in
  ``google.colab``) it finds the folder (an uploaded zip, or Google Drive), changes into it and
  pip-installs a missing requirement;
- submit.py: what is unimplemented, top-to-bottom run or not (and runs it), the zip holds exactly the
  files the grader reads, and the zip of the toy reference grades like its folder (full marks);
- the release's requirements are ranges from Colab's version to the course's pinned minor.
"""
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograder.authoring import student_kit
from autograder.authoring.release import COLAB_VERSIONS, release, student_requirement
from autograder.grading.notebook.restore import restore_cells
from tests import ROOT

ENV = {k: v for k, v in os.environ.items() if k not in ("NBGRADER_EXECUTION", "COURSE_SUBMIT_RUN")}
ENV.update({"TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONDONTWRITEBYTECODE": "1", "MPLBACKEND": "Agg"})
REAL = sorted(p.name for p in (ROOT / "solutions").iterdir() if (p / f"{p.name}.ipynb").is_file())


def gid(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    from tests.hostile.toy import make_course
    return Path(make_course(str(tmp_path_factory.mktemp("kit") / "course")))


@pytest.fixture(scope="module")
def real_root(tmp_path_factory):
    """A fresh release of the real assignments (copies of solutions/, beras/, pyproject.toml)."""
    root = tmp_path_factory.mktemp("kit-real")
    shutil.copytree(ROOT / "solutions", root / "solutions", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "beras", root / "beras", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    release(root=root)
    return root


# ---------------------------------------------------------------------------------------------
# The cells in the release and in the grader bundle
# ---------------------------------------------------------------------------------------------
def _check_cells(root, name):
    rel = nbformat.read(root / "assignments" / name / f"{name}.ipynb", as_version=4)
    bun = nbformat.read(root / "build" / "grader" / name / f"{name}.ipynb", as_version=4)
    src = nbformat.read(root / "solutions" / name / f"{name}.ipynb", as_version=4)
    for nb in (rel, bun):
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert gid(code[0]) == student_kit.SETUP_ID and gid(nb.cells[-1]) == student_kit.SUBMIT_ID
        assert code[0].source == student_kit.setup_cell(name).source
        assert nb.cells[-1].source == student_kit.submit_cell(name).source
        for c in (code[0], nb.cells[-1]):
            meta = c.metadata["nbgrader"]
            assert meta["locked"] and not meta["grade"] and not meta["solution"]
            assert "grader-namespace" not in c.metadata.get("tags", [])
        # nothing else added or moved: the source's cells, in order, around them
        assert [gid(c) or c.get("id") for c in nb.cells if gid(c) not in (student_kit.SETUP_ID, student_kit.SUBMIT_ID)] \
            == [gid(c) or c.get("id") for c in src.cells]
    # the bundle's copies are the release's, so the grader restores exactly what students got
    for cid in (student_kit.SETUP_ID, student_kit.SUBMIT_ID):
        assert next(c for c in rel.cells if gid(c) == cid).source == next(c for c in bun.cells if gid(c) == cid).source
    assert f'"{name}"' in student_kit.setup_cell(name).source


@pytest.mark.slow
@pytest.mark.parametrize("name", REAL)
def test_real_releases_get_the_cells_and_submit_py(real_root, name):
    _check_cells(real_root, name)
    folder = real_root / "assignments" / name
    spec = importlib.util.spec_from_file_location(f"_submit_{name}", folder / "submit.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    bundle = json.loads((real_root / "build" / "grader" / name / "bundle.json").read_text())
    assert mod.ASSIGNMENT == name and mod.STENCIL == bundle["stencil"]
    assert mod.STUDENT_FILES == bundle["marked_files"]
    files = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    assert set(mod.RELEASE_FILES) == files


def test_a_new_assignment_gets_them_too(toy):
    _check_cells(toy, "toy")
    assert (toy / "assignments" / "toy" / "submit.py").is_file()


def test_restore_takes_the_cells_from_the_bundle(toy):
    """A student who edits the setup cell and deletes the submit cell gets both back, as released."""
    rel = nbformat.read(toy / "assignments" / "toy" / "toy.ipynb", as_version=4)
    bun = nbformat.read(toy / "build" / "grader" / "toy" / "toy.ipynb", as_version=4)
    student = nbformat.from_dict(json.loads(json.dumps(rel)))
    setup = next(c for c in student.cells if gid(c) == student_kit.SETUP_ID)
    setup.source = "import os\nos.environ['NBGRADER_EXECUTION'] = ''\n"
    student.cells = [c for c in student.cells if gid(c) != student_kit.SUBMIT_ID]
    nb, changes = restore_cells(student, bun, rel)
    assert next(c for c in nb.cells if gid(c) == student_kit.SETUP_ID).source == student_kit.setup_cell("toy").source
    assert gid(nb.cells[-1]) == student_kit.SUBMIT_ID
    assert any(student_kit.SETUP_ID in m and "edited" in m for m in changes)
    assert any(student_kit.SUBMIT_ID in m and "missing" in m for m in changes)


# ---------------------------------------------------------------------------------------------
# The setup cell
# ---------------------------------------------------------------------------------------------
FAKE_COLAB = {
    "google/__init__.py": "",
    "google/colab/__init__.py": "from . import drive, files, _message  # noqa\n",
    "google/colab/drive.py": textwrap.dedent("""
        import os, shutil
        def mount(path):
            if not os.environ.get("FAKE_DRIVE"):
                raise RuntimeError("access to Drive declined")
            shutil.copytree(os.environ["FAKE_DRIVE"], path, dirs_exist_ok=True)
        """),
    "google/colab/files.py": "def upload():\n    raise RuntimeError('no upload in this test')\n",
    "google/colab/_message.py": "def blocking_request(*a, **k):\n    raise RuntimeError('not in this test')\n",
}

RUN_CELL = textwrap.dedent("""
    import json, os, sys
    if os.environ.get("FAKE_COLAB"):
        sys.path.insert(0, os.environ["FAKE_COLAB"])
        import google.colab  # noqa: F401  (what Colab has imported before any cell runs)
    before = {"cwd": os.getcwd(), "path": list(sys.path)}
    source = open(sys.argv[1]).read()
    exec(compile(source, "<cell>", "exec"), {"__name__": "__main__"})
    print("STATE " + json.dumps({"cwd": os.getcwd(), "path0": sys.path[0], "same_path": sys.path == before["path"],
                                 "modules": sorted(m for m in sys.modules if m.startswith("google"))}))
""")


def run_cell(tmp_path, source, cwd, **env):
    cell = tmp_path / f"cell-{len(list(tmp_path.glob('cell-*')))}.py"
    cell.write_text(source)
    run = subprocess.run([sys.executable, "-c", RUN_CELL, str(cell)], cwd=cwd, env={**ENV, **env},
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    state = json.loads(lines[-1][len("STATE "):])
    return "\n".join(lines[:-1]), state


@pytest.fixture()
def fake_colab(tmp_path):
    base = tmp_path / "fake"
    for rel, text in FAKE_COLAB.items():
        (base / rel).parent.mkdir(parents=True, exist_ok=True)
        (base / rel).write_text(text)
    return base


def test_setup_cell_does_nothing_under_the_grader(tmp_path, toy, fake_colab):
    folder = toy / "assignments" / "toy"
    out, state = run_cell(tmp_path, student_kit.setup_cell("toy").source, tmp_path,
                          NBGRADER_EXECUTION="autograde", FAKE_COLAB=str(fake_colab))
    assert out == "" and state["cwd"] == str(tmp_path) and state["same_path"]
    out, state = run_cell(tmp_path, student_kit.submit_cell("toy").source, folder,
                          NBGRADER_EXECUTION="autograde", FAKE_COLAB=str(fake_colab))
    assert out == "" and not list(folder.glob("*.zip"))


def test_setup_cell_locally_only_reports(tmp_path, toy):
    folder = tmp_path / "toy"
    shutil.copytree(toy / "assignments" / "toy", folder)
    out, state = run_cell(tmp_path, student_kit.setup_cell("toy").source, folder)
    assert "toy: Jupyter on this computer" in out and f"working folder: {folder}" in out
    assert "requirements.txt: all satisfied" in out, out
    assert state["cwd"] == str(folder) and state["same_path"]
    with open(folder / "requirements.txt", "a") as f:
        f.write("course-kit-missing-package==1.0\nnumpy<1.0\n")
    out, state = run_cell(tmp_path, student_kit.setup_cell("toy").source, folder, JUPYTERHUB_USER="ada")
    assert "toy: JupyterHub" in out
    assert "requirement course-kit-missing-package==1.0: not installed" in out
    assert "requirement numpy<1.0: installed" in out
    assert "pip install -r requirements.txt" in out and "installing" not in out
    out, _ = run_cell(tmp_path, student_kit.setup_cell("toy").source, tmp_path)
    assert "warning: toy.ipynb is not in the working folder" in out


def test_setup_cell_on_colab_unzips_an_upload_and_installs_what_is_missing(tmp_path, toy, fake_colab):
    content = tmp_path / "content"
    content.mkdir()
    shutil.copytree(toy / "assignments" / "toy", tmp_path / "zipme" / "toy")
    with open(tmp_path / "zipme" / "toy" / "requirements.txt", "a") as f:
        f.write("course-kit-missing-package==1.0\n")
    shutil.make_archive(str(content / "toy"), "zip", str(tmp_path / "zipme"))
    out, state = run_cell(tmp_path, student_kit.setup_cell("toy").source, content, FAKE_COLAB=str(fake_colab),
                          COLAB_CONTENT_DIR=str(content), PIP_NO_INDEX="1", PIP_FIND_LINKS=str(tmp_path))
    assert "toy: Google Colab" in out
    assert "unzipped toy.zip" in out and state["cwd"] == str(content / "toy") == state["path0"], out
    assert "session's disk" in out
    assert "installing: course-kit-missing-package==1.0" in out
    assert "course-kit-missing-package" in out.split("installing:", 1)[1].split("\n", 1)[1]   # pip's error shown


def test_setup_cell_on_colab_finds_the_folder_in_drive(tmp_path, toy, fake_colab):
    content, drive = tmp_path / "content", tmp_path / "drive"
    content.mkdir()
    shutil.copytree(toy / "assignments" / "toy", drive / "MyDrive" / "courses" / "cnn" / "toy")
    out, state = run_cell(tmp_path, student_kit.setup_cell("toy").source, content, FAKE_COLAB=str(fake_colab),
                          COLAB_CONTENT_DIR=str(content), FAKE_DRIVE=str(drive))
    assert state["cwd"] == str(content / "drive" / "MyDrive" / "courses" / "cnn" / "toy"), out
    assert "working in your Google Drive" in out and "requirements.txt: all satisfied" in out
    # neither a zip nor Drive: the cell says what to do instead of failing
    out, state = run_cell(tmp_path, student_kit.setup_cell("toy").source, content, FAKE_COLAB=str(fake_colab),
                          COLAB_CONTENT_DIR=str(tmp_path / "empty"))
    assert "Google Drive not used (RuntimeError: access to Drive declined)" in out
    assert "Could not find your toy folder" in out and state["cwd"] == str(content)


# ---------------------------------------------------------------------------------------------
# submit.py and the submit cell
# ---------------------------------------------------------------------------------------------
def submit(folder, *args, **env):
    run = subprocess.run([sys.executable, "submit.py", *args], cwd=folder, env={**ENV, **env},
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout


def zip_names(path):
    with zipfile.ZipFile(path) as zf:
        return sorted(zf.namelist())


def toy_reference(toy, dest):
    from autograder.authoring.reference import reference_submission
    from autograder.authoring.spec import find_assignment
    return Path(reference_submission(find_assignment("toy", str(toy)), str(dest)))


def test_submit_lists_what_is_unimplemented_and_zips_what_the_grader_reads(tmp_path, toy):
    folder = tmp_path / "toy"
    shutil.copytree(toy / "assignments" / "toy", folder)
    (folder / "helper.py").write_text("X = 1\n")                        # the student's own module: kept
    (folder / "beras" / "mine.py").write_text("Y = 2\n")                # not read by the grader: said so
    (folder / ".venv").mkdir()
    (folder / ".venv" / "pyvenv.cfg").write_text("home = /usr\n")      # an environment: left out
    (folder / "data.txt").write_text("changed\n")                       # a release file: the grader's own copy
    out = submit(folder, "--no-run")
    assert "ran top to bottom: no" in out and "course_submit" not in out
    assert "toy.ipynb cell 4 (square): square" in out and "(cube): cube" in out and "beras/ops.py: double" in out
    assert "beras/mine.py is not graded" in out
    assert zip_names(folder / "toy-submission.zip") == ["beras/ops.py", "helper.py", "toy.ipynb"]
    assert "you can hand this in, but" in out


def test_a_zip_made_after_the_due_date_reads_as_late(tmp_path, toy):
    """submit.py dates the zip's entries for real (the notebook: the packaging time; other files: their
    mtime; DOS time and the UTC extended-timestamp field), so the grader's timestamp (the newest entry,
    without --timestamps) is when the zip was made: one made after the due date is late."""
    from datetime import datetime, timedelta, timezone

    from autograder.grading.timestamps import submission_timestamp
    folder = tmp_path / "toy"
    shutil.copytree(toy / "assignments" / "toy", folder)
    old = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc).timestamp()
    os.utime(folder / "beras" / "ops.py", (old, old))
    due = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(seconds=1)
    submit(folder, "--no-run")
    made = datetime.now(timezone.utc)
    stamp = submission_timestamp(str(folder / "toy-submission.zip"))
    assert stamp is not None and due < stamp <= made, f"due {due}, zip read as made at {stamp}, made by {made}"
    assert (stamp - due).total_seconds() > 0, "a zip made after the due date must read as late"
    with zipfile.ZipFile(folder / "toy-submission.zip") as zf:
        ops = zf.getinfo("beras/ops.py")
        assert ops.date_time == (2026, 3, 1, 12, 0, 0) and ops.extra[:2] == (0x5455).to_bytes(2, "little")


def test_submit_py_needs_only_the_standard_library_to_start(real_root):
    """Module-level imports of every release's submit.py are the standard library's (nbformat and
    nbclient, in requirements.txt, are imported only to run the notebook)."""
    import ast
    for name in REAL:
        tree = ast.parse((real_root / "assignments" / name / "submit.py").read_text())
        top = {a.name.split(".")[0] for n in tree.body if isinstance(n, ast.Import) for a in n.names} | \
              {n.module.split(".")[0] for n in tree.body if isinstance(n, ast.ImportFrom) and n.module}
        assert top and top <= set(sys.stdlib_module_names) | {"__future__"}, top
        lazy = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names} | \
               {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        assert lazy - set(sys.stdlib_module_names) - {"__future__"} == {"nbformat", "nbclient"}


def _fake_run(path):
    """Give every code cell an execution count, in order (as after Restart & Run All)."""
    nb = nbformat.read(path, as_version=4)
    for i, c in enumerate(c for c in nb.cells if c.cell_type == "code"):
        c.execution_count = i + 1
    nbformat.write(nb, path)


def test_submit_checks_the_run_order(tmp_path, toy):
    folder = toy_reference(toy, tmp_path / "ref")
    _fake_run(folder / "toy.ipynb")
    out = submit(folder, "--no-run")
    assert "ran top to bottom: yes" in out and "nothing: every part is written" in out and "ready to hand in" in out
    nb = nbformat.read(folder / "toy.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    code[3].execution_count, code[5].execution_count = code[5].execution_count, code[3].execution_count
    nbformat.write(nb, folder / "toy.ipynb")
    out = submit(folder, "--no-run")
    assert "ran top to bottom: no" in out and "ran out of order" in out and "ready to hand in" not in out


@pytest.mark.slow
def test_submit_runs_the_notebook_and_its_zip_grades_like_the_folder(tmp_path, toy):
    """The toy reference, never run: submit.py runs a copy (outputs in the zip, the file untouched);
    the zip and the folder both grade 10/10; the untouched release's zip grades 0."""
    folder = toy_reference(toy, tmp_path / "ref")
    before = (folder / "toy.ipynb").read_bytes()
    out = submit(folder)
    assert "running a copy" in out and "ran top to bottom: yes (the zip holds this run)" in out, out
    assert "ready to hand in" in out and (folder / "toy.ipynb").read_bytes() == before
    with zipfile.ZipFile(folder / "toy-submission.zip") as zf:
        nb = nbformat.reads(zf.read("toy.ipynb").decode(), as_version=4)
    assert all(c.execution_count for c in nb.cells if c.cell_type == "code" and gid(c) != student_kit.SUBMIT_ID)
    assert any("experiments: done" in o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    release = tmp_path / "release"
    shutil.copytree(toy / "assignments" / "toy", release)
    submit(release, "--no-run")
    scores = {}
    for label, sub in (("zip", folder / "toy-submission.zip"), ("folder", folder),
                       ("release zip", release / "toy-submission.zip")):
        out_dir = tmp_path / f"out-{label.replace(' ', '-')}"
        run = subprocess.run([sys.executable, "-m", "autograder", "grade", str(sub), "--assignment", "toy", "--out",
                              str(out_dir), "--root", str(toy), "--profile", "smoke"], cwd=ROOT, env=ENV,
                             capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, run.stderr[-3000:]
        scores[label] = json.loads((out_dir / "results.json").read_text())
    assert scores["zip"]["score"] == scores["folder"]["score"] == 10
    assert [(t["name"], t["score"]) for t in scores["zip"]["tests"]] == \
        [(t["name"], t["score"]) for t in scores["folder"]["tests"]]
    assert scores["release zip"]["score"] == 0


@pytest.mark.slow
def test_submit_cell_runs_submit_py(tmp_path, toy):
    """The cell checks the saved notebook and zips it, in seconds: it never starts the notebook again
    (a Run All reaches it), it says how to get a run instead."""
    folder = toy_reference(toy, tmp_path / "ref")
    out, _ = run_cell(tmp_path, student_kit.submit_cell("toy").source, folder)
    assert "ran top to bottom: no" in out and "running a copy" not in out and "python submit.py" in out
    assert "checking the notebook FILE toy.ipynb as saved on disk" in out and "no notebook kernel" in out, out
    assert (folder / "toy-submission.zip").is_file()
    _fake_run(folder / "toy.ipynb")
    out, _ = run_cell(tmp_path, student_kit.submit_cell("toy").source, folder)
    assert "== toy: checking toy.ipynb" in out and "ready to hand in" in out
    assert (folder / "toy-submission.zip").is_file()
    (folder / "toy-submission.zip").unlink()
    out, _ = run_cell(tmp_path, student_kit.submit_cell("toy").source, folder, COURSE_SUBMIT_RUN="1")
    assert "submit.py's own run" in out and not (folder / "toy-submission.zip").exists()   # inside submit.py's run
    out, _ = run_cell(tmp_path, student_kit.submit_cell("toy").source, folder, NBGRADER_EXECUTION="autograde")
    assert out == "" and not (folder / "toy-submission.zip").exists()   # under the grader: nothing


@pytest.mark.slow
def test_submit_cell_under_a_non_interactive_run_says_the_saved_file_is_not_this_run(tmp_path, toy):
    """nbclient (what nbconvert --execute and papermill use) runs a notebook in memory: the submit cell
    cannot save it, the file on disk (never run) shows no cell run. The cell says what it checked and
    that the file is not this run, instead of a bare 'ran top to bottom: no' that reads as a failure."""
    from nbclient import NotebookClient
    folder = toy_reference(toy, tmp_path / "ref")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell("y = x + 1"),
                                         student_kit.submit_cell("toy")])
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute(
        env=ENV)
    out = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    assert "checking the notebook FILE toy.ipynb as saved on disk" in out, out
    assert "the saved file is NOT this run" in out and "the file's last run cell at none" in out, out
    assert "non-interactive run" in out and "ran top to bottom: no" in out, out
    assert (folder / "toy-submission.zip").is_file()


# ---------------------------------------------------------------------------------------------
# Requirements: ranges that hold Colab's versions and the course's own
# ---------------------------------------------------------------------------------------------
def test_requirements_are_ranges_from_colab_to_the_course_pin(real_root):
    import tomllib
    pins = {d.split("==")[0].lower(): d.split("==")[1]
            for d in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]}
    from autograder.authoring.colab_check import in_range, parse_requirement
    for name in REAL:
        lines = (real_root / "assignments" / name / "requirements.txt").read_text().splitlines()
        reqs = dict(parse_requirement(line) for line in lines if parse_requirement(line))
        for pkg in ("tensorflow", "keras", "numpy"):
            assert set(reqs[pkg]) == {">=", "<"}, f"{name}: {pkg} is not a range: {reqs[pkg]}"
        for pkg, specs in reqs.items():
            assert in_range(pins[pkg], specs), f"{name}: the course's {pkg}=={pins[pkg]} is outside {specs}"
            if pkg in COLAB_VERSIONS:
                assert in_range(COLAB_VERSIONS[pkg], specs)
            else:
                assert set(specs) == {"=="}
        assert "nbclient" in reqs and "nbformat" in reqs   # submit.py runs the notebook with them
        assert not {"nbgrader", "psutil", "copydetect"} & set(reqs)
    assert student_requirement("tensorflow==2.21.0") == "tensorflow>=2.19.0,<2.22"
    assert student_requirement("foo==1.2.3") == "foo==1.2.3"
    with pytest.raises(ValueError, match="newer than the course's pin"):
        student_requirement("numpy==1.26.4")
