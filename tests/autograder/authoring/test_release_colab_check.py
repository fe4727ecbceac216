"""autograder.authoring.colab_check (run by hand: it installs TensorFlow): its plan and argument handling, fast."""
import pytest

from autograder.authoring import colab_check as cc

REQS = """# beras_cnn: ...
numpy>=2.0.2,<2.5
tensorflow>=2.19.0,<2.22
keras>=3.10.0,<3.16
scikit-learn==1.9.1
"""
MORE = """numpy>=2.0.2,<2.5
tensorflow-datasets>=4.9.9,<4.10
"""


def test_plan_installs_each_lower_bound_or_exact_pin():
    assert cc.plan([REQS, MORE]) == ["keras==3.10.0", "numpy==2.0.2", "scikit-learn==1.9.1",
                                     "tensorflow==2.19.0", "tensorflow-datasets==4.9.9"]


def test_pins_override_and_are_checked_against_the_ranges():
    pins = cc.plan([REQS], ["tensorflow==2.20.0", "NumPy==1.26.4"])
    assert "tensorflow==2.20.0" in pins and "numpy==1.26.4" in pins and "tensorflow==2.19.0" not in pins
    assert cc.check_pins_in_range([REQS], pins) == ["numpy==1.26.4 is outside 'numpy>=2.0.2,<2.5'"]
    with pytest.raises(ValueError, match="PKG==VERSION"):
        cc.plan([REQS], ["tensorflow>=2.20"])


def test_plan_rejects_unbounded_or_disagreeing_requirements():
    with pytest.raises(ValueError, match="no lower bound"):
        cc.plan(["keras<4\n"])
    with pytest.raises(ValueError, match="disagree"):
        cc.plan(["numpy==2.0.2\n", "numpy==2.1.0\n"])


def test_in_range():
    assert cc.in_range("2.21.0", {">=": "2.19.0", "<": "2.22"})
    assert not cc.in_range("2.22.0", {">=": "2.19.0", "<": "2.22"})
    assert not cc.in_range("2.18.1", {">=": "2.19.0", "<": "2.22"})
    assert cc.in_range("1.9.1", {"==": "1.9.1"})


def test_dry_run_prints_the_plan_of_the_released_requirements(tmp_path, capsys):
    for name, text in (("a", REQS), ("b", MORE)):
        (tmp_path / "assignments" / name).mkdir(parents=True)
        (tmp_path / "assignments" / name / "requirements.txt").write_text(text)
    assert cc.main(["--root", str(tmp_path), "--dry-run", "--pin", "keras==3.11.0"]) == 0
    out = capsys.readouterr().out
    assert "assignments: a b" in out
    assert "install: keras==3.11.0 numpy==2.0.2 scikit-learn==1.9.1 tensorflow==2.19.0 tensorflow-datasets==4.9.9" in out
    assert cc.main(["b", "--root", str(tmp_path), "--dry-run"]) == 0
    assert "install: numpy==2.0.2 tensorflow-datasets==4.9.9" in capsys.readouterr().out
    with pytest.raises(ValueError, match="unknown assignment"):
        cc.main(["nope", "--root", str(tmp_path), "--dry-run"])


def test_summary_passes_only_when_every_visible_test_passes():
    good = {"seconds": 3, "cells": [{"id": "t1", "grade": True, "error": []}, {"id": "x", "grade": False, "error": []}]}
    bad = {"seconds": 3, "cells": [{"id": "t1", "grade": True, "error": ["AssertionError: no"]}]}
    text, ok = cc.summarize(["a"], {"a": good})
    assert ok and "a: 1/1 visible test cells pass, 0 other cells raised" in text
    text, ok = cc.summarize(["a", "b"], {"a": good, "b": bad})
    assert not ok and "FAIL t1: AssertionError: no" in text
    assert not cc.summarize(["a"], {"a": {"failed": "kernel died", "seconds": 1}})[1]
    assert not cc.summarize(["a"], {"a": {"seconds": 1, "cells": []}})[1]      # no test ran: not a pass
