"""`autograder calibrate NAME`: record the reference solution's time per notebook cell and per hidden
test, so the grader's limits fit the assignment instead of one global number (the file's format, place
and reading: calibration.py).

The reference submission is graded as a student's would be (same sandbox, smoke profile limits); its
``cell_seconds`` / ``test_seconds`` / total go into ``solutions/NAME/calibration.json`` with a
fingerprint of the grader's notebook and hidden tests. The grader then allows each cell and hidden test
``CAL_FLOOR + CAL_MULTIPLE * t`` seconds (never more than the profile's limits) and the submission
``CAL_TOTAL_FLOOR + CAL_MULTIPLE * total``, so an infinite loop costs seconds to a minute, not the
profile's 300 s per cell. ``autograder release`` re-calibrates an assignment whose fingerprint changed.
"""
from __future__ import annotations

import os
import tempfile
import time

from . import submission as subm
from .calibration import PROFILE, is_fresh, record, source_path
from .grade import PROFILE_LIMITS, grade
from ..authoring.reference import reference_submission


def calibrate(name, root=None, log=print):
    """Grade the reference of ``name``, write its timings; raises GraderError unless it scores full marks."""
    a = subm.find_assignment(name, root)
    with tempfile.TemporaryDirectory(prefix=f"calibrate-{name}-") as tmp:
        sub = reference_submission(a, os.path.join(tmp, "reference"))
        t0 = time.monotonic()
        res = grade(sub, a, os.path.join(tmp, "out"), PROFILE, PROFILE_LIMITS[PROFILE], calibrated=False)
        total = time.monotonic() - t0
    extra = res.get("extra_data", {})
    if res["score"] < extra.get("max_score", 0) - 1e-9:
        failed = [f"{t['name']}: {t['output'][:200]}" for t in res["tests"]
                  if t.get("score", 0) < t.get("max_score", 0)]
        raise subm.GraderError(f"calibration of {name}: the reference scores {res['score']:g} / "
                               f"{extra.get('max_score'):g}, not full marks; nothing recorded. Failing: "
                               + "; ".join(failed[:5]))
    data = record(a, extra.get("student_seconds", total), extra.get("cell_seconds", {}), extra.get("test_seconds", {}))
    log(f"calibrated {name}: reference {data['total']:.0f} s of student code over {len(data['cells'])} cells and "
        f"{len(data['tests'])} hidden tests -> {source_path(a)}")
    return data


def calibrate_stale(names=None, root=None, log=print):
    """Calibrate every assignment (or ``names``) whose recorded timings are missing or stale."""
    done = []
    for name in names or subm.valid_assignments(root):
        a = subm.find_assignment(name, root)
        if is_fresh(a):
            continue
        calibrate(name, root, log)
        done.append(name)
    return done
