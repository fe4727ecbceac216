"""The hostile / broken corpus (tests/hostile/cases.py) graded in one parallel grade-all batch:
every case yields a valid results.json, no more than its honest points, a clear message, and the
batch finishes with one row per student."""
import csv
import json
import os
import re
import socket
import subprocess
import sys

import nbformat
import pytest

from autograder.isolation.sandbox import guarantees, isolation_mode
from tests.hostile.cases import CASES, network, read_secrets
from tests.hostile.toy import make_course
from tests import ROOT

pytestmark = pytest.mark.slow(seconds=120)   # end to end (tests/__init__.py); seconds: its cost, measured (heaviest start first)

LIMITS = ["--cell-timeout", "6", "--call-timeout", "6", "--timeout", "150", "--memory-mb", "3000",
          "--total-memory-mb", "2500", "--disk-mb", "300"]


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    base = tmp_path_factory.mktemp("hostile")
    course = make_course(str(base / "course"))
    release = os.path.join(course, "assignments", "toy")
    subs = base / "submissions"
    subs.mkdir()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    listener.setblocking(False)
    port = listener.getsockname()[1]
    secrets = [os.path.join(course, "solutions", "toy", "hidden_tests.py"),
               os.path.join(course, "solutions", "toy", "toy.ipynb"),
               os.path.join(course, "build", "grader", "toy", "hidden_tests.py"),
               os.path.join(ROOT, "autograder", "grade.py")]
    for name, case in CASES.items():
        if case.build is network:
            network(release, str(subs / name), port=port)
        elif case.build is read_secrets:
            read_secrets(release, str(subs / name), secrets)
        else:
            case.build(release, str(subs / name))
    host_before = _host_state("/tmp/results.json")   # fake_results tries to write it
    out = base / "out"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run([sys.executable, "-m", "autograder", "grade-all", str(subs), "--assignment", "toy",
                           "--out", str(out), "--root", course, "--profile", "smoke", "--jobs", "2", *LIMITS],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=400)
    try:
        conn = listener.accept()
    except (BlockingIOError, OSError):
        conn = None
    listener.close()
    return {"proc": proc, "out": out, "course": course, "connected": conn, "base": base,
            "host_before": host_before, "host_after": _host_state("/tmp/results.json")}


def _host_state(path):
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


def _results(batch, name):
    with open(batch["out"] / name / "results.json") as f:
        return json.load(f)


def _outputs(batch, name):
    """Everything the submission's notebook printed or raised (not its source)."""
    nb = nbformat.read(batch["out"] / name / "toy.graded.ipynb", as_version=4)
    return json.dumps([[o.get("text", ""), o.get("ename", ""), o.get("evalue", "")]
                       for c in nb.cells for o in c.get("outputs", [])])


def _text(res):
    return res["output"] + "\n" + "\n".join(t["output"] for t in res["tests"])


def test_batch_finishes_with_one_row_per_student(batch):
    assert batch["proc"].returncode == 0, batch["proc"].stderr[-3000:]
    with open(batch["out"] / "scores.csv") as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["student"] for r in rows) == sorted(CASES)
    assert os.path.isfile(batch["out"] / "gradebook.db")


@pytest.mark.parametrize("name", sorted(CASES))
def test_case(batch, name):
    case = CASES[name]
    res = _results(batch, name)
    assert {"score", "execution_time", "output", "tests"} <= set(res)
    for t in res["tests"]:
        assert {"name", "score", "max_score", "status", "output", "visibility"} <= set(t)
    assert res["score"] == sum(t["score"] for t in res["tests"])
    honest, mention = case.expected(isolation_mode())
    assert res["score"] <= honest + 1e-9, _text(res)
    assert res["score"] == honest, _text(res)          # ... and the honest part still earns points
    assert re.search(mention, _text(res)), _text(res)
    assert os.path.isfile(batch["out"] / name / "feedback.html")


def test_no_network_connection(batch):
    assert batch["connected"] is None
    assert "CONNECTED" not in _outputs(batch, "network")
    assert "Network is unreachable" in _outputs(batch, "network") or isolation_mode() != "namespaces"


def test_secrets_not_readable(batch):
    text = _outputs(batch, "read_secrets")
    assert "LEAK" not in text and "student.call" not in text and "cannot read" in text


def test_fake_results_ignored(batch):
    res = _results(batch, "fake_results")
    assert res["score"] == 0
    if isolation_mode() == "namespaces":
        assert "wrote /tmp/results.json" not in _outputs(batch, "fake_results")
    if isolation_mode() in ("namespaces", "uid"):   # private /tmp; or the sandbox uid's files removed
        assert batch["host_after"] in (batch["host_before"], None), "the student wrote the host's /tmp/results.json"
    else:
        assert "grader_unwritable" in res["extra_data"]["guarantees"]["not_held"]


def test_isolation_reported(batch):
    res = _results(batch, "read_secrets")
    assert res["extra_data"]["isolation"] == isolation_mode()
    assert res["extra_data"]["guarantees"] == guarantees(isolation_mode())


