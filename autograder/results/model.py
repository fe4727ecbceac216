"""One submission's results, as one immutable object (:class:`Results`), made by the grader from its own
data (:func:`make_results`). Each test's figures are drawn to PNG bytes there, once; the renderers
(:mod:`autograder.results.render`: results.json, feedback.html, the CI summary) are functions of this
object and never read one another's output."""
from __future__ import annotations

import dataclasses
from types import MappingProxyType
from typing import Mapping

from .figures import Figure, curve_png, draw, tiles_png

CURVES_TITLE = "Training curve"


@dataclasses.dataclass(frozen=True)
class TestResult:
    """One row: a notebook grade cell, a hidden test or a written answer (``score`` None: a person grades it
    later; its points are ``extra_data["manual_points"]``). ``text`` is the plain message; ``curves``
    ({label: values}) and ``images`` ({title: tiles}) are the test's own, ``curve_figure`` (every curve in one
    plot) and ``image_figures`` (one per grid) their PNGs."""
    __test__ = False    # not a pytest test class
    name: str
    number: str
    text: str = ""
    score: float | None = None
    max_score: float = 0.0
    passed: bool = False
    visibility: str = "visible"
    tags: tuple = ()
    extra_data: Mapping = dataclasses.field(default_factory=dict)
    curves: Mapping = dataclasses.field(default_factory=dict)
    images: Mapping = dataclasses.field(default_factory=dict)
    curve_figure: Figure | None = None
    image_figures: tuple = ()

    @property
    def manual(self):
        return self.score is None

    @property
    def status(self):
        return "passed" if self.passed else "failed"


@dataclasses.dataclass(frozen=True)
class Results:
    """The whole submission: ``notes`` (the top-level output; a note may span lines), the tests in order, the
    leaderboard ((name, value) pairs), ``extra_data`` (the grader's data as results.json carries it:
    ``assignment``, ``max_score``, ``profile``, ``curves``, ``images``, timings, ...) and ``other_figure``:
    curves recorded for no listed test (feedback.html shows them last)."""
    score: float
    tests: tuple = ()
    notes: tuple = ()
    extra_data: Mapping = dataclasses.field(default_factory=dict)
    leaderboard: tuple = ()
    execution_time: float | None = None
    other_figure: Figure | None = None

    @property
    def assignment(self):
        return self.extra_data.get("assignment")

    @property
    def max_score(self):
        return self.extra_data.get("max_score", 0)

    @property
    def output_text(self):
        """The top-level output as plain text."""
        return "\n".join(self.notes)

    @classmethod
    def from_json(cls, data):
        """The results of a results.json read from disk (any writer's: the grader's, a grader failure's,
        run_autograder's fallback), without figures: what :func:`~autograder.results.render.to_summary_markdown`
        needs (scores, plain texts)."""
        extra = data.get("extra_data", {})
        tests = []
        for t in data.get("tests", []):
            t_extra = t.get("extra_data") or {}
            tests.append(TestResult(t["name"], str(t.get("number", "")), t_extra.get("text", t.get("output", "")),
                                    t.get("score"), t.get("max_score", 0), t.get("status") == "passed",
                                    t.get("visibility", "visible"), tuple(t.get("tags", ())),
                                    MappingProxyType(dict(t_extra))))
        return cls(data.get("score", 0), tuple(tests), (str(extra.get("output_text", data.get("output", ""))),),
                   MappingProxyType(dict(extra)), tuple((e["name"], e["value"]) for e in data.get("leaderboard", [])),
                   data.get("execution_time"))


def _own(name, recorded):
    """The curves (or images) a test recorded (the grader names them "TEST NAME: label")."""
    prefix = f"{name}: "
    return {k[len(prefix):]: v for k, v in (recorded or {}).items() if k.startswith(prefix)}


def make_results(score, tests, notes, extra_data, leaderboard=(), execution_time=None, curves=None, images=None):
    """The :class:`Results` of a grading. ``tests``: :class:`TestResult` without figures; ``curves`` and
    ``images``: what the grader recorded, keyed "TEST NAME: label", each given to the test it names. Every
    figure is drawn here, once: a test's curves as one plot, each image grid as one; curves of no listed
    test as one more plot."""
    drawn = {}      # test name -> (curves, images, curve figure, image figures): a name's figures drawn once
    rows, shown = [], set()
    for t in tests:
        if t.name not in drawn:
            mine, pics = _own(t.name, curves), _own(t.name, images)
            drawn[t.name] = (mine, pics, draw(CURVES_TITLE, curve_png, mine) if mine else None,
                             tuple(draw(title, tiles_png, tiles) for title, tiles in pics.items()))
        mine, pics, curve_fig, image_figs = drawn[t.name]
        shown.update(f"{t.name}: {k}" for k in mine)
        rows.append(dataclasses.replace(t, curves=MappingProxyType(mine), images=MappingProxyType(pics),
                                        curve_figure=curve_fig, image_figures=image_figs))
    other = {k: v for k, v in (curves or {}).items() if k not in shown}
    return Results(score, tuple(rows), tuple(notes), MappingProxyType(dict(extra_data)), tuple(leaderboard),
                   execution_time, draw(CURVES_TITLE, curve_png, other) if other else None)
