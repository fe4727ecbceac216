"""docs/authoring.md, followed to the letter: every `$ ` command of its console blocks runs, in order,
in a scratch course root, and every output line the page shows after a command is what it printed
(the reference scores 100, the untouched release 0)."""
import os
import re
import shutil
import subprocess
import sys
from tests import ROOT
import pytest

pytestmark = pytest.mark.slow(seconds=35)   # end to end (tests/__init__.py); seconds: its cost, measured (heaviest start first)

DOC = os.path.join(ROOT, "docs", "authoring.md")


def steps():
    """[(command, [expected output lines])] of the document's ```console blocks."""
    text = open(DOC).read()
    out = []
    for block in re.findall(r"```console\n(.*?)```", text, re.S):
        for line in block.splitlines():
            if line.startswith("$ "):
                out.append((line[2:], []))
            elif line.strip():
                out[-1][1].append(line.strip())
    return out


def test_the_guide_has_the_whole_path():
    cmds = [c for c, _ in steps()]
    for needed in ("autograder new", "autograder release", "autograder grade ", "autograder grade-all",
                   "autograder package"):
        assert any(c.startswith(needed) for c in cmds), needed


def test_follow_the_authoring_guide(tmp_path):
    course = tmp_path / "course"
    course.mkdir()
    shutil.copyfile(os.path.join(ROOT, "pyproject.toml"), course / "pyproject.toml")
    env = dict(os.environ, AUTOGRADER_ROOT=str(course), TF_CPP_MIN_LOG_LEVEL="3")
    for cmd, expected in steps():
        argv = cmd.split()
        if argv[0] == "autograder":
            argv = [sys.executable, "-m", "autograder", *argv[1:]]
        p = subprocess.run(argv, cwd=course, env=env, capture_output=True, text=True, timeout=900)
        assert p.returncode == 0, f"{cmd}\n{p.stdout[-2000:]}\n{p.stderr[-3000:]}"
        for line in expected:
            assert line in p.stdout, f"{cmd}: expected {line!r} in\n{p.stdout}"
    grades = course / "build" / "try" / "grades"
    rows = (grades / "scores.csv").read_text()
    assert "alice" in rows and "bob" in rows
    assert (course / "assignments" / "hello" / "kit" / "ops.py").read_text().count("NotImplementedError") == 1
    assert not (course / "assignments" / "hello" / "hidden_tests.py").exists()
    # The scaffold's written answer: no points from the grader, a row pending manual grading with the
    # student's text, outside the autograded total; the release asks for it; the gradebook leaves it to a person.
    import json
    ref = json.loads((course / "build" / "try" / "reference-results" / "results.json").read_text())
    written = [t for t in ref["tests"] if "manual" in t["tags"]]
    assert [t["name"] for t in written] == ["written: written_why_std"]
    assert "score" not in written[0] and written[0]["extra_data"]["manual_points"] == 5
    assert written[0]["extra_data"]["pending_manual_grading"] is True
    assert "the standard deviation uses every value" in written[0]["extra_data"]["text"]
    assert ref["score"] == 100 and ref["extra_data"]["max_score"] == 100
    assert ref["extra_data"]["manual_points_pending"] == 5
    assert "1 written answer(s) worth 5 more points are graded by hand" in ref["extra_data"]["output_text"]
    rel = json.loads((course / "build" / "try" / "release-results" / "results.json").read_text())
    assert "You have not answered yet" in [t for t in rel["tests"] if "manual" in t["tags"]][0]["extra_data"]["text"]
    assert "by hand (5 points)" in (course / "build" / "try" / "reference-results" / "feedback.html").read_text()
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{grades / 'gradebook.db'}") as gb:
        for student in ("alice", "bob"):
            grade = gb.find_grade("written_why_std", "hello", "hello", student)
            assert grade.needs_manual_grade and grade.auto_score is None and grade.max_score == 5
            assert gb.find_grade("test_normalize", "hello", "hello", student).needs_manual_grade is False