def test_caps_on_totals(batch):
    """The memory-and-fork bomb (three 1 GiB processes, each forking without end) graded beside the
    others (test_case: every neighbour keeps its honest points); where this machine gives sandboxes a
    cgroup, its caps are what stopped it, and results.json says which caps the sandbox had."""
    res = _results(batch, "memory_fork_bomb")
    g, caps = res["extra_data"]["guarantees"], res["extra_data"]["caps"]
    if "total_memory" in g["held"]:
        assert caps["memory"] == "cgroup"
        assert re.search(r"went over the memory cap of 2500 MB: the kernel killed \d+ of them", res["output"]), _text(res)
    else:
        assert "total_memory" in g["not_held"] and caps["memory"] == "RLIMIT_AS per process only"


def test_disk_cap(batch):
    """The disk filler was stopped near the cap (--disk-mb 300), long before its 4 GB, and its files removed."""
    res = _results(batch, "disk_filler")
    assert "disk_quota" in res["extra_data"]["guarantees"]["best_effort"]
    seen = re.search(r"disk cap of 300 MB \((\d+) MB seen\)", res["output"])
    assert seen and int(seen.group(1)) < 1000, _text(res)
    assert "wrote 4 GB" not in _outputs(batch, "disk_filler")


def test_zip_slip_extracts_nothing(batch):
    assert not (batch["base"] / "escaped_by_zip_slip.py").exists()
    assert not (batch["out"].parent / "escaped_by_zip_slip.py").exists()


def _shown_now(res):
    """What a student reads in results.json before the due date: the rows visible now, and the top level
    when it is visible."""
    rows = [t["output"] + t["name"] for t in res["tests"] if t["visibility"] == "visible"]
    return "\n".join(rows + ([res["output"]] if res["visibility"] == "visible" else []))


def test_exfiltration_shows_no_hidden_input(batch):
    """square keeps its inputs and cube raises with them once square has seen the hidden matrix: nothing of
    it shows before the due date (the checks shown now run before any hidden test, and their rows carry no
    text of the student's process). Under the previous grader, check_cube (defined after hidden_square) ran
    after it and its failure text, the hidden matrix and the worker's request, filled test_cube's row."""
    res = _results(batch, "exfiltrate_hidden_inputs")
    assert "array([[" not in _shown_now(res) and "LOG" not in _shown_now(res), _shown_now(res)
    assert "'op': 'call'" not in _shown_now(res), _shown_now(res)     # the worker's request, read from a frame
    cube = next(t for t in res["tests"] if t["name"] == "notebook: test_cube")
    assert cube["score"] == 2, cube   # honest on everything it saw before a hidden test


def test_total_not_shown_before_the_due_date(batch):
    """Gradescope shows the top-level score: while hidden tests are not shown, the whole result takes their
    visibility and the visible rows say "visible" each (they override it)."""
    res = _results(batch, "exfiltrate_hidden_inputs")
    hidden = [t for t in res["tests"] if t["visibility"] != "visible"]
    assert hidden and {t["visibility"] for t in hidden} == {"after_due_date"}
    assert res["visibility"] == "after_due_date"
    assert res["score"] == sum(t["score"] for t in res["tests"]) > sum(
        t["score"] for t in res["tests"] if t["visibility"] == "visible")


def test_huge_output_truncated(batch):
    size = os.path.getsize(batch["out"] / "huge_output" / "toy.graded.ipynb")
    assert size < 2 * 2**20
    assert "truncated" in open(batch["out"] / "huge_output" / "toy.graded.ipynb").read()


def _secret_lines(course):
    """Lines only the grader holds: the hidden tests' code and the instructor's solution of beras."""
    lines = set()
    with open(os.path.join(course, "solutions", "toy", "hidden_tests.py")) as f:
        lines |= {ln.strip() for ln in f if len(ln.strip()) >= 20 and not ln.strip().startswith(("@", "def ", "from "))}
    lines.add("return np.asarray(x, dtype=float) * 2")
    return lines


@pytest.mark.parametrize("name", sorted(CASES))
def test_nothing_secret_in_what_the_student_sees(batch, name):
    """results.json, feedback.html and what the notebook printed hold no line of the hidden tests or of
    the instructor's solution, whatever the submission did (search_disk and read_secrets try hardest)."""
    secrets = _secret_lines(batch["course"])
    assert len(secrets) >= 8
    seen = []
    for fname in ("results.json", "feedback.html"):
        path = batch["out"] / name / fname
        seen.append(path.read_text())
    if (batch["out"] / name / "toy.graded.ipynb").exists():
        seen.append(_outputs(batch, name))
    text = "\n".join(seen)
    assert not [ln for ln in secrets if ln in text]
    if name == "search_disk":
        assert "FOUND nothing" in _outputs(batch, name) or isolation_mode() != "namespaces", _outputs(batch, name)
