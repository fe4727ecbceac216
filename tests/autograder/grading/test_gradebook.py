"""grade-all's gradebook through nbgrader's own tools (toy course): `nbgrader export` and
`nbgrader generate_feedback` (CLI), formgrader's view (its API, its exporter on the autograded
notebook), submission timestamps (zip entries, timestamp.txt, --timestamps CSV) with nbgrader's
late-penalty plugin, --gradebook into an existing course gradebook, and `autograder merge` of shard
gradebooks. One graded batch; the other runs resume it."""
import csv
import os
import shutil
import subprocess
import sys
import zipfile

import pytest

from tests.hostile.toy import make_course, reference_submission
from tests import ROOT

pytestmark = pytest.mark.slow(seconds=130)   # end to end (tests/__init__.py); seconds: its cost, measured (heaviest start first)

BIN = os.path.dirname(sys.executable)
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PATH=BIN + os.pathsep + os.environ.get("PATH", ""))
LIMITS = ["--cell-timeout", "60", "--call-timeout", "30", "--timeout", "300"]
DUE = "2026-03-01T12:00:00+00:00"


def cli(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "autograder", *map(str, args)], capture_output=True, text=True,
                          env=ENV, cwd=ROOT, timeout=timeout)


def nbgrader(course, *args):
    return subprocess.run([os.path.join(BIN, "nbgrader"), *map(str, args), f"--CourseDirectory.root={course}"],
                          capture_output=True, text=True, env=ENV, cwd=str(course), timeout=300)


def read_csv(path):
    with open(path, newline="") as f:
        return {r["student"] if "student" in r else r["student_id"]: r for r in csv.DictReader(f)}


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    base = tmp_path_factory.mktemp("gradebook")
    course = make_course(str(base / "course"))
    subs = base / "subs"
    # alice: a folder on time (nbgrader's timestamp.txt)
    reference_submission(course, str(subs / "alice"))
    (subs / "alice" / "timestamp.txt").write_text("2026-02-28 09:30:00.000000 UTC")
    # bob: a zip whose newest entry is two days late
    tmp = reference_submission(course, str(base / "bob_src"))
    with zipfile.ZipFile(subs / "bob.zip", "w") as z:
        for dirpath, _, files in os.walk(tmp):
            for name in files:
                p = os.path.join(dirpath, name)
                info = zipfile.ZipInfo(os.path.relpath(p, tmp), date_time=(2026, 3, 3, 8, 0, 0))
                with open(p, "rb") as f:
                    z.writestr(info, f.read())
    # carol: the untouched release, no timestamp of its own: the CSV gives one (late)
    shutil.copytree(os.path.join(course, "assignments", "toy"), subs / "carol")
    (base / "times.csv").write_text("student,timestamp\ncarol,2026-03-02T10:00:00+01:00\n")
    (base / "nbgrader_config.py").write_text("c = get_config()\nc.LateSubmissionPlugin.penalty_method = 'zero'\n")
    out = base / "out"
    p = cli("grade-all", subs, "--assignment", "toy", "--out", out, "--root", course, "--profile", "smoke",
            "--jobs", "2", "--duedate", DUE, "--timestamps", base / "times.csv",
            "--nbgrader-config", base / "nbgrader_config.py", *LIMITS)
    assert p.returncode == 0, p.stderr[-3000:]
    assert "gradebook not written" not in p.stdout, p.stdout
    return {"base": base, "course": course, "subs": subs, "out": out, "scores": read_csv(out / "scores.csv")}


