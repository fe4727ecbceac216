"""`autograder grade-all` / `merge`: a folder of submissions (one sub-folder or zip per student),
graded in parallel by a pool of grader processes (each grades whole submissions, so the trusted
hidden-test module is imported once per process), in deterministic shards.

Outputs in DIR: ``<student>/results.json`` + ``feedback.html`` per student, ``scores.csv`` (or
``scores-I-of-N.csv`` for a shard) with one row per student (scores.py), and ``gradebook.db``
(nbgrader's SQLite gradebook, gradebook.py), with each submission's timestamp (timestamps.py).
Resumable (resume.py): a rerun keeps the students already graded from the same submission by the
same grader; a submission the grader itself failed on is left out and graded by the next run.
"""
from __future__ import annotations

import concurrent.futures as cf
import hashlib
import json
import multiprocessing
import os
import re
import shutil
import time

from . import submission as subm
from ..isolation.sandbox import blas_threads, die_with_parent, remove_leftovers
from .gradebook import merge_gradebooks, write_gradebook
from .listing import list_submissions
from .resume import (PARTIAL, STAMP, failure_of, finished_results, grader_failure, grader_failures,
                     grader_version, move_into_place, submission_hash, write_failure)
from .scores import merge as merge_csvs
from .scores import write_csv
from .timestamps import parse_timestamp, read_timestamps, submission_timestamp


def parse_shard(shard):
    m = re.fullmatch(r"(\d+)/(\d+)", str(shard))
    if not m or not (1 <= int(m.group(1)) <= int(m.group(2))):
        raise subm.GraderError(f"invalid --shard {shard!r}: expected I/N with 1 <= I <= N, e.g. 2/4")
    return int(m.group(1)), int(m.group(2))


def in_shard(sid, index, count):
    """Stable across machines and runs (sha1 of the student id, not Python's salted hash)."""
    return int(hashlib.sha1(sid.encode()).hexdigest(), 16) % count == index - 1


def _grade_one(sid, path, assignment, out_dir, profile, limits, root, stamp=None):
    """Grade into DIR/.partial/<sid>, then move the whole folder to DIR/<sid> (results.json,
    feedback, graded notebook and ``batch.json`` appear together or not at all). ``grade`` handles
    whatever the submission does; an exception out of it (or out of importing it) is the grader's
    own failure: recorded as :func:`grader_failure`, without ``batch.json``."""
    t0 = time.monotonic()
    dest = os.path.join(out_dir, sid)
    work = os.path.join(out_dir, PARTIAL, sid)
    shutil.rmtree(work, ignore_errors=True)       # left by a killed run
    os.makedirs(os.path.dirname(work), exist_ok=True)
    try:
        from .grade import grade
        res = grade(path, assignment, work, profile, limits, root=root)
    except Exception as e:  # noqa: BLE001 - never stop the batch
        res = failure_of(e, time.monotonic() - t0)
        write_failure(work, res)
        stamp = None                              # not a result: a rerun grades it again
    if stamp is not None:
        with open(os.path.join(work, STAMP), "w") as f:
            json.dump(stamp, f, indent=1)
    move_into_place(work, dest)
    return sid, res


