"""Limits calibrated on the reference: `autograder calibrate` records the reference's time per cell and
per hidden test; the grader then allows each a multiple of that plus a floor (never more than the
profile), so an infinite loop costs seconds, not the profile's 300 s per cell; stale data is ignored."""
import json
import os
import time

import pytest

from autograder.grading import calibration as cal_mod
from autograder.grading.calibrate import calibrate
from autograder.grading.calibration import is_fresh, source_path as calibration_path
from autograder.grading.grade import PROFILE_LIMITS, grade
from autograder.authoring.spec import find_assignment
from tests.hostile import cases
from tests.hostile.toy import make_course

pytestmark = pytest.mark.slow(seconds=45)   # end to end (tests/__init__.py); seconds: its cost, measured (heaviest start first)


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = make_course(str(tmp_path_factory.mktemp("cal") / "course"))
    data = calibrate("toy", root, log=lambda *a: None)
    return root, data


def test_calibration_records_cells_and_tests(course):
    root, data = course
    a = find_assignment("toy", root)
    assert is_fresh(a)
    with open(calibration_path(a)) as f:
        assert json.load(f) == data
    assert data["profile"] == "smoke"
    assert {"setup", "square", "test_square", "cube", "test_cube", "test_double"} <= set(data["cells"])
    assert {"check_square", "check_cube", "check_double", "hidden_hidden_square", "hidden_hidden_double"} == \
        set(data["tests"])
    assert all(0 <= v < 60 for v in data["cells"].values())


def test_infinite_loop_costs_the_calibrated_limit(course, tmp_path, monkeypatch):
    root, _ = course
    monkeypatch.setattr(cal_mod, "CAL_FLOOR", 6.0)
    sub = cases.infinite_loop(os.path.join(root, "assignments", "toy"), str(tmp_path / "loop"))
    t0 = time.monotonic()
    res = grade(sub, "toy", str(tmp_path / "out"), "smoke", PROFILE_LIMITS["smoke"], root=root)
    elapsed = time.monotonic() - t0
    assert res["extra_data"]["calibration"].startswith("calibrated on the reference")
    tests = {t["name"]: t for t in res["tests"]}
    assert "longer than 6 s" in tests["notebook: test_square"]["output"]
    assert "timed out after 6 s" in tests["square on a matrix"]["output"]
    assert tests["notebook: test_cube"]["score"] == 2 and res["score"] == 2
    # three hanging cells and two hanging calls at ~6 s each, plus kernel restarts: far below the 300 s
    # per cell of the uncalibrated smoke profile
    assert elapsed < 150, elapsed


def test_stale_calibration_falls_back_to_profile_limits(course, tmp_path):
    root, _ = course
    a = find_assignment("toy", root)
    path = calibration_path(a)
    with open(path) as f:
        data = json.load(f)
    try:
        with open(path, "w") as f:
            json.dump(dict(data, fingerprint="0" * 64), f)
        assert not is_fresh(a)
        a = find_assignment("toy", root)      # the grader's solution-free bundle picks up the change
        cal = cal_mod.Calibration.load(a, "smoke")
        assert cal.describe().startswith("stale") and "autograder calibrate toy" in cal.describe()
        assert cal.cell_limits(PROFILE_LIMITS["smoke"]) == {}
        assert cal.total_limit(PROFILE_LIMITS["smoke"]) == PROFILE_LIMITS["smoke"].total_timeout
        assert "recorded for the smoke profile" in cal_mod.Calibration.load(a, "full").describe()
    finally:
        with open(path, "w") as f:
            json.dump(data, f)


def test_limits_never_exceed_the_profile(course):
    root, _ = course
    cal = cal_mod.Calibration({"cells": {"a": 1000.0, "b": 0.5}, "tests": {"t": 1000.0}, "total": 5000.0}, "x")
    lim = PROFILE_LIMITS["smoke"]
    limits = cal.cell_limits(lim)
    assert limits["a"] == lim.cell_timeout and limits["b"] == cal_mod.CAL_FLOOR + 5.0
    assert limits["*"] == lim.cell_timeout
    assert cal.test_limit("t", lim) == lim.total_timeout and cal.test_limit("unknown", lim) == lim.total_timeout
    assert cal.total_limit(lim) == lim.total_timeout


@pytest.mark.parametrize("name", ["beras_cnn", "cnn_architectures"])
def test_committed_calibration_is_fresh(name):
    a = find_assignment(name)
    assert is_fresh(a), f"{name}: the recorded timings are stale: run `autograder calibrate {name}` (make release does)"
