"""`autograder grade-all` / `merge`: a folder of submissions (one sub-folder or zip per student),
graded in parallel by a pool of grader processes (each grades whole submissions, so the trusted
hidden-test module is imported once per process), in deterministic shards.

Outputs in DIR: ``<student>/results.json`` + ``feedback.html`` per student, ``scores.csv`` (or
``scores-I-of-N.csv`` for a shard) with one row per student, and ``gradebook.db`` (nbgrader's
SQLite gradebook: ``nbgrader export``, ``generate_feedback`` and formgrader read it, with the
``autograded/<student>/<assignment>/`` notebooks nbgrader renders beside it; see write_gradebook).

Resumable: each student's outputs are written to ``DIR/.partial/<student>`` and moved into place
with ``batch.json`` (the submission's content hash and the grader's version); a rerun skips the
students whose ``batch.json`` matches and regrades the rest, so a killed batch loses at most the
submissions in flight. A submission the grader itself failed on (its process died, a module it needs
does not import) gets a results.json saying so and no ``batch.json``: it is not in scores.csv or the
gradebook, the summary names it, grade-all exits with status 3, and the next run grades it.
"""
from __future__ import annotations

import concurrent.futures as cf
import csv
import hashlib
import json
import multiprocessing
import os
import re
import shutil
import time
import traceback
import zipfile
from datetime import datetime, timezone

from . import submission as subm
from ..isolation.sandbox import die_with_parent
from ..paths import AUTOGRADER_DIR

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


def grader_failures(results):
    """{student: what failed} for the results that are grader failures (:func:`grader_failure`)."""
    return {sid: res["extra_data"][GRADER_FAILED] for sid, res in results.items()
            if res.get("extra_data", {}).get(GRADER_FAILED)}


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
        res = grader_failure(f"{type(e).__name__}: {e}", time.monotonic() - t0, traceback.format_exc(limit=4))
        _write_failure(work, res)
        stamp = None                              # not a result: a rerun grades it again
    if stamp is not None:
        with open(os.path.join(work, STAMP), "w") as f:
            json.dump(stamp, f, indent=1)
    _move_into_place(work, dest)
    return sid, res


def _write_failure(work, res):
    """A grader failure's results.json alone in ``work`` (whatever a failed grade left there goes)."""
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    with open(os.path.join(work, "results.json"), "w") as f:
        json.dump(res, f, indent=2)


def _move_into_place(work, dest):
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
    results = {}
    t0 = time.monotonic()
    version = grader_version(a, profile, limits)
    stamps = {sid: {"submission": submission_hash(p), "grader": version} for sid, p in todo}
    if resume:
        kept = {sid: _finished(out, sid, stamps[sid]) for sid, _ in todo}
        kept = {sid: res for sid, res in kept.items() if res is not None}
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
                                    initargs=(os.getpid(), (os.path.abspath(out),))) as pool:
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
            _write_failure(work, res)
            _move_into_place(work, os.path.join(out, sid))     # no batch.json: not a result to resume from
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
                                initargs=(os.getpid(), (os.path.abspath(out),))) as pool:
        return pool.submit(_grade_one, sid, path, a, out, profile, limits, root, stamp).result()


def test_columns(results):
    cols = []
    for res in results.values():
        for t in res.get("tests", []):
            if "score" in t and t["name"] not in cols:   # a written answer has no score until a person gives it
                cols.append(t["name"])
    return cols


def write_csv(results, path):
    cols = test_columns(results)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["student", "score", "max_score", *cols])
        for sid in sorted(results):
            res = results[sid]
            by_name = {t["name"]: t["score"] for t in res.get("tests", []) if "score" in t}
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


