"""Plots in the feedback: a test's learning curves and image grids (a conv layer's filters).

- ``autograder.hidden.series`` / ``filter_tiles`` turn what a student's process reported into plot data,
  and never fail on odd data (feedback is never a reason to lose points);
- ``Score(images=...)`` and ``HiddenTestFailure(curves=..., images=...)`` reach the feedback: a hidden
  test's plots in its own row, a trusted check's in the notebook cell it guards, pass or fail;
- results.json (Gradescope) shows each row's image grid as an embedded PNG in that row's output only;
  feedback.html shows every row's curves and grids under the row's name.
"""
import base64
import re
import types

import numpy as np

from autograder.results.feedback import feedback_html, gradescope_format
from autograder.grading.grade import _record_plots, _verdict
from autograder.hidden import HiddenTest, HiddenTestFailure, Score, filter_tiles, series


def test_series_keeps_finite_numbers_only():
    assert series([2.3, np.float32(0.5), 1]) == [2.3, 0.5, 1.0]
    assert series(np.arange(3)) == [0.0, 1.0, 2.0]
    assert series(["a", 1]) == [] and series(None) == [] and series([1.0, float("nan")]) == []
    assert len(series(range(5000))) == 1000


def test_filter_tiles_of_hwio_kernels():
    k = np.arange(3 * 3 * 1 * 16, dtype=float).reshape(3, 3, 1, 16)
    tiles = filter_tiles(k)
    assert tiles.shape == (16, 3, 3)
    np.testing.assert_array_equal(tiles[5], k[:, :, 0, 5])
    rgb = np.random.default_rng(0).standard_normal((5, 5, 3, 8))
    assert filter_tiles(rgb).shape == (8, 5, 5, 3)
    np.testing.assert_array_equal(filter_tiles(rgb)[2], rgb[:, :, :, 2])
    assert filter_tiles(np.zeros((3, 3, 16, 100))).shape == (64, 3, 3)           # channel 0, at most 64
    for bad in [None, "x", np.zeros((3, 3)), np.full((3, 3, 1, 2), np.nan), [[1, 2], [3]]]:
        assert filter_tiles(bad) is None


def _check(name="check training", guards=("test_training",)):
    return HiddenTest(name, 0.0, None, "check_training", "visible", guards, "build_cnn", "check")


def test_a_checks_plots_go_to_the_cell_it_guards_pass_or_fail():
    g = types.SimpleNamespace(curves={}, images={}, leaderboard={})
    tiles = filter_tiles(np.ones((3, 3, 1, 4)))
    frac, msg = _verdict(Score(1.0, "ok", curves={"loss": [2.0, 1.0]}, images={"filters": tiles}), _check(), g)
    assert (frac, msg) == (1.0, "ok")
    assert g.curves == {"notebook: test_training: loss": [2.0, 1.0]}
    assert list(g.images) == ["notebook: test_training: filters"] and np.shape(g.images[
        "notebook: test_training: filters"]) == (4, 3, 3)
    failure = HiddenTestFailure("expected at least 95%, got 40.00%", curves={"loss": [2.0, 1.9]})
    assert str(failure) == "expected at least 95%, got 40.00%"
    _record_plots(g, _check("check overfit", ("test_overfit",)), failure.curves, failure.images)
    assert g.curves["notebook: test_overfit: loss"] == [2.0, 1.9]
    hidden = HiddenTest("training check", 8.0, None, "hidden_training", "after_due_date", (), "t", "hidden")
    _verdict(Score(0.5, "half", curves={"accuracy": [0.1]}), hidden, g)
    assert g.curves["training check: accuracy"] == [0.1]


def _results():
    return {"score": 9.0, "output": "Assignment a: 6 / 6 points from the tests shown now.\nProfile: smoke.",
            "tests": [{"name": "notebook: test_training", "score": 6.0, "max_score": 6.0, "status": "passed",
                       "visibility": "visible", "extra_data": {"grade_id": "test_training"}, "output": "passed"},
                      {"name": "training check", "score": 3.0, "max_score": 3.0, "status": "passed",
                       "visibility": "after_due_date", "extra_data": {"grade_id": ""}, "output": "passed"}],
            "leaderboard": [], "extra_data": {"assignment": "a", "max_score": 9}}


def _pngs(text):
    found = re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", text)
    assert all(base64.b64decode(p).startswith(b"\x89PNG\r\n\x1a\n") for p in found)
    return found


def test_image_grids_in_their_rows_output_and_in_feedback_html():
    curves = {"notebook: test_training: training loss": [2.1, 0.4, 0.1],
              "notebook: test_training: test accuracy (computed by the grader)": [0.6, 0.9, 0.97]}
    images = {"notebook: test_training: first Conv2D layer's filters after training":
              filter_tiles(np.random.default_rng(1).standard_normal((3, 3, 1, 16))).tolist(),
              "training check: RGB filters": filter_tiles(np.random.default_rng(2).standard_normal((5, 5, 3, 4)))}
    res = gradescope_format(_results(), curves, images=images)
    mine, hidden = res["tests"]
    assert len(_pngs(mine["output"])) == 2                     # the curves, then the filters
    assert "**first Conv2D layer's filters after training**" in mine["output"]
    assert "| 3 | 0.1 | 0.97 |" in mine["output"]
    assert len(_pngs(hidden["output"])) == 1 and "RGB filters" in hidden["output"]   # its own image only
    assert "data:image" not in res["output"]
    page = feedback_html(res, curves, images)
    assert len(_pngs(page)) == 3
    assert page.index("<h3>notebook: test_training</h3>") < page.index("first Conv2D layer&#x27;s filters") \
        < page.index("<h3>training check</h3>")
