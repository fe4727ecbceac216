"""Limits calibrated on the reference solution: the one home of ``calibration.json`` (its format, where it
lives, how it is read and written). `autograder calibrate` (calibrate.py) grades the reference and
:func:`record`\\ s its times; the grader reads them with :meth:`Calibration.load`.

Where it lives: :func:`source_path` in the instructor's sources (``solutions/NAME/calibration.json``,
written by :func:`record`), which the release copies into the grader bundle; grading reads
:func:`bundle_path` only (a course graded from a package has no ``solutions/``).

Format: ``{"profile", "fingerprint", "recorded", "total", "cells": {cell key: s}, "tests": {grade id: s}}``;
``fingerprint`` (:func:`fingerprint`) ties the times to the grader's notebook and hidden tests, so a
changed assignment falls back to the profile's limits until it is calibrated again.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time

from ..authoring.spec import Assignment
from ..isolation.sandbox import Limits

FILE = "calibration.json"
PROFILE = "smoke"        # the profile the reference is timed in
CAL_MULTIPLE = 10.0      # a student's cell or hidden test may take this many times the reference's ...
CAL_FLOOR = 20.0         # ... plus this many seconds (machines differ: Gradescope's are slower)
CAL_TOTAL_FLOOR = 120.0  # the submission: the multiple of the reference's total plus this


def source_path(a: Assignment):
    """Where :func:`record` writes (the instructor's sources; the release copies it into the bundle)."""
    return os.path.join(a.source_dir, FILE)


def bundle_path(a: Assignment):
    """What grading reads (the grader bundle, beside the hidden tests)."""
    return os.path.join(a.bundle_dir, FILE)


def fingerprint(a: Assignment):
    """What the recorded timings depend on: the grader's notebook (code cells) and the hidden tests."""
    h = hashlib.sha256()
    for c in a.source_notebook().cells:
        if c.get("cell_type") == "code":
            h.update(c.get("source", "").encode() + b"\0")
    if os.path.isfile(a.hidden_tests):
        with open(a.hidden_tests, "rb") as f:
            h.update(f.read())
    return h.hexdigest()


def _read(path):
    with open(path) as f:
        return json.load(f)


def is_fresh(a: Assignment):
    """The instructor's recorded times exist and fit the assignment as it is now."""
    try:
        data = _read(source_path(a))
    except (OSError, ValueError):
        return False
    return data.get("fingerprint") == fingerprint(a) and data.get("profile") == PROFILE


def record(a: Assignment, total, cells, tests):
    """Write the reference's times (seconds) for ``a``; returns what was written."""
    data = {"profile": PROFILE, "fingerprint": fingerprint(a), "recorded": time.strftime("%Y-%m-%d", time.gmtime()),
            "total": round(total, 2),
            "cells": {k: round(v, 2) for k, v in sorted(cells.items())},
            "tests": {k: round(v, 2) for k, v in sorted(tests.items())}}
    with open(source_path(a), "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
        f.write("\n")
    return data


@dataclasses.dataclass
class Calibration:
    """Per-cell, per-test and per-submission limits derived from the reference's recorded times
    (``CAL_FLOOR + CAL_MULTIPLE * t``, never above the profile's limits). Only for the profile it was
    recorded in; stale or missing data falls back to the profile's limits (``describe`` says why)."""
    data: dict = None
    why: str = ""

    @classmethod
    def load(cls, a: Assignment, profile):
        path = bundle_path(a)
        if not os.path.isfile(path):
            return cls(None, "none recorded (profile limits)")
        try:
            data = _read(path)
        except (OSError, ValueError) as e:
            return cls(None, f"unreadable ({e}; profile limits)")
        if data.get("profile") != profile:
            return cls(None, f"recorded for the {data.get('profile')} profile (profile limits)")
        if data.get("fingerprint") != fingerprint(a):
            return cls(None, "stale: the notebook or hidden tests changed since (profile limits); run "
                             f"`autograder calibrate {a.name}`")
        return cls(data, f"calibrated on the reference ({data.get('recorded', '?')})")

    def describe(self):
        return self.why

    @staticmethod
    def _limit(t):
        return CAL_FLOOR + CAL_MULTIPLE * float(t)

    def cell_limits(self, limits: Limits):
        if not self.data:
            return {}
        out = {k: min(limits.cell_timeout, self._limit(t)) for k, t in self.data.get("cells", {}).items()}
        if out:   # a cell the reference does not have (the student's own): the longest reference cell's limit
            out["*"] = max(out.values())
        return out

    def test_limit(self, gid, limits: Limits):
        t = (self.data or {}).get("tests", {}).get(gid)
        return limits.total_timeout if t is None else min(limits.total_timeout, self._limit(t))

    def total_limit(self, limits: Limits):
        t = (self.data or {}).get("total")
        return limits.total_timeout if t is None else min(limits.total_timeout, CAL_TOTAL_FLOOR + CAL_MULTIPLE * t)