def grade_all(submissions, assignment, out, jobs=1, shard="1/1", profile="auto", limits=None,
              root=None, gradebook=True, log=print, resume=True, timestamps=None, gradebook_path=None,
              duedate=None, nbgrader_config=None):
    """Grade every submission of the shard; returns {student: results}. ``resume``: keep the results
    of students already graded from the same submission by the same grader. ``timestamps``: a CSV
    of student,timestamp (else each zip's newest entry / a folder's timestamp.txt).
    ``gradebook_path``: write into this (existing course) gradebook instead of DIR/gradebook.db."""
    a = subm.find_assignment(assignment, root) if isinstance(assignment, str) else assignment   # read once
    index, count = parse_shard(shard)
    ts_override = read_timestamps(timestamps) if timestamps else {}
    if nbgrader_config and not os.path.isfile(nbgrader_config):
        raise subm.GraderError(f"--nbgrader-config {nbgrader_config} does not exist")
    if duedate:
        try:
            duedate = parse_timestamp(duedate).isoformat()
        except (ValueError, OverflowError):
            raise subm.GraderError(f"--duedate {duedate!r} is not a date (e.g. 2026-03-01T17:00:00+00:00)") from None
    todo = [(sid, p) for sid, p in list_submissions(submissions) if in_shard(sid, index, count)]
    os.makedirs(out, exist_ok=True)
    remove_leftovers()      # scratch copies and uid reservations of a batch killed midway (dead graders only)
    results = {}
    t0 = time.monotonic()
    version = grader_version(a, profile, limits)
    stamps = {sid: {"submission": submission_hash(p), "grader": version} for sid, p in todo}
    if resume:
        kept = finished_results(out, stamps)
        if kept:
            log(f"resuming: {len(kept)} submission(s) already graded by this grader, kept "
                f"({', '.join(sorted(kept)[:10])}{', ...' if len(kept) > 10 else ''})")
        results.update(kept)
        todo = [(sid, p) for sid, p in todo if sid not in kept]
    jobs = max(1, int(jobs))
    broken = []
    if todo:
        # forkserver: grader processes start clean even when the caller has TensorFlow's threads
        ctx = multiprocessing.get_context("forkserver")
        with cf.ProcessPoolExecutor(max_workers=min(jobs, len(todo)), mp_context=ctx,
                                    initializer=die_with_parent,
                                    initargs=(os.getpid(), (os.path.abspath(out),), blas_threads(jobs))) as pool:
            futures = {pool.submit(_grade_one, sid, p, a, out, profile, limits, root, stamps[sid]): (sid, p)
                       for sid, p in todo}
            for fut in cf.as_completed(futures):
                try:
                    sid, res = fut.result()
                except Exception:  # noqa: BLE001 - a grader process died (BrokenProcessPool)
                    broken.append(futures[fut])
                    continue
                results[sid] = res
                if sid not in grader_failures({sid: res}):    # failures: listed in the summary
                    log(f"{sid}: {res['score']:g} / {res.get('extra_data', {}).get('max_score', 0):g}")
    for sid, p in broken:   # casualties of a dead pool: once more, alone; then recorded as failed
        try:
            sid, res = _grade_in_subprocess(sid, p, a, out, profile, limits, root, stamps[sid])
        except Exception as e:  # noqa: BLE001
            res = grader_failure(f"the grader process died: {type(e).__name__}: {e}")
            work = os.path.join(out, PARTIAL, sid)
            write_failure(work, res)
            move_into_place(work, os.path.join(out, sid))     # no batch.json: not a result to resume from
        if sid not in grader_failures({sid: res}):
            log(f"{sid}: {res['score']:g} / {res.get('extra_data', {}).get('max_score', 0):g}")
        results[sid] = res
    try:
        os.rmdir(os.path.join(out, PARTIAL))       # empty unless another run is grading here
    except OSError:
        pass
    failed = grader_failures(results)
    graded = {sid: res for sid, res in results.items() if sid not in failed}
    name = "scores.csv" if count == 1 else f"scores-{index}-of-{count}.csv"
    write_csv(graded, os.path.join(out, name))
    if gradebook:
        paths = dict(list_submissions(submissions))
        stamps_at = {sid: ts_override.get(sid) or submission_timestamp(paths[sid]) for sid in graded if sid in paths}
        try:
            write_gradebook(graded, a, gradebook_path or os.path.join(out, "gradebook.db"), out_dir=out,
                            timestamps=stamps_at, duedate=duedate, nbgrader_config=nbgrader_config)
        except Exception as e:  # noqa: BLE001 - the CSV is the primary output
            log(f"gradebook not written: {type(e).__name__}: {e}")
    log(f"graded {len(graded)} submission(s) in {time.monotonic() - t0:.1f} s -> {os.path.join(out, name)}")
    if failed:
        log(f"NOT GRADED: {len(failed)} submission(s), because the grader failed (not the submissions); "
            f"left out of {name} and the gradebook, graded again by the next run:")
        for sid, error in sorted(failed.items()):
            log(f"  {sid}: {error.splitlines()[0][:300] if error else ''}")
    return results


def _grade_in_subprocess(sid, path, a, out, profile, limits, root, stamp=None):
    ctx = multiprocessing.get_context("forkserver")
    with cf.ProcessPoolExecutor(max_workers=1, mp_context=ctx, initializer=die_with_parent,
                                initargs=(os.getpid(), (os.path.abspath(out),), blas_threads(1))) as pool:
        return pool.submit(_grade_one, sid, path, a, out, profile, limits, root, stamp).result()


def merge_files(files, out):
    """`autograder merge`: score CSVs into a CSV, or nbgrader gradebooks (.db) into a gradebook."""
    kinds = {os.path.splitext(str(f))[1].lower() for f in [*files, out]}
    if kinds == {".csv"}:
        return merge_csvs(files, out)
    if kinds == {".db"}:
        return merge_gradebooks(files, out)
    raise subm.GraderError("merge: give score CSVs with --out FILE.csv, or gradebooks (.db) with --out FILE.db "
                           f"(got {', '.join(map(str, files))} --out {out})")
