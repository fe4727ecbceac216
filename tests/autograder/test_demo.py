"""`make demo`'s pipeline (autograder.demo) on a course whose manifest asks for it: the reference and
the untouched release of each demo assignment graded side by side, a score table per test."""
import os

from autograder.demo import demo, demo_assignments
from tests.hostile.toy import make_course
import pytest

pytestmark = pytest.mark.slow   # end to end (see tests/__init__.py): left out of `make check`


def test_demo_grades_what_the_manifests_ask_for(tmp_path, capsys):
    course = make_course(str(tmp_path / "course"))
    assert demo_assignments(course) == []                      # the toy's manifest says demo = false
    manifest = os.path.join(course, "solutions", "toy", "assignment.toml")
    with open(manifest) as f:
        text = f.read()
    with open(manifest, "w") as f:
        f.write(text.replace("demo = false", "demo = true"))
    assert [a.name for a in demo_assignments(course)] == ["toy"]
    assert demo(out=str(tmp_path / "out"), jobs=2, with_side_by_side=False, with_release=False, root=course) == 0
    printed = capsys.readouterr().out
    assert "graded toy reference: 10 / 10" in printed and "graded toy release: 0 / 10" in printed
    total = [line for line in printed.splitlines() if line.strip().startswith("TOTAL")]
    assert total and "10/10" in total[0].replace(" ", "") and "0/10" in total[0].replace(" ", "")
    for kind in ("reference", "release"):
        assert os.path.isfile(tmp_path / "out" / "toy" / kind / "results.json")
