"""nbgrader's gradebook (``gradebook.db``), written through nbgrader's API as nbgrader's `autograde` would
leave it (`nbgrader export`, ``generate_feedback`` and formgrader read it, with the
``autograded/<student>/<assignment>/`` notebooks nbgrader renders beside it; see write_gradebook),
nbgrader's late penalties, and the merge of shard gradebooks (`autograder merge GRADEBOOK.db...`)."""
from __future__ import annotations

import os
import shutil

from ..errors import GraderError

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
            raise GraderError(f"--nbgrader-config {nbgrader_config} does not exist")
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
                raise GraderError(f"gradebook {db} does not exist")
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
                            raise GraderError(f"student {sub.student.id} appears in more than one gradebook "
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
