"""Resuming `autograder grade-all`: each student's outputs are written to ``DIR/.partial/<student>``
and moved into place with ``batch.json`` (the submission's content hash and the grader's version); a
rerun keeps the students whose ``batch.json`` matches and regrades the rest, so a killed batch loses at
most the submissions in flight. A submission the grader itself failed on (its process died, a module
it needs does not import) gets a results.json saying so and no ``batch.json``: it is not in scores.csv
or the gradebook, the summary names it, grade-all exits with status 3, and the next run grades it.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil

from ..paths import AUTOGRADER_DIR

PARTIAL = ".partial"      # DIR/.partial/<student>: a submission being graded (never read as a result)
STAMP = "batch.json"      # DIR/<student>/batch.json: what these results were graded from
GRADER_FAILED = "grader_failed"   # results.json extra_data key: the grader failed, not the submission
EXIT_GRADER_FAILED = 3    # grade-all's exit status when some submissions could not be graded (see __main__)


def grader_failure(error, seconds=0.0, detail=""):
    """The results.json of a submission the grader could not grade (the grader process died, a module
    it needs does not import, ...): no score of the student's, never stamped (a rerun grades it), left
    out of scores.csv and the gradebook, named in grade-all's summary (exit status 3)."""
    return {"score": 0.0, "execution_time": round(seconds, 2), "tests": [],
            "output": f"not graded: the grader failed (not this submission): {error}",
            "extra_data": {"max_score": 0.0, GRADER_FAILED: error, **({"error": detail} if detail else {})}}


def failure_of(exc, seconds=0.0):
    """:func:`grader_failure` of an exception the grader raised (its type and message; the traceback's end
    in ``extra_data.error``). Call it inside the ``except`` block."""
    import traceback
    return grader_failure(f"{type(exc).__name__}: {exc}", seconds, traceback.format_exc(limit=4))


def grader_failures(results):
    """{student: what failed} for the results that are grader failures (:func:`grader_failure`)."""
    return {sid: res["extra_data"][GRADER_FAILED] for sid, res in results.items()
            if res.get("extra_data", {}).get(GRADER_FAILED)}


def write_failure(work, res):
    """A grader failure's results.json alone in ``work`` (whatever a failed grade left there goes)."""
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    with open(os.path.join(work, "results.json"), "w") as f:
        json.dump(res, f, indent=2)


def move_into_place(work, dest):
    old = None
    if os.path.lexists(dest):
        old = f"{work}.old-{os.getpid()}"
        shutil.rmtree(old, ignore_errors=True)
        os.rename(dest, old)
    os.rename(work, dest)
    if old:
        shutil.rmtree(old, ignore_errors=True)


def submission_hash(path):
    """sha256 of a submission's content: a zip's bytes, or a folder's relative paths and file
    contents (symlinks by their target, never followed)."""
    h = hashlib.sha256()
    if not os.path.isdir(path):
        try:
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
        except OSError as e:
            h.update(f"unreadable: {e}".encode())
        return h.hexdigest()
    for dirpath, dirnames, files in os.walk(path):
        dirnames.sort()
        for name in sorted(files + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]):
            p = os.path.join(dirpath, name)
            h.update(os.path.relpath(p, path).encode() + b"\0")
            if os.path.islink(p):
                h.update(b"link:" + os.readlink(p).encode())
            else:
                try:
                    with open(p, "rb") as f:
                        h.update(f.read())
                except OSError as e:
                    h.update(f"unreadable: {e}".encode())
            h.update(b"\0")
    return h.hexdigest()


def grader_version(a, profile="auto", limits=None):
    """What decides a grade besides the submission: the autograder package's code, the grader
    bundle's digest (build/grader/NAME/bundle.json: notebook, hidden tests, stencil), the profile
    and limits asked for."""
    h = hashlib.sha256()
    pkg = AUTOGRADER_DIR   # the whole package, every room
    for dirpath, dirnames, files in os.walk(pkg):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for name in sorted(files):
            if name.endswith(".py"):
                p = os.path.join(dirpath, name)
                h.update(os.path.relpath(p, pkg).encode() + b"\0")
                with open(p, "rb") as f:
                    h.update(f.read())
    try:
        with open(os.path.join(a.bundle_dir, "bundle.json")) as f:
            h.update(json.load(f).get("digest", "").encode())
    except (OSError, ValueError):
        h.update(b"no bundle")
    h.update(f"{profile}|{limits!r}".encode())
    return h.hexdigest()


def _finished(out, sid, stamp):
    """The results already in DIR/<sid> if they were graded from this submission by this grader."""
    try:
        with open(os.path.join(out, sid, STAMP)) as f:
            old = json.load(f)
        if old.get("submission") != stamp["submission"] or old.get("grader") != stamp["grader"]:
            return None
        with open(os.path.join(out, sid, "results.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def finished_results(out, stamps):
    """{student: results} of the students of ``stamps`` ({student: stamp}) whose results in DIR/<student>
    were graded from this submission by this grader (:func:`_finished`): what a rerun keeps."""
    kept = {sid: _finished(out, sid, stamp) for sid, stamp in stamps.items()}
    return {sid: res for sid, res in kept.items() if res is not None}
