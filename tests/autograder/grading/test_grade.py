"""The grader end to end: the toy course (fast machinery checks, CLI contract, package, merge) and the
real assignments (reference solutions score 100, untouched releases 0 with messages, a half-done
beras_cnn gets its partial score). Batches run through the CLI in subprocesses, in parallel."""
import csv
import json
import os
import shutil
import subprocess
import sys

import pytest

from autograder.authoring.reference import release_submission
from autograder.authoring.spec import find_assignment
from tests.hostile.toy import make_course
from tests.hostile.toy import reference_submission as toy_reference
from tests import ROOT

pytestmark = pytest.mark.slow   # end to end (see tests/__init__.py): left out of `make check`

ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")


def cli(*args, timeout=900):
    return subprocess.run([sys.executable, "-m", "autograder", *map(str, args)], capture_output=True, text=True,
                          env=ENV, cwd=ROOT, timeout=timeout)


def load(path):
    with open(path) as f:
        return json.load(f)


# ---------------------------------------------------------------------------------------------
# Real assignments: the session fixture ``real`` (tests/conftest.py, tests/real_batches.py)
# ---------------------------------------------------------------------------------------------
def _real(real, name, kind):
    base, done = real
    for code, _, err in done.values():
        assert code == 0, err[-2000:]
    return load(base / f"out_{name}" / kind / "results.json")


REAL = ["beras_cnn", "cnn_architectures", "training_deep_cnns"]


@pytest.mark.parametrize("name", REAL)
def test_reference_solution_scores_100(real, name):
    res = _real(real, name, "reference")
    assert res["extra_data"]["max_score"] == 100
    scored = [t for t in res["tests"] if "manual" not in t["tags"]]
    assert res["score"] == 100, [(t["name"], t["output"]) for t in scored if t["status"] != "passed"]


@pytest.mark.parametrize("name", REAL)
def test_untouched_release_scores_0_with_messages(real, name):
    res = _real(real, name, "release")
    assert res["score"] == 0
    for t in res["tests"]:
        if "manual" in t["tags"]:
            assert "You have not answered yet" in t["extra_data"]["text"], t["name"]
            continue
        assert t["score"] == 0 and t["status"] == "failed"
        assert t["output"].strip(), t["name"]   # every failure says why


def test_a_fake_model_scores_no_more_than_the_release(real):
    """beras_cnn's build_cnn is a fake model whose predictions look each image up in the public digits (it
    passes the notebook's overfit and training cells in the kernel): the grader scores the model's weights
    itself, so it earns what the untouched release earns (before: 12 points)."""
    fake, release = _real(real, "beras_cnn", "fake_model"), _real(real, "beras_cnn", "release")
    assert fake["score"] <= release["score"], [(t["name"], t["score"]) for t in fake["tests"] if t["score"]]
    rows = {t["name"]: t for t in fake["tests"]}
    for gid in ("test_overfit", "test_training"):
        assert rows[f"notebook: {gid}"]["score"] == 0 and "grader's own check" in rows[f"notebook: {gid}"]["output"]


def test_written_answers_wait_for_a_person(real):
    """training_deep_cnns's written answers: listed with the student's text and their points, outside the
    autograded 100 (the reference's answers are its written cells)."""
    res = _real(real, "training_deep_cnns", "reference")
    written = [t for t in res["tests"] if "manual" in t["tags"]]
    assert len(written) >= 3 and all(t["extra_data"]["pending_manual_grading"] for t in written)
    assert all("score" not in t and t["extra_data"]["manual_points"] > 0 for t in written)
    assert all("Your answer:" in t["extra_data"]["text"] for t in written)
    total = sum(t["extra_data"]["manual_points"] for t in written)
    assert res["extra_data"]["manual_points_pending"] == total
    assert f"worth {total:g} more points are graded by hand" in res["extra_data"]["output_text"]


def test_beras_computed_with_tensorflow_loses_that_part_only(real):
    """training_deep_cnns handed in with the batch-norm layer written and Dropout computed by TensorFlow:
    the framework rule withholds every point of the parts that run the student's Dropout in the grader,
    and the batch-norm parts keep theirs."""
    res = _real(real, "training_deep_cnns", "tf_dropout")
    by_part = {}
    for t in res["tests"]:
        if "manual" not in t["tags"]:
            by_part.setdefault(t["extra_data"].get("part", ""), []).append(t)
    said = res["extra_data"]["output_text"]
    if "frameworks_absent" in res["extra_data"]["guarantees"]["held"]:   # TensorFlow cannot even be imported there
        assert any("not available to your beras while grading" in t["output"] for t in by_part["dropout"])
    else:                                                                  # it is watched
        assert "forbidden framework in part dropout" in said
    assert "in part batchnorm" not in said
    assert all(t["score"] == 0 for t in by_part["dropout"])
    batchnorm = by_part["batchnorm"]
    assert sum(t["score"] for t in batchnorm) == sum(t["max_score"] for t in batchnorm) > 0


def test_grading_cnn_architectures_exposes_no_solution(real):
    """The release's student searched the disk for beras_cnn's solutions and the hidden tests: nothing
    secret reached the notebook's outputs, results.json or feedback.html."""
    from tests.autograder.authoring.test_package import _texts, leaks, secret_lines
    base, _ = real
    out = base / "out_cnn_architectures" / "release"
    graded = (out / "cnn_architectures.graded.ipynb").read_text()
    assert "SEARCHED 0 files with secrets" in graded, graded[-3000:]
    files = _texts(out)
    assert {"results.json", "feedback.html", "cnn_architectures.graded.ipynb"} <= set(files)
    assert not leaks(files, secret_lines())


