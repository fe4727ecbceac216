"""grade-all survives interruption: a batch SIGKILLed while a slow submission is in flight is rerun;
the students already graded are kept (their results files untouched), a changed submission and the
one in flight are graded, scores.csv and the gradebook are complete."""
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import nbformat
import pytest

from autograder.grading import batch
from autograder.authoring.spec import find_assignment
from tests.hostile.toy import make_course, reference_submission
from tests import ROOT

pytestmark = pytest.mark.slow   # end to end (see tests/__init__.py): left out of `make check`

ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
LIMITS = ["--cell-timeout", "90", "--call-timeout", "30", "--timeout", "300"]
SLOW = 45   # seconds the slow submission's first solution cell sleeps


def grade_all(subs, out, course, jobs, **kw):
    return subprocess.Popen([sys.executable, "-m", "autograder", "grade-all", str(subs), "--assignment", "toy",
                             "--out", str(out), "--root", course, "--profile", "smoke", "--jobs", str(jobs), *LIMITS],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV, cwd=ROOT, **kw)


def slow_submission(course, dest):
    reference_submission(course, dest)
    path = os.path.join(dest, "toy.ipynb")
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "square":
            cell.source = f"import time\ntime.sleep({SLOW})\n" + cell.source
    nbformat.write(nb, path)


def stat(path):
    st = os.stat(path)
    return st.st_ino, st.st_mtime_ns


def test_killed_batch_resumes(tmp_path):
    course = make_course(str(tmp_path / "course"))
    subs = tmp_path / "subs"
    reference_submission(course, str(subs / "a1"))
    shutil.copytree(os.path.join(course, "assignments", "toy"), subs / "a2")      # a2: the release, 0 points
    slow_submission(course, str(subs / "zslow"))
    out = tmp_path / "out"
    proc = grade_all(subs, out, course, jobs=1)      # in order: a1, a2, then zslow
    deadline = time.monotonic() + 400
    try:
        while time.monotonic() < deadline:
            if all(os.path.isfile(out / sid / "batch.json") for sid in ("a1", "a2")):
                time.sleep(5)                     # zslow started (one job, in order); it sleeps for SLOW s
                break
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.5)
        else:
            pytest.fail("the batch did not reach the slow submission in time")
        assert proc.poll() is None and not os.path.exists(out / "zslow")
        proc.send_signal(signal.SIGKILL)          # mid-batch: zslow is being graded
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    assert not os.path.exists(out / "zslow")                 # nothing half-written in place
    assert not os.path.exists(out / "scores.csv")
    kept = {sid: stat(out / sid / "results.json") for sid in ("a1", "a2")}
    # a2 resubmits meanwhile, now complete (content changed: regraded); a1 is unchanged (kept)
    shutil.rmtree(subs / "a2")
    reference_submission(course, str(subs / "a2"))
    time.sleep(2)     # the killed batch's pool workers die with it (parent-death signal)
    t0 = time.monotonic()
    proc = grade_all(subs, out, course, jobs=2)
    stdout, stderr = proc.communicate(timeout=600)
    elapsed = time.monotonic() - t0
    assert proc.returncode == 0, stderr[-3000:]
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
    assert stamp["submission"] == batch.submission_hash(str(subs / "zslow"))


def test_what_decides_a_rerun(tmp_path):
    """The key of a kept result: the submission's content (not its path or mtime) and the grader
    (its code, the grader bundle's digest, the profile and limits)."""
    course = make_course(str(tmp_path / "course"))
    a = find_assignment("toy", course)
    one = reference_submission(course, str(tmp_path / "one"))
    two = shutil.copytree(one, tmp_path / "two")
    os.utime(os.path.join(two, "toy.ipynb"), (1, 1))
    assert batch.submission_hash(one) == batch.submission_hash(str(two))
    with open(os.path.join(two, "beras", "ops.py"), "a") as f:
        f.write("# changed\n")
    assert batch.submission_hash(one) != batch.submission_hash(str(two))
    shutil.make_archive(str(tmp_path / "one"), "zip", one)
    assert batch.submission_hash(str(tmp_path / "one.zip")) != batch.submission_hash(one)
    v = batch.grader_version(a, "smoke", None)
    assert v == batch.grader_version(a, "smoke", None)
    assert v != batch.grader_version(a, "smoke", {"cell_timeout": 5}) != batch.grader_version(a, "full", None)
    manifest = os.path.join(a.bundle_dir, "bundle.json")
    with open(manifest) as f:
        data = json.load(f)
    data["digest"] = "0" * 64            # e.g. the hidden tests changed and the bundle was rebuilt
    with open(manifest, "w") as f:
        json.dump(data, f)
    assert batch.grader_version(a, "smoke", None) != v