# ---------------------------------------------------------------------------------------------
# Submission timestamps (nbgrader's late penalties)
# ---------------------------------------------------------------------------------------------
def read_timestamps(path):
    """{student: aware UTC datetime} from a CSV of student,timestamp (a header row is optional)."""
    out = {}
    try:
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
    except OSError as e:
        raise subm.GraderError(f"--timestamps {path}: {e}") from None
    for n, row in enumerate(rows, 1):
        if not row or not "".join(row).strip() or row[0].strip().startswith("#"):
            continue
        if len(row) < 2:
            raise subm.GraderError(f"--timestamps {path}, line {n}: expected student,timestamp, got {row!r}")
        sid, text = row[0].strip(), row[1].strip()
        if n == 1 and sid.lower() == "student":
            continue
        try:
            out[student_id(sid)] = parse_timestamp(text)
        except ValueError:
            raise subm.GraderError(f"--timestamps {path}, line {n}: {text!r} is not a timestamp "
                                   f"(e.g. 2026-03-01T17:05:00+00:00; no zone = UTC)") from None
    return out


def parse_timestamp(text):
    """ISO 8601 (nbgrader's timestamp.txt format too); a time without a zone is UTC."""
    from nbgrader.utils import parse_utc
    t = parse_utc(text.strip())
    return t.replace(tzinfo=timezone.utc) if t.tzinfo is None else t.astimezone(timezone.utc)


def _zip_entry_time(info):
    """An entry's UTC mtime: the extended-timestamp field (0x5455, written by git archive and
    Info-ZIP) when present, else the DOS date/time read as UTC."""
    extra, i = info.extra, 0
    while i + 4 <= len(extra):
        kind, size = int.from_bytes(extra[i:i + 2], "little"), int.from_bytes(extra[i + 2:i + 4], "little")
        body = extra[i + 4:i + 4 + size]
        if kind == 0x5455 and len(body) >= 5 and body[0] & 1:
            return datetime.fromtimestamp(int.from_bytes(body[1:5], "little", signed=True), timezone.utc)
        i += 4 + size
    return datetime(*info.date_time, tzinfo=timezone.utc)


def submission_timestamp(path):
    """When a submission was made: its ``timestamp.txt`` (nbgrader's convention, in a folder or a
    zip), else a zip's newest entry; None for a folder without timestamp.txt."""
    try:
        if os.path.isdir(path):
            stamp = os.path.join(path, "timestamp.txt")
            if os.path.isfile(stamp):
                with open(stamp) as f:
                    return parse_timestamp(f.read())
            return None
        with zipfile.ZipFile(path) as z:
            infos = [i for i in z.infolist() if not i.is_dir()]
            for i in infos:
                if os.path.basename(i.filename) == "timestamp.txt" and i.file_size < 200:
                    return parse_timestamp(z.read(i).decode(errors="replace"))
            times = [_zip_entry_time(i) for i in infos]
            return max(times) if times else None
    except (OSError, ValueError, zipfile.BadZipFile):
        return None


# ---------------------------------------------------------------------------------------------
# nbgrader gradebook
# ---------------------------------------------------------------------------------------------
HIDDEN_NB = "hidden_tests"
AUTO_COMMENT = "Autograder:"


def _nbgrader_env():
    import sys
    bindir = os.path.dirname(sys.executable)     # nbgrader runs the `alembic` command on first use
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")


def _test_key(a_nb, t):
    nb_name = a_nb if {"notebook", "manual"} & set(t.get("tags", [])) else HIDDEN_NB
    return nb_name, t.get("extra_data", {}).get("grade_id") or t["name"]