def test_half_done_beras_cnn_gets_partial_credit(real):
    res = _real(real, "beras_cnn", "half_done")
    by = {t["name"]: t for t in res["tests"]}
    conv = [t for n, t in by.items() if n.startswith("conv2d") or n.startswith("bias_add")]
    pool = [t for n, t in by.items() if "pooling" in n or "batch norm" in n]
    assert conv and all(t["status"] == "passed" for t in conv)
    assert pool and all(t["score"] == 0 for t in pool)
    assert 0 < res["score"] < 100
    assert res["score"] == sum(t.get("score", 0) for t in res["tests"])   # written answers: no score yet


def test_real_feedback_and_leaderboard(real):
    base, _ = real
    html = open(base / "out_cnn_architectures" / "reference" / "feedback.html").read()
    assert "training check" in html
    res = _real(real, "cnn_architectures", "reference")
    assert res["leaderboard"] and all({"name", "value"} <= set(e) for e in res["leaderboard"])
    if res["extra_data"]["curves"]:
        assert "data:image/png;base64," in html


# ---------------------------------------------------------------------------------------------
# Toy course
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    base = tmp_path_factory.mktemp("toy")
    course = make_course(str(base / "course"))
    a = find_assignment("toy", course)
    subs = base / "subs"
    toy_reference(course, str(subs / "reference"))
    toy_reference(course, str(subs / "reference_again"))
    release_submission(a, str(subs / "release"))
    half = release_submission(a, str(subs / "half"))        # square done, cube and beras not
    nb = load(os.path.join(half, "toy.ipynb"))
    for c in nb["cells"]:
        if c["metadata"].get("nbgrader", {}).get("grade_id") == "square":
            c["source"] = "def square(x):\n    return x * x"
    with open(os.path.join(half, "toy.ipynb"), "w") as f:
        json.dump(nb, f)
    shutil.make_archive(str(subs / "zipped"), "zip", str(subs / "reference"))
    out = base / "out"
    p = cli("grade-all", subs, "--assignment", "toy", "--out", out, "--root", course, "--profile", "smoke",
            "--jobs", "2", "--shard", "1/1")
    assert p.returncode == 0, p.stderr[-3000:]
    return base, course, out


def test_toy_scores(toy):
    _, _, out = toy
    assert load(out / "reference" / "results.json")["score"] == 10
    assert load(out / "zipped" / "results.json")["score"] == 10
    rel = load(out / "release" / "results.json")
    assert rel["score"] == 0 and all("NotImplementedError" in t["output"] for t in rel["tests"])
    half = load(out / "half" / "results.json")
    assert half["score"] == 4   # test_square 2 + hidden square 2
    assert {t["name"] for t in half["tests"] if t["score"] > 0} == {"notebook: test_square", "square on a matrix"}


def test_regrade_is_deterministic(toy):
    _, _, out = toy
    a, b = load(out / "reference" / "results.json"), load(out / "reference_again" / "results.json")
    assert [(t["name"], t["score"], t["output"]) for t in a["tests"]] == \
           [(t["name"], t["score"], t["output"]) for t in b["tests"]]


def test_csv_gradebook_and_merge(toy):
    base, course, out = toy
    with open(out / "scores.csv") as f:
        rows = {r["student"]: r for r in csv.DictReader(f)}
    assert set(rows) == {"reference", "reference_again", "release", "half", "zipped"}
    assert rows["half"]["score"] == "4"
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{out / 'gradebook.db'}") as gb:
        assert gb.find_submission("toy", "half").score == 4
    # shards are deterministic, disjoint and complete; merge puts them back together
    shard_outs = []
    for i in (1, 2):
        p = cli("grade-all", base / "subs", "--assignment", "toy", "--out", base / f"shard{i}", "--root", course,
                "--profile", "smoke", "--shard", f"{i}/2", "--no-gradebook", "--jobs", "2")
        assert p.returncode == 0, p.stderr[-2000:]
        shard_outs.append(base / f"shard{i}" / f"scores-{i}-of-2.csv")
    p = cli("merge", *shard_outs, "--out", base / "merged.csv")
    assert p.returncode == 0, p.stderr
    with open(base / "merged.csv") as f:
        merged = {r["student"]: r["score"] for r in csv.DictReader(f)}
    assert merged == {k: v["score"] for k, v in rows.items()}


def test_cli_summary_of_a_results_json(tmp_path, toy):
    """`autograder summary DIR/results.json` (the CI job summary) renders the file the grader wrote."""
    from autograder.results import to_summary_markdown
    _, _, out = toy
    p = cli("summary", out / "half" / "results.json")
    assert p.returncode == 0, p.stderr
    assert p.stdout == to_summary_markdown(load(out / "half" / "results.json")) + "\n"
    assert p.stdout.startswith("## Autograder: 4 / 10\n") and "| notebook: test_square | 2 / 2 | passed |" in p.stdout
    p = cli("summary", tmp_path / "missing.json")
    assert p.returncode == 0 and p.stdout.startswith("## Autograder\n\nno results:")


def test_cli_exit_codes(tmp_path, toy):
    _, course, _ = toy
    p = cli("grade", tmp_path, "--assignment", "nope", "--out", tmp_path / "o")
    assert p.returncode == 2 and "beras_cnn" in p.stderr and "cnn_architectures" in p.stderr
    p = cli("grade-all", tmp_path, "--assignment", "toy", "--out", tmp_path / "o", "--root", course, "--shard", "3/2")
    assert p.returncode == 2 and "shard" in p.stderr
    p = cli("grade", tmp_path / "missing.zip", "--assignment", "toy", "--out", tmp_path / "o2", "--root", course)
    assert p.returncode == 0
    res = load(tmp_path / "o2" / "results.json")
    assert res["score"] == 0 and "does not exist" in res["output"] and len(res["tests"]) == 5
