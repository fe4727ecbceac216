"""Plots in the feedback: a test's learning curves and image grids (a conv layer's filters).

- ``autograder.hidden.series`` / ``filter_tiles`` turn what a student's process reported into plot data,
  and never fail on odd data (feedback is never a reason to lose points);
- ``Score(images=...)`` and ``HiddenTestFailure(curves=..., images=...)`` reach the feedback: a hidden
  test's plots in its own row, a trusted check's in the notebook cell it guards, pass or fail;
- results.json (Gradescope) shows each row's image grid as an embedded PNG in that row's output only;
  feedback.html shows every row's curves and grids under the row's name;
- each figure is drawn once, when the grader makes its one ``Results`` object: results.json and
  feedback.html embed the same PNG bytes, and the CI summary reads the same from the object as from
  results.json on disk.
"""
import base64
import dataclasses
import json
import re
import types

import matplotlib.figure
import numpy as np
import pytest

from autograder.results import Results, make_results, to_gradescope, to_html, to_summary_markdown
from autograder.grading import grade as gr
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


def _made(res, curves=None, images=None):
    """``res`` (a results.json-like dict with plain-text outputs) as the Results the grader would make."""
    r = Results.from_json(res)
    return make_results(r.score, r.tests, r.output_text.splitlines(), r.extra_data, r.leaderboard,
                        curves=curves, images=images)


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
    made = _made(_results(), curves, images)
    res = to_gradescope(made)
    mine, hidden = res["tests"]
    assert len(_pngs(mine["output"])) == 2                     # the curves, then the filters
    assert "**first Conv2D layer's filters after training**" in mine["output"]
    assert "| 3 | 0.1 | 0.97 |" in mine["output"]
    assert len(_pngs(hidden["output"])) == 1 and "RGB filters" in hidden["output"]   # its own image only
    assert "data:image" not in res["output"]
    page = to_html(made)
    assert len(_pngs(page)) == 3
    assert page.index("<h3>notebook: test_training</h3>") < page.index("first Conv2D layer&#x27;s filters") \
        < page.index("<h3>training check</h3>")


def _grading(tmp_path):
    """What the grader holds at the end (grading/grade.py's ``Grading``), for a training check guarding a
    notebook cell and a hidden test with curves and an image grid each."""
    g = types.SimpleNamespace(curves={}, images={}, leaderboard={}, messages=["a note\nwith details"], fatal=False,
                              profile="smoke", profile_reason="smoke (requested)", timings={"run_notebook": 1.5},
                              student_seconds=2.0, run=None, test_seconds={}, calibration=None, nb=None,
                              assignment=types.SimpleNamespace(name="a"), out=str(tmp_path / "out"))
    rng = np.random.default_rng(3)
    hidden = HiddenTest("training check", 3.0, None, "hidden_training", "after_due_date", (), "t", "hidden")
    _verdict(Score(0.5, "expected 60%, got 30%", curves={"accuracy": [0.1, 0.3]},
                   images={"filters": filter_tiles(rng.standard_normal((3, 3, 1, 8)))}), hidden, g)
    failure = HiddenTestFailure("too slow", curves={"loss": [2.0, 1.5], "val loss": [2.1, 1.9]},
                                images={"RGB filters": filter_tiles(rng.standard_normal((3, 3, 3, 4)))})
    _record_plots(g, _check(), failure.curves, failure.images)
    g.tests = [gr.Test("notebook: test_training", 0.0, 6.0, "no credit: too slow", "notebook", "test_training"),
               gr.Test("training check", 1.5, 3.0, "expected 60%, got 30%", "hidden", "hidden_training",
                       "after_due_date")]
    return g


def test_each_figure_is_drawn_once_and_every_rendering_embeds_the_same_png(tmp_path, monkeypatch):
    saved = []
    real_savefig = matplotlib.figure.Figure.savefig

    def counting_savefig(fig, *args, **kwargs):
        saved.append(fig)
        return real_savefig(fig, *args, **kwargs)
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", counting_savefig)
    g = _grading(tmp_path)
    results = gr.make_results(g, 3.0)
    assert len(saved) == 4          # two tests x (their curves in one plot + one image grid)
    data = gr.write_results(g, results)
    assert len(saved) == 4          # results.json and feedback.html draw nothing more
    with open(tmp_path / "out" / "results.json") as f:
        assert json.load(f) == data
    page = (tmp_path / "out" / "feedback.html").read_text()
    drawn = [f.png for t in results.tests for f in [t.curve_figure, *t.image_figures] if f is not None]
    assert len(drawn) == 4 and len(set(drawn)) == 4
    in_json = [base64.b64decode(p) for t in data["tests"] for p in _pngs(t["output"])]
    assert in_json == drawn and [base64.b64decode(p) for p in _pngs(page)] == drawn
    assert "**RGB filters**" in data["tests"][0]["output"] and "| 2 | 1.5 | 1.9 |" in data["tests"][0]["output"]
    # the CI summary: the same from the object as from results.json read back from disk
    assert to_summary_markdown(results) == to_summary_markdown(data)
    assert "| training check | 1.5 / 3 | expected 60%, got 30% |" in to_summary_markdown(data)
    assert len(saved) == 4
    with pytest.raises(dataclasses.FrozenInstanceError):
        results.score = 9.0


def test_a_figure_that_cannot_be_drawn_says_so_in_both_renderings():
    res = _results()
    made = _made(res, images={"training check: filters": [[1.0, 2.0], [3.0]]})      # ragged: not an image
    figure = made.tests[1].image_figures[0]
    assert figure.png is None and "ValueError" in figure.error
    md = to_gradescope(made)["tests"][1]["output"]
    assert "**filters**\n\n(the image could not be drawn: ValueError" in md
    assert "the image could not be drawn: ValueError" in to_html(made)


def test_the_ci_summary_of_any_writers_results_json():
    """run_autograder's fallback (setup did not complete) has no extra_data, no plain texts: still a table."""
    fallback = {"score": 0, "output": "The autograder could not run (status 1); please contact the staff.",
                "tests": []}
    assert to_summary_markdown(fallback) == ("## Autograder: 0 / 0\n\n| Test | Score | Message |\n| --- | --- | --- |\n\n"
                                             "```\nThe autograder could not run (status 1); please contact the staff.\n```")
    written = {"score": 1.0, "tests": [{"name": "written: why", "output": "**md**", "tags": ["manual"],
                                        "extra_data": {"manual_points": 2.0, "text": "plain | text"}}],
               "extra_data": {"max_score": 3, "output_text": "notes"}}
    assert "| written: why | by hand (2 points) | plain \\| text |" in to_summary_markdown(written)
