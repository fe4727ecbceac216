"""grade-all survives interruption: a batch SIGKILLed while a slow submission is in flight is rerun;
the students already graded are kept (their results files untouched), a changed submission and the
one in flight are graded, scores.csv and the gradebook are complete, and what the killed batch left in
the temp folder (scratch copies, uid reservations) is gone. A grader that fails (a module it needs does
not import) never stamps a result: grade-all and grade exit 3 and say so."""
import csv
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from pathlib import Path

import nbformat
import pytest

from autograder.grading import batch, resume
from autograder.authoring.spec import find_assignment
from tests.hostile.toy import make_course, reference_submission
from tests import ROOT

pytestmark = pytest.mark.slow(seconds=100)   # end to end (tests/__init__.py); seconds: its cost, measured (heaviest start first)

ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
LIMITS = ["--cell-timeout", "90", "--call-timeout", "30", "--timeout", "300"]
SLOW = 45   # seconds the slow submission's first solution cell sleeps
STARTED = "slow-cell-started"   # the file the slow cell writes into its working dir (the scratch copy) first


def grade_all(subs, out, course, jobs, env=ENV, **kw):
    return subprocess.Popen([sys.executable, "-m", "autograder", "grade-all", str(subs), "--assignment", "toy",
                             "--out", str(out), "--root", course, "--profile", "smoke", "--jobs", str(jobs), *LIMITS],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT, **kw)


def slow_submission(course, dest):
    reference_submission(course, dest)
    path = os.path.join(dest, "toy.ipynb")
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "square":
            cell.source = f"import pathlib, time\npathlib.Path({STARTED!r}).touch()\ntime.sleep({SLOW})\n" + cell.source
    nbformat.write(nb, path)


def wait_for(condition, timeout, what, proc=None):
    """Poll ``condition()`` until it is true; fail with ``what`` after ``timeout`` s (or when ``proc``,
    the batch, ends first)."""
    end = time.monotonic() + timeout
    while not condition():
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"the batch ended before {what}: {proc.communicate()}")
        if time.monotonic() > end:
            pytest.fail(f"timed out after {timeout} s waiting until {what}")
        time.sleep(0.2)