def test_nbgrader_export(batch):
    out, scores = batch["out"], batch["scores"]
    p = nbgrader(out, "export", "--to", out / "grades.csv")
    assert p.returncode == 0, p.stderr[-3000:]
    grades = read_csv(out / "grades.csv")
    assert set(grades) == {"alice", "bob", "carol"}
    for sid, row in grades.items():
        assert float(row["raw_score"]) == float(scores[sid]["score"])
        assert float(row["max_score"]) == float(scores[sid]["max_score"]) == 10
    assert float(scores["alice"]["score"]) > 0 and float(scores["carol"]["score"]) == 0
    assert grades["alice"]["timestamp"] == "2026-02-28 09:30:00"
    assert grades["bob"]["timestamp"] == "2026-03-03 08:00:00"        # the zip's newest entry
    assert grades["carol"]["timestamp"] == "2026-03-02 09:00:00"      # the CSV, in UTC
    # nbgrader's LateSubmissionPlugin ('zero', from the course's nbgrader_config.py): late -> 0
    assert float(grades["alice"]["late_submission_penalty"]) == 0
    assert float(grades["alice"]["score"]) == float(scores["alice"]["score"])
    assert float(grades["bob"]["late_submission_penalty"]) == float(scores["bob"]["score"]) > 0
    assert float(grades["bob"]["score"]) == 0


def test_nbgrader_generate_feedback(batch):
    out = batch["out"]
    p = nbgrader(out, "generate_feedback", "--assignment", "toy")
    assert p.returncode == 0, p.stderr[-3000:]
    assert "MissingEntry" not in p.stderr
    for sid in ("alice", "bob", "carol"):
        for nb in ("toy", "hidden_tests"):
            assert os.path.isfile(out / "feedback" / sid / "toy" / f"{nb}.html"), (sid, nb, p.stderr[-2000:])
    page = (out / "feedback" / "alice" / "toy" / "toy.html").read_text()
    assert "Autograder: test_square: 2 / 2" in page                     # the solution cell's comment
    hidden = (out / "feedback" / "carol" / "toy" / "hidden_tests.html").read_text()
    assert "square on a matrix" in hidden and "NotImplementedError" in hidden


def test_formgrader_view(batch):
    """What formgrader shows: its API (the submission lists and the grades / comments it fetches)
    and its exporter on the autograded notebook, as SubmissionHandler renders it."""
    from nbconvert.exporters import HTMLExporter
    from traitlets.config import Config
    from nbgrader.api import Gradebook
    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.server_extensions.formgrader import handlers
    out = batch["out"]
    api = NbGraderAPI(coursedir=CourseDirectory(root=str(out)))
    subs = api.get_submissions("toy")
    assert {s["student"] for s in subs} == {"alice", "bob", "carol"}
    assert not any(s["needs_manual_grade"] for s in subs)
    for nb in ("toy", "hidden_tests"):
        listed = api.get_notebook_submissions("toy", nb)       # only notebooks present under autograded/
        assert {s["student"] for s in listed} == {"alice", "bob", "carol"}
        assert not any(s["needs_manual_grade"] for s in listed)
    with Gradebook(f"sqlite:///{out / 'gradebook.db'}") as gb:
        snb = gb.find_submission_notebook("toy", "toy", "alice")
        grades = [g.to_dict() for g in snb.grades]
        assert {g["name"] for g in grades} == {"test_square", "test_cube", "test_double"}
        assert not any(g["needs_manual_grade"] for g in grades)
        comments = {c.name: c.comment for c in snb.comments}
        assert set(comments) == {"square", "cube"}
        assert comments["square"].startswith("Autograder: test_square: 2 / 2")
        assert "test_double" in comments["cube"]
        hidden = gb.find_submission_notebook("hidden_tests", "toy", "carol")
        assert {g.name: g.auto_score for g in hidden.grades} == {"hidden_hidden_square": 0, "hidden_hidden_double": 0}
        sid = snb.id
    c = Config()
    c.HTMLExporter.template_name = "formgrade"
    c.HTMLExporter.extra_template_basedirs = [handlers.template_path]
    resources = {"assignment_id": "toy", "notebook_id": "toy", "submission_id": sid, "index": 0, "total": 3,
                 "base_url": "", "student": "alice", "last_name": None, "first_name": None,
                 "notebook_path": "/autograded/alice/toy/toy.ipynb"}
    html, _ = HTMLExporter(config=c).from_filename(str(out / "autograded" / "alice" / "toy" / "toy.ipynb"),
                                                   resources=resources)
    assert '<input class="score tabbable" id="test_square"' in html      # the score box of the grade cell
    assert "<pre>experiments: done" in html                              # the student's run's outputs


