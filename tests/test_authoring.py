"""docs/authoring.md, followed to the letter: every `$ ` command of its console blocks runs, in order,
in a scratch course root, and every output line the page shows after a command is what it printed
(the reference scores 100, the untouched release 0)."""
import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
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