def hidden_notebook(results):
    """The hidden tests as an nbgrader notebook: one locked "autograder tests" cell per hidden test
    (its grade_id, points), so nbgrader can store, render and export them like notebook cells."""
    import nbformat
    tests = {}
    for res in results.values():
        for t in res.get("tests", []):
            if not {"notebook", "manual"} & set(t.get("tags", [])):
                tests.setdefault(_test_key("", t)[1], t)
    cells = [nbformat.v4.new_markdown_cell(
        "# Hidden tests\nRun by the autograder outside the student's notebook.",
        metadata={"nbgrader": {"grade": False, "solution": False, "locked": True, "grade_id": "hidden_intro",
                               "schema_version": 3}})]
    for gid, t in tests.items():
        part = t.get("extra_data", {}).get("part")
        cells.append(nbformat.v4.new_code_cell(
            f"# hidden test: {t['name']}" + (f" (part {part})" if part else ""),
            metadata={"nbgrader": {"grade": True, "solution": False, "locked": True, "grade_id": gid,
                                   "points": float(t["max_score"]), "schema_version": 3}}))
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def _with_outputs(nb, res, nb_name):
    """A copy of ``nb`` whose grade cells show the student's test messages (hidden notebook)."""
    import copy
    import nbformat
    nb = copy.deepcopy(nb)
    by_gid = {_test_key(nb_name, t)[1]: t for t in res.get("tests", []) if _test_key(nb_name, t)[0] == nb_name}
    for cell in nb.cells:
        t = by_gid.get(cell.metadata.get("nbgrader", {}).get("grade_id"))
        if t is not None and cell.cell_type == "code":
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=(
                f"{t['score']:g} / {t['max_score']:g}\n{t.get('output', '')}"))]
    return nb


def _comments(source_nb, res, nb_name):
    """{solution cell: comment}: the results of the grade cells that follow it (up to the next
    solution cell), so formgrader and the feedback show the autograder's word beside the answer."""
    from .notebook.cells import is_written_answer
    by_gid = {_test_key(nb_name, t)[1]: t for t in res.get("tests", [])}
    out, current = {}, None
    for cell in source_nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if is_written_answer(cell):
            out[meta["grade_id"]] = ["a written answer, graded by hand"]   # later grade cells are not about it
            current = None
        elif meta.get("solution"):
            current = meta["grade_id"]
            out[current] = []
        elif meta.get("grade") and current is not None:
            t = by_gid.get(meta["grade_id"])
            if t is None:
                out[current].append(f"{meta['grade_id']}: not run")
            else:
                first = (t.get("output") or "").strip().splitlines()
                out[current].append(f"{meta['grade_id']}: {t['score']:g} / {t['max_score']:g}"
                                    + (f" ({first[0][:200]})" if first else ""))
    return {gid: AUTO_COMMENT + (" " + "; ".join(lines) if lines else
                                 " this answer is checked by later tests and the hidden tests.")
            for gid, lines in out.items()}


def _save_cells(nb, notebook_id, assignment, url):
    """nbgrader's own SaveCells preprocessor: the notebook's grade, solution, task and source cells."""
    from nbgrader.preprocessors import SaveCells
    SaveCells().preprocess(nb, {"nbgrader": {"notebook": notebook_id, "assignment": assignment, "db_url": url}})


def _late_penalties(gb, submissions, nbgrader_config):
    """nbgrader's AssignLatePenalties logic and plugin (the course's LateSubmissionPlugin settings,
    or its own ``AssignLatePenalties.plugin_class``) on every submitted notebook, in one session:
    late penalties land where `nbgrader export` and the feedback read them."""
    from traitlets.config import Config
    from nbgrader.preprocessors import AssignLatePenalties
    cfg = Config()
    if nbgrader_config:
        from traitlets.config.loader import PyFileConfigLoader
        path = os.path.abspath(nbgrader_config)
        if not os.path.isfile(path):
            raise subm.GraderError(f"--nbgrader-config {nbgrader_config} does not exist")
        cfg = PyFileConfigLoader(os.path.basename(path), os.path.dirname(path)).load_config()
    assigner = AssignLatePenalties(config=cfg)
    assigner.init_plugin()
    for sub in submissions:
        late = sub.total_seconds_late
        for snb in sub.notebooks:
            snb.late_submission_penalty = None
            if late > 0:
                penalty = assigner.plugin_inst.late_submission_penalty(sub.student.id, snb.score, late)
                if penalty is not None:
                    snb.late_submission_penalty = assigner._check_late_penalty(snb, penalty)


