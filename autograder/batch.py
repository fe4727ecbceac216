"""`autograder grade-all` / `merge`: a folder of submissions (one sub-folder or zip per student),
graded in parallel by a pool of grader processes (each grades whole submissions, so the trusted
hidden-test module is imported once per process), in deterministic shards.

Outputs in DIR: ``<student>/results.json`` + ``feedback.html`` per student, ``scores.csv`` (or
``scores-I-of-N.csv`` for a shard) with one row per student, and ``gradebook.db`` (nbgrader's
SQLite gradebook: ``nbgrader export`` and friends read it).
"""
from __future__ import annotations

import concurrent.futures as cf
import csv
import hashlib
import json
import multiprocessing
import os
import re
import time
import traceback

from . import submission as subm
from .sandbox import die_with_parent

SKIP = {".DS_Store", "__MACOSX", "Thumbs.db"}


def student_id(entry):
    sid = entry[:-4] if entry.lower().endswith(".zip") else entry
    return re.sub(r"[^A-Za-z0-9_.@+-]", "_", sid) or "student"


def list_submissions(folder):
    """[(student id, path)] sorted by id: every sub-folder and file (zip) of ``folder``."""
    if not os.path.isdir(folder):
        raise subm.GraderError(f"submissions folder {folder} does not exist")
    out, seen = [], set()
    for entry in sorted(os.listdir(folder)):
        if entry in SKIP or entry.startswith("."):
            continue
        sid = student_id(entry)
        while sid in seen:
            sid += "_"
        seen.add(sid)
        out.append((sid, os.path.join(folder, entry)))
    return out


def parse_shard(shard):
    m = re.fullmatch(r"(\d+)/(\d+)", str(shard))
    if not m or not (1 <= int(m.group(1)) <= int(m.group(2))):
        raise subm.GraderError(f"invalid --shard {shard!r}: expected I/N with 1 <= I <= N, e.g. 2/4")
    return int(m.group(1)), int(m.group(2))


def in_shard(sid, index, count):
    """Stable across machines and runs (sha1 of the student id, not Python's salted hash)."""
    return int(hashlib.sha1(sid.encode()).hexdigest(), 16) % count == index - 1


def _grade_one(sid, path, assignment, out_dir, profile, limits, root):
    from .grade import grade
    t0 = time.monotonic()
    dest = os.path.join(out_dir, sid)
    try:
        res = grade(path, assignment, dest, profile, limits, root=root)
    except Exception as e:  # noqa: BLE001 - never stop the batch
        res = {"score": 0.0, "execution_time": round(time.monotonic() - t0, 2), "tests": [],
               "output": f"the grader failed on this submission: {type(e).__name__}: {e}",
               "extra_data": {"max_score": 0.0, "error": traceback.format_exc(limit=4)}}
        os.makedirs(dest, exist_ok=True)
        with open(os.path.join(dest, "results.json"), "w") as f:
            json.dump(res, f, indent=2)
    return sid, res


def grade_all(submissions, assignment, out, jobs=1, shard="1/1", profile="auto", limits=None,
              root=None, gradebook=True, log=print):
    """Grade every submission of the shard; returns {student: results}."""
    a = subm.find_assignment(assignment, root)
    index, count = parse_shard(shard)
    todo = [(sid, p) for sid, p in list_submissions(submissions) if in_shard(sid, index, count)]
    os.makedirs(out, exist_ok=True)
    results = {}
    t0 = time.monotonic()
    jobs = max(1, int(jobs))
    broken = []
    if todo:
        # forkserver: grader processes start clean even when the caller has TensorFlow's threads
        ctx = multiprocessing.get_context("forkserver")
        with cf.ProcessPoolExecutor(max_workers=min(jobs, len(todo)), mp_context=ctx,
                                    initializer=die_with_parent,
                                    initargs=(os.getpid(), (os.path.abspath(out),))) as pool:
            futures = {pool.submit(_grade_one, sid, p, a, out, profile, limits, root): (sid, p) for sid, p in todo}
            for fut in cf.as_completed(futures):
                try:
                    sid, res = fut.result()
                except Exception:  # noqa: BLE001 - a grader process died (BrokenProcessPool)
                    broken.append(futures[fut])
                    continue
                results[sid] = res
                log(f"{sid}: {res['score']:g} / {res.get('extra_data', {}).get('max_score', 0):g}")
    for sid, p in broken:   # casualties of a dead pool: once more, alone; then recorded as failed
        try:
            sid, res = _grade_in_subprocess(sid, p, a, out, profile, limits, root)
        except Exception as e:  # noqa: BLE001
            res = {"score": 0.0, "tests": [], "output": f"the grader process died: {type(e).__name__}: {e}",
                   "extra_data": {"max_score": 0.0}}
            os.makedirs(os.path.join(out, sid), exist_ok=True)
            with open(os.path.join(out, sid, "results.json"), "w") as f:
                json.dump(res, f, indent=2)
        results[sid] = res
    name = "scores.csv" if count == 1 else f"scores-{index}-of-{count}.csv"
    write_csv(results, os.path.join(out, name))
    if gradebook:
        try:
            write_gradebook(results, a, os.path.join(out, "gradebook.db"))
        except Exception as e:  # noqa: BLE001 - the CSV is the primary output
            log(f"gradebook not written: {type(e).__name__}: {e}")
    log(f"graded {len(results)} submission(s) in {time.monotonic() - t0:.1f} s -> {os.path.join(out, name)}")
    return results