def _stat_fields(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()     # [state, ppid, ...]; [19]: start time


def descendants(pid):
    """{pid: start time} of every process below ``pid`` (its grader processes and their sandboxes)."""
    kids = {}
    for p in filter(str.isdigit, os.listdir("/proc")):
        try:
            fields = _stat_fields(p)
        except (OSError, IndexError):
            continue
        kids.setdefault(int(fields[1]), []).append((int(p), fields[19]))
    found, todo = {}, [pid]
    while todo:
        for child, start in kids.get(todo.pop(), []):
            if child not in found:
                found[child] = start
                todo.append(child)
    return found


def alive(pid, start):
    try:
        fields = _stat_fields(pid)
    except (OSError, IndexError):
        return False
    return fields[19] == start and fields[0] != "Z"


def stat(path):
    st = os.stat(path)
    return st.st_ino, st.st_mtime_ns


def test_killed_batch_resumes(tmp_path, request):
    course = make_course(str(tmp_path / "course"))
    subs = tmp_path / "subs"
    reference_submission(course, str(subs / "a1"))
    shutil.copytree(os.path.join(course, "assignments", "toy"), subs / "a2")      # a2: the release, 0 points
    slow_submission(course, str(subs / "zslow"))
    out = tmp_path / "out"
    # the graders' scratch copies (TMPDIR), to see the marker: a short path, since the kernel's ipc sockets
    # live under it and a unix socket path longer than 107 bytes fails (pytest's tmp_path is too deep)
    scratch = Path(tempfile.mkdtemp(prefix="agr-", dir="/tmp"))
    request.addfinalizer(lambda: shutil.rmtree(scratch, ignore_errors=True))
    proc = grade_all(subs, out, course, jobs=1, env=dict(ENV, TMPDIR=str(scratch)))   # in order: a1, a2, zslow
    try:
        wait_for(lambda: glob.glob(str(scratch / "autograder-*" / "sub-*" / "work" / STARTED)), 400,
                 "the slow submission's cell started", proc)
        assert all(os.path.isfile(out / sid / "batch.json") for sid in ("a1", "a2"))
        assert proc.poll() is None and not os.path.exists(out / "zslow")
        graders = descendants(proc.pid)
        proc.send_signal(signal.SIGKILL)          # mid-batch: zslow's cell sleeps for SLOW s
        proc.wait(timeout=30)
        # the killed batch's pool workers and sandboxes die with it (parent-death signal)
        wait_for(lambda: not any(alive(p, t) for p, t in graders.items()), 30,
                 "every process of the killed batch was gone")
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    assert not os.path.exists(out / "zslow")                 # nothing half-written in place
    assert not os.path.exists(out / "scores.csv")
    kept = {sid: stat(out / sid / "results.json") for sid in ("a1", "a2")}
    # what the killed batch left in its temp folder: its graders' scratch roots (the students' code) and,
    # as root, its sandboxes' uid reservations; the rerun (same temp folder) removes them
    left = glob.glob(str(scratch / "autograder-[0-9]*"))
    assert glob.glob(str(scratch / "autograder-[0-9]*" / "sub-*" / "work" / STARTED)), left
    uids = scratch / "autograder-uids"
    reserved = [n for n in os.listdir(uids) if n.isdigit()] if os.geteuid() == 0 else []
    assert reserved or os.geteuid() != 0
    # a2 resubmits meanwhile, now complete (content changed: regraded); a1 is unchanged (kept)
    shutil.rmtree(subs / "a2")
    reference_submission(course, str(subs / "a2"))
    t0 = time.monotonic()
    proc = grade_all(subs, out, course, jobs=2, env=dict(ENV, TMPDIR=str(scratch)))
    stdout, stderr = proc.communicate(timeout=600)
    elapsed = time.monotonic() - t0
    assert proc.returncode == 0, stderr[-3000:]
    assert not [p for p in left if os.path.exists(p)], os.listdir(scratch)
    assert not [n for n in reserved if os.path.exists(uids / n)], os.listdir(uids)
    assert "resuming: 1 submission(s) already graded by this grader, kept (a1)" in stdout, stdout
    assert stat(out / "a1" / "results.json") == kept["a1"]            # not rewritten
    assert stat(out / "a2" / "results.json") != kept["a2"]
    assert "a1:" not in stdout and "a2: 10 / 10" in stdout and "zslow: 10 / 10" in stdout
    assert "graded 3 submission(s)" in stdout and elapsed >= SLOW     # zslow was graded in full this time
    assert not os.path.exists(out / ".partial")
    with open(out / "scores.csv") as f:
        rows = {r["student"]: r["score"] for r in csv.DictReader(f)}
    assert rows == {"a1": "10", "a2": "10", "zslow": "10"}, rows
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{out / 'gradebook.db'}") as gb:
        assert {s.student.id: s.score for s in gb.find_assignment("toy").submissions} == \
               {k: float(v) for k, v in rows.items()}
    stamp = json.loads((out / "zslow" / "batch.json").read_text())
    assert stamp["submission"] == resume.submission_hash(str(subs / "zslow"))


def test_what_decides_a_rerun(tmp_path):
    """The key of a kept result: the submission's content (not its path or mtime) and the grader
    (its code, the grader bundle's digest, the profile and limits)."""
    course = make_course(str(tmp_path / "course"))
    a = find_assignment("toy", course)
    one = reference_submission(course, str(tmp_path / "one"))
    two = shutil.copytree(one, tmp_path / "two")
    os.utime(os.path.join(two, "toy.ipynb"), (1, 1))
    assert resume.submission_hash(one) == resume.submission_hash(str(two))
    with open(os.path.join(two, "beras", "ops.py"), "a") as f:
        f.write("# changed\n")
    assert resume.submission_hash(one) != resume.submission_hash(str(two))
    shutil.make_archive(str(tmp_path / "one"), "zip", one)
    assert resume.submission_hash(str(tmp_path / "one.zip")) != resume.submission_hash(one)
    v = resume.grader_version(a, "smoke", None)
    assert v == resume.grader_version(a, "smoke", None)
    assert v != resume.grader_version(a, "smoke", {"cell_timeout": 5}) != resume.grader_version(a, "full", None)
    manifest = os.path.join(a.bundle_dir, "bundle.json")
    with open(manifest) as f:
        data = json.load(f)
    data["digest"] = "0" * 64            # e.g. the hidden tests changed and the bundle was rebuilt
    with open(manifest, "w") as f:
        json.dump(data, f)
    assert resume.grader_version(a, "smoke", None) != v


def test_a_grader_that_cannot_import_fails_loudly(tmp_path):
    """The grader's own environment broken (numpy does not import in the grader processes, as when the
    virtualenv is out of reach): no submission is stamped as graded, scores.csv has no rows, the summary
    names every submission and why, grade-all exits 3. The next run, environment fixed, grades them all."""
    course = make_course(str(tmp_path / "course"))
    subs = tmp_path / "subs"
    reference_submission(course, str(subs / "a1"))
    shutil.copytree(os.path.join(course, "assignments", "toy"), subs / "a2")      # a2: the release, 0 points
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "numpy.py").write_text("raise ModuleNotFoundError(\"No module named 'numpy'\", name='numpy')\n")
    out = tmp_path / "out"
    proc = grade_all(subs, out, course, jobs=2, env=dict(ENV, PYTHONPATH=str(broken)))
    stdout, stderr = proc.communicate(timeout=600)
    assert proc.returncode == resume.EXIT_GRADER_FAILED == 3, (stdout, stderr[-3000:])
    assert "graded 0 submission(s)" in stdout, stdout
    assert "NOT GRADED: 2 submission(s), because the grader failed" in stdout, stdout
    for sid in ("a1", "a2"):
        assert f"  {sid}: ModuleNotFoundError: No module named 'numpy'" in stdout, stdout
        res = json.loads((out / sid / "results.json").read_text())
        assert res["extra_data"][resume.GRADER_FAILED] == "ModuleNotFoundError: No module named 'numpy'"
        assert res["output"].startswith("not graded: the grader failed (not this submission)")
        assert not os.path.exists(out / sid / "batch.json")               # never a finished result
    with open(out / "scores.csv") as f:
        assert list(csv.DictReader(f)) == []
    proc = grade_all(subs, out, course, jobs=2)                           # the environment fixed
    stdout, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 0, stderr[-3000:]
    assert "resuming" not in stdout and "NOT GRADED" not in stdout, stdout
    assert "a1: 10 / 10" in stdout and "a2: 0 / 10" in stdout and "graded 2 submission(s)" in stdout, stdout
    with open(out / "scores.csv") as f:
        assert {r["student"]: r["score"] for r in csv.DictReader(f)} == {"a1": "10", "a2": "0"}
    for sid in ("a1", "a2"):
        assert os.path.isfile(out / sid / "batch.json")