def merge_files(files, out):
    """`autograder merge`: score CSVs into a CSV, or nbgrader gradebooks (.db) into a gradebook."""
    kinds = {os.path.splitext(str(f))[1].lower() for f in [*files, out]}
    if kinds == {".csv"}:
        return merge(files, out)
    if kinds == {".db"}:
        return merge_gradebooks(files, out)
    raise subm.GraderError("merge: give score CSVs with --out FILE.csv, or gradebooks (.db) with --out FILE.db "
                           f"(got {', '.join(map(str, files))} --out {out})")


def write_gradebook(results, a, path, out_dir=None, timestamps=None, duedate=None, nbgrader_config=None):
    """nbgrader's gradebook, as nbgrader itself would leave it after `autograde`, through nbgrader's API:

    - the assignment's notebook (from the grader bundle, by nbgrader's SaveCells: grade, solution
      and source cells) and a ``hidden_tests`` notebook (one grade cell per hidden test);
    - per student: the submission (its timestamp: late penalties by nbgrader's AssignLatePenalties
      and the course's LateSubmissionPlugin), every grade's auto score with ``needs_manual_grade``
      off (a grader's manual score is kept), an auto comment on each solution cell;
    - ``autograded/<student>/<assignment>/`` beside the gradebook: the graded notebook and
      hidden_tests.ipynb (with the test messages), and timestamp.txt, what `nbgrader
      generate_feedback` and formgrader render.
    Writing into an existing course gradebook (``path``) adds/updates these students only."""
    import warnings
    import nbformat
    from nbgrader.api import Gradebook, MissingEntry
    _nbgrader_env()
    path = os.path.abspath(path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    url = f"sqlite:///{path}"
    timestamps = timestamps or {}
    nb_name = os.path.splitext(os.path.basename(a.source_nb))[0]
    source = a.source_notebook()            # SaveCells gets its own copy; the spec never changes
    hidden = hidden_notebook(results)
    course = os.path.dirname(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Gradebook(url) as gb:
            kwargs = {"duedate": duedate} if duedate else {}
            gb.update_or_create_assignment(a.name, **kwargs)
        _save_cells(source, nb_name, a.name, url)
        if len(hidden.cells) > 1:
            _save_cells(hidden, HIDDEN_NB, a.name, url)
        with Gradebook(url) as gb:
            for sid, res in sorted(results.items()):
                try:
                    gb.find_student(sid)
                except MissingEntry:
                    gb.add_student(sid)
                ts = timestamps.get(sid)
                try:
                    sub = gb.find_submission(a.name, sid)
                    sub.timestamp = ts.replace(tzinfo=None) if ts else None
                except MissingEntry:
                    sub = gb.add_submission(a.name, sid, **({"timestamp": ts.isoformat()} if ts else {}))
                scores = {_test_key(nb_name, t): t for t in res.get("tests", [])}
                for snb in sub.notebooks:
                    comments = _comments(source, res, nb_name) if snb.name == nb_name else {}
                    for grade in snb.grades:
                        t = scores.get((snb.name, grade.name))
                        if t is not None and "manual" in t.get("tags", []):
                            grade.auto_score = None               # a written answer: a person grades it
                            grade.needs_manual_grade = grade.manual_score is None
                            continue
                        grade.auto_score = float(t["score"]) if t else 0.0
                        grade.needs_manual_grade = False
                    for comment in snb.comments:     # a grader's manual comment still wins
                        comment.auto_comment = comments.get(comment.name)
                gb.db.commit()
            _late_penalties(gb, [gb.find_submission(a.name, sid) for sid in sorted(results)], nbgrader_config)
            gb.db.commit()
    for sid, res in results.items():
        dest = os.path.join(course, "autograded", sid, a.name)
        os.makedirs(dest, exist_ok=True)
        graded = os.path.join(out_dir or course, sid, f"{nb_name}.graded.ipynb")
        nb = nbformat.read(graded, as_version=4) if os.path.isfile(graded) else source
        nbformat.write(nb, os.path.join(dest, f"{nb_name}.ipynb"))
        if len(hidden.cells) > 1:
            nbformat.write(_with_outputs(hidden, res, HIDDEN_NB), os.path.join(dest, f"{HIDDEN_NB}.ipynb"))
        ts = timestamps.get(sid)
        if ts:
            with open(os.path.join(dest, "timestamp.txt"), "w") as f:
                f.write(ts.strftime("%Y-%m-%d %H:%M:%S.%f %Z"))
    return path


def merge_gradebooks(dbs, out):
    """Shard gradebooks into one (nbgrader's API): the assignment structure from the first, every
    submission with its timestamp, grades, comments and late penalties, and each shard's
    autograded/ notebooks beside it. A student in two shards is an error, as for the CSVs."""
    import warnings
    from nbgrader.api import Gradebook, MissingEntry
    _nbgrader_env()
    out = os.path.abspath(out)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    seen = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for db in dbs:
            if not os.path.isfile(db):
                raise subm.GraderError(f"gradebook {db} does not exist")
            with Gradebook(f"sqlite:///{os.path.abspath(db)}") as src, Gradebook(f"sqlite:///{out}") as dst:
                for asg in src.assignments:
                    try:
                        dst.find_assignment(asg.name)
                    except MissingEntry:
                        dst.add_assignment(asg.name, **({"duedate": asg.duedate} if asg.duedate else {}))
                    for nb in asg.notebooks:
                        try:
                            dst.find_notebook(nb.name, asg.name)
                        except MissingEntry:
                            dst.add_notebook(nb.name, asg.name, kernelspec=nb.kernelspec)
                        for c in nb.grade_cells:
                            dst.update_or_create_grade_cell(c.name, nb.name, asg.name, max_score=c.max_score,
                                                            cell_type=c.cell_type)
                        for c in nb.solution_cells:
                            dst.update_or_create_solution_cell(c.name, nb.name, asg.name)
                        for c in nb.task_cells:
                            dst.update_or_create_task_cell(c.name, nb.name, asg.name, max_score=c.max_score,
                                                           cell_type=c.cell_type)
                        for c in nb.source_cells:
                            dst.update_or_create_source_cell(c.name, nb.name, asg.name, cell_type=c.cell_type,
                                                             locked=c.locked, source=c.source, checksum=c.checksum)
                    for sub in asg.submissions:
                        key = (asg.name, sub.student.id)
                        if key in seen:
                            raise subm.GraderError(f"student {sub.student.id} appears in more than one gradebook "
                                                   f"({seen[key]} and {db})")
                        seen[key] = db
                        try:
                            dst.find_student(sub.student.id)
                        except MissingEntry:
                            dst.add_student(sub.student.id, first_name=sub.student.first_name,
                                            last_name=sub.student.last_name, email=sub.student.email)
                        try:
                            dst.remove_submission(asg.name, sub.student.id)
                        except MissingEntry:
                            pass
                        new = dst.add_submission(asg.name, sub.student.id,
                                                 **({"timestamp": sub.timestamp.isoformat()} if sub.timestamp else {}))
                        old_nbs = {n.name: n for n in sub.notebooks}
                        for nnb in new.notebooks:
                            onb = old_nbs.get(nnb.name)
                            if onb is None:
                                continue
                            nnb.late_submission_penalty = onb.late_submission_penalty
                            grades = {g.name: g for g in onb.grades}
                            for g in nnb.grades:
                                if g.name in grades:
                                    o = grades[g.name]
                                    g.auto_score, g.manual_score = o.auto_score, o.manual_score
                                    g.extra_credit, g.needs_manual_grade = o.extra_credit, o.needs_manual_grade
                            comments = {c.name: c for c in onb.comments}
                            for c in nnb.comments:
                                if c.name in comments:
                                    c.auto_comment = comments[c.name].auto_comment
                                    c.manual_comment = comments[c.name].manual_comment
                dst.db.commit()
            auto = os.path.join(os.path.dirname(os.path.abspath(db)), "autograded")
            if os.path.isdir(auto) and os.path.abspath(auto) != os.path.join(os.path.dirname(out), "autograded"):
                shutil.copytree(auto, os.path.join(os.path.dirname(out), "autograded"), dirs_exist_ok=True)
    return out