def _grade_in_subprocess(sid, path, a, out, profile, limits, root):
    ctx = multiprocessing.get_context("forkserver")
    with cf.ProcessPoolExecutor(max_workers=1, mp_context=ctx, initializer=die_with_parent,
                                initargs=(os.getpid(), (os.path.abspath(out),))) as pool:
        return pool.submit(_grade_one, sid, path, a, out, profile, limits, root).result()


def test_columns(results):
    cols = []
    for res in results.values():
        for t in res.get("tests", []):
            if t["name"] not in cols:
                cols.append(t["name"])
    return cols


def write_csv(results, path):
    cols = test_columns(results)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["student", "score", "max_score", *cols])
        for sid in sorted(results):
            res = results[sid]
            by_name = {t["name"]: t["score"] for t in res.get("tests", [])}
            w.writerow([sid, f"{res['score']:g}", f"{res.get('extra_data', {}).get('max_score', 0):g}",
                        *[f"{by_name[c]:g}" if c in by_name else "" for c in cols]])
    return path


def merge(csvs, out):
    """Merge score CSVs (shards) into one, one row per student, columns united, sorted by student."""
    rows, cols = {}, ["student", "score", "max_score"]
    for path in csvs:
        with open(path, newline="") as f:
            for row in csv.DictReader(f):
                for c in row:
                    if c not in cols:
                        cols.append(c)
                if row["student"] in rows:
                    raise subm.GraderError(f"student {row['student']} appears in more than one CSV ({path})")
                rows[row["student"]] = row
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        for sid in sorted(rows):
            w.writerow({c: rows[sid].get(c, "") for c in cols})
    return out


def write_gradebook(results, a, path):
    """nbgrader's gradebook: the assignment with a notebook for the notebook's grade cells and one
    ("hidden_tests") for the hidden tests; each student's auto scores."""
    import sys
    from nbgrader.api import Gradebook
    bindir = os.path.dirname(sys.executable)     # nbgrader runs the `alembic` command on first use
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
    url = f"sqlite:///{os.path.abspath(path)}"
    import warnings
    with warnings.catch_warnings(), Gradebook(url) as gb:
        warnings.simplefilter("ignore")
        gb.update_or_create_assignment(a.name)
        cells = {}
        for res in results.values():
            for t in res.get("tests", []):
                nb_name = a.name if "notebook" in t.get("tags", []) else "hidden_tests"
                gid = t.get("extra_data", {}).get("grade_id") or t["name"]
                cells[(nb_name, gid)] = float(t["max_score"])
        for (nb_name, gid), max_score in sorted(cells.items()):
            gb.update_or_create_notebook(nb_name, a.name)
            gb.update_or_create_grade_cell(gid, nb_name, a.name, max_score=max_score, cell_type="code")
        for sid, res in sorted(results.items()):
            try:
                gb.update_or_create_student(sid)
            except Exception:  # noqa: BLE001
                pass
            try:
                gb.remove_submission(a.name, sid)
            except Exception:  # noqa: BLE001
                pass
            gb.add_submission(a.name, sid)
            for t in res.get("tests", []):
                nb_name = a.name if "notebook" in t.get("tags", []) else "hidden_tests"
                gid = t.get("extra_data", {}).get("grade_id") or t["name"]
                grade = gb.find_grade(gid, nb_name, a.name, sid)
                grade.auto_score = float(t["score"])
            gb.db.commit()
    return path