def test_grader_failures_are_never_stamped(tmp_path, monkeypatch):
    """In the grader process: an exception out of grade() (here an ImportError in a grading step, which
    grade() no longer files as the submission's problem) is a grader failure: no batch.json, even when
    the batch gave a stamp."""
    import autograder.grading.grade as grade_mod
    course = make_course(str(tmp_path / "course"))
    sub = reference_submission(course, str(tmp_path / "a1"))

    def broken_step(g):
        import autograder_missing_dependency  # noqa: F401
    monkeypatch.setattr(grade_mod, "STEPS", [grade_mod.STEPS[0], broken_step, *grade_mod.STEPS[1:]])
    a = find_assignment("toy", course)
    out = tmp_path / "out"
    sid, res = batch._grade_one("a1", sub, a, str(out), "smoke", None, course, stamp={"submission": "x", "grader": "y"})
    assert resume.grader_failures({sid: res}) == {"a1": "ModuleNotFoundError: No module named 'autograder_missing_dependency'"}
    assert sorted(os.listdir(out / "a1")) == ["results.json"]
    assert resume._finished(str(out), "a1", {"submission": "x", "grader": "y"}) is None


def test_grade_says_when_the_grader_fails(tmp_path):
    """`autograder grade` whose grader cannot import nbformat: exit 3, one line saying the grader failed
    (not the submission), and a results.json that says so too (no traceback). About 2 s."""
    course = make_course(str(tmp_path / "course"))
    sub = reference_submission(course, str(tmp_path / "subs" / "a1"))
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "nbformat.py").write_text("raise ModuleNotFoundError(\"No module named 'nbformat'\", name='nbformat')\n")
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "autograder", "grade", sub, "--assignment", "toy", "--out", str(out),
                           "--root", course, "--profile", "smoke"], capture_output=True, text=True, cwd=ROOT,
                          env=dict(ENV, PYTHONPATH=str(broken)), timeout=300)
    assert proc.returncode == resume.EXIT_GRADER_FAILED == 3, (proc.stdout, proc.stderr[-3000:])
    assert proc.stderr.splitlines() == [
        "autograder: not graded: the grader failed (not this submission): ModuleNotFoundError: No module named "
        f"'nbformat'  ->  {out / 'results.json'}"], proc.stderr[-3000:]
    res = json.loads((out / "results.json").read_text())
    assert resume.grader_failures({"a1": res}) == {"a1": "ModuleNotFoundError: No module named 'nbformat'"}
    assert res["output"].startswith("not graded: the grader failed (not this submission)")
    # grade-all, whose own process cannot import it: nothing graded, nothing stamped (the next run grades
    # everyone), exit 3 with one line
    proc = subprocess.run([sys.executable, "-m", "autograder", "grade-all", str(tmp_path / "subs"), "--assignment", "toy",
                           "--out", str(tmp_path / "all"), "--root", course], capture_output=True, text=True, cwd=ROOT,
                          env=dict(ENV, PYTHONPATH=str(broken)), timeout=300)
    assert proc.returncode == 3 and proc.stderr.splitlines() == [
        "autograder: error: the grader failed (not a submission): ModuleNotFoundError: No module named 'nbformat'"], \
        proc.stderr[-3000:]
    assert not glob.glob(str(tmp_path / "all" / "*" / "batch.json"))