def test_existing_course_gradebook_and_merged_shards(batch):
    """--gradebook into a course gradebook made by nbgrader (its students' names kept), and two
    shards' gradebooks merged by `autograder merge` equal the whole batch's. The runs share the
    batch's output dir, so they resume it (unless the grader changed meanwhile)."""
    base, course, subs, out = batch["base"], batch["course"], batch["subs"], batch["out"]
    mycourse = base / "mycourse"
    mycourse.mkdir()
    assert nbgrader(mycourse, "db", "student", "add", "alice", "--first-name", "Alice", "--last-name", "A").returncode == 0
    assert nbgrader(mycourse, "db", "assignment", "add", "toy", f"--duedate={DUE}").returncode == 0
    common = ["--assignment", "toy", "--out", out, "--root", course, "--profile", "smoke", *LIMITS,
              "--timestamps", base / "times.csv"]
    p = cli("grade-all", subs, *common, "--gradebook", mycourse / "gradebook.db")
    assert p.returncode == 0, p.stdout + p.stderr[-2000:]
    assert "gradebook not written" not in p.stdout
    p = nbgrader(mycourse, "export", "--to", mycourse / "grades.csv")
    assert p.returncode == 0, p.stderr[-2000:]
    grades = read_csv(mycourse / "grades.csv")
    assert grades["alice"]["first_name"] == "Alice" and grades["alice"]["duedate"].startswith("2026-03-01 12:00")
    assert {k: float(v["raw_score"]) for k, v in grades.items()} == \
           {k: float(v["score"]) for k, v in batch["scores"].items()}
    assert os.path.isfile(mycourse / "autograded" / "bob" / "toy" / "toy.ipynb")
    # shards, each with its own gradebook, merged
    dbs = []
    for i in (1, 2):
        p = cli("grade-all", subs, *common, "--shard", f"{i}/2", "--gradebook", base / f"shard{i}" / "gradebook.db")
        assert p.returncode == 0 and "gradebook not written" not in p.stdout, p.stdout + p.stderr[-2000:]
        dbs.append(base / f"shard{i}" / "gradebook.db")
    merged = base / "merged" / "gradebook.db"
    p = cli("merge", *dbs, "--out", merged)
    assert p.returncode == 0, p.stderr[-2000:]
    p = nbgrader(base / "merged", "export", "--to", base / "merged" / "grades.csv")
    assert p.returncode == 0, p.stderr[-2000:]
    mgrades = read_csv(base / "merged" / "grades.csv")
    assert {k: (v["raw_score"], v["timestamp"]) for k, v in mgrades.items()} == \
           {k: (v["raw_score"], v["timestamp"]) for k, v in read_csv(mycourse / "grades.csv").items()}
    p = nbgrader(base / "merged", "generate_feedback", "--assignment", "toy")
    assert p.returncode == 0, p.stderr[-2000:]
    assert os.path.isfile(base / "merged" / "feedback" / "carol" / "toy" / "hidden_tests.html")
    # the same student in two gradebooks, or a mix of kinds: a clear error
    p = cli("merge", dbs[0], dbs[0], "--out", base / "dup.db")
    assert p.returncode == 2 and "more than one gradebook" in p.stderr
    p = cli("merge", dbs[0], out / "scores.csv", "--out", base / "x.csv")
    assert p.returncode == 2 and "--out FILE.db" in p.stderr


def test_bad_timestamps_csv_is_a_clear_error(batch, tmp_path):
    (tmp_path / "t.csv").write_text("alice,yesterday-ish\n")
    p = cli("grade-all", batch["subs"], "--assignment", "toy", "--out", tmp_path / "o", "--root", batch["course"],
            "--timestamps", tmp_path / "t.csv")
    assert p.returncode == 2 and "line 1" in p.stderr and "not a timestamp" in p.stderr
