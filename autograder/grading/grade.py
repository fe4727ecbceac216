"""`autograder grade`: a pipeline of small named steps (nbgrader-preprocessor style).

    unpack -> locate -> restore_notebook -> assemble -> scan_frameworks -> run_notebook
           -> run_hidden_tests -> apply_policies -> (always) write_results

Each step reads and writes one :class:`Grading` context. A step that fails for a reason of the
submission records a message and the pipeline goes on where possible; whatever happens,
``results.json`` and ``feedback.html`` are written (by the grader, after every student process has
been killed, into an output dir the sandbox cannot see).
"""
from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import random
import sys
import threading
import time
import traceback

import numpy as np

# jsonschema (via nbformat) compiles an IRI grammar at import when rfc3987_syntax is installed
# (~3 s); notebooks never use IRI formats, so the grader skips that optional checker.
sys.modules.setdefault("rfc3987_syntax", None)

from . import submission as subm
from ..authoring.manifest import PROFILE_DEFAULTS
from ..isolation.sandbox import Limits, Sandbox, caps, guarantees, isolation_mode
from ..policy import framework_paths
from .calibration import Calibration
from .student import UNINSPECTABLE, Student, absent_note, safe_type

PROFILE_LIMITS = {name: Limits(**limits) for name, limits in PROFILE_DEFAULTS.items()}   # without a manifest


def profile_limits(a: subm.Assignment, profile, overrides=None) -> Limits:
    """The limits of ``profile`` from the assignment's manifest, with ``overrides`` ({field: value}) on top."""
    lim = Limits(**a.manifest.profile(profile).limits)
    return dataclasses.replace(lim, **{k: v for k, v in (overrides or {}).items() if v is not None})


@dataclasses.dataclass
class Test:
    name: str
    score: float
    max_score: float
    output: str = ""
    kind: str = "notebook"          # notebook | hidden
    grade_id: str = ""
    visibility: str = "visible"
    calls: list = dataclasses.field(default_factory=list)
    seconds: float = 0.0
    part: str = ""
    guards: tuple = ()
    ok: bool = True                 # a hidden test / check: did it pass in full
    manual_points: float = 0.0      # a written answer (kind "manual"): points a person gives later

    def as_result(self, number):
        """This row for :func:`autograder.results.make_results` (scores rounded as results.json shows them)."""
        from ..results import TestResult
        if self.kind == "manual":   # no score yet: Gradescope shows the row without one
            return TestResult(self.name, str(number), self.output, visibility=self.visibility, tags=("manual",),
                              extra_data={"grade_id": self.grade_id, "manual_points": self.manual_points,
                                          "pending_manual_grading": True})
        return TestResult(self.name, str(number), self.output, round(self.score, 4), round(self.max_score, 4),
                          self.score >= self.max_score - 1e-9, self.visibility, (self.kind,),
                          {"grade_id": self.grade_id, **({"part": self.part} if self.part else {})})


@dataclasses.dataclass
class Grading:
    submission: str
    assignment: subm.Assignment
    out: str
    profile: str
    limits: Limits
    profile_reason: str = ""
    messages: list = dataclasses.field(default_factory=list)
    tests: list = dataclasses.field(default_factory=list)
    leaderboard: dict = dataclasses.field(default_factory=dict)
    curves: dict = dataclasses.field(default_factory=dict)
    images: dict = dataclasses.field(default_factory=dict)
    timings: dict = dataclasses.field(default_factory=dict)
    student_seconds: float = 0.0      # time spent running student code (notebook, hidden calls)
    sandbox: Sandbox = None
    sub_root: str = None
    notebook_path: str = None
    nb: object = None
    run: object = None
    forbidden_hits: list = dataclasses.field(default_factory=list)
    checks: list = dataclasses.field(default_factory=list)        # trusted checks' rows (no points)
    framework_use: dict = dataclasses.field(default_factory=dict)  # part -> what the grader saw
    calibration: object = None
    test_seconds: dict = dataclasses.field(default_factory=dict)
    worker_info: dict = None
    worker_absent: tuple = ()           # the frameworks the notebook worker could not import
    fatal: bool = False
    deadline: float = 0.0
    hidden_module: object = None


# ---------------------------------------------------------------------------------------------
# Profile
# ---------------------------------------------------------------------------------------------
def gpu_visible():
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) == "":
        return False
    return any(os.path.exists(f"/dev/nvidia{i}") for i in range(8))


def data_present(name):
    """Is the tensorflow-datasets data set ``name`` prepared locally (nothing is downloaded)?"""
    base = os.environ.get("TFDS_DATA_DIR") or os.path.expanduser("~/tensorflow_datasets")
    return os.path.isdir(os.path.join(base, name))


def resolve_profile(requested, manifest=None):
    """(profile, reason). ``auto`` picks "full" when the assignment has one and what it needs is here
    (a GPU if its manifest says ``gpu = true``, each of its ``data`` sets prepared), else "smoke"."""
    valid = list(manifest.profiles) if manifest is not None else list(PROFILE_DEFAULTS)
    if requested != "auto" and requested not in valid:
        raise subm.GraderError(f"unknown profile {requested!r}; valid profiles: {', '.join(['auto'] + valid)}")
    if requested != "auto":
        return requested, f"{requested} (requested)"
    full = manifest.profiles.get("full") if manifest is not None else None
    if full is None:
        return "smoke", "smoke (auto: the assignment has no full profile)"
    missing = (["no GPU visible"] if full.gpu and not gpu_visible() else []) + \
        [f"{d} not found in TFDS_DATA_DIR" for d in full.data if not data_present(d)]
    if missing:
        return "smoke", f"smoke (auto: {'; '.join(missing)})"
    needs = (["a GPU is visible"] if full.gpu else []) + [f"{d} is present" for d in full.data]
    return "full", f"full (auto: {' and '.join(needs) or 'nothing required'})"


# ---------------------------------------------------------------------------------------------
# Steps
# ---------------------------------------------------------------------------------------------
def step_unpack(g: Grading):
    manifest = g.assignment.manifest
    absent = framework_paths(manifest.forbidden) if manifest.stencil and manifest.forbidden else ()
    g.sandbox = Sandbox(g.limits, hide=[g.out, g.assignment.root, os.path.dirname(os.path.abspath(g.submission))],
                        env={"AUTOGRADER_PROFILE": g.profile}, absent=absent)
    unpacked = os.path.join(g.sandbox.boot_dir, "unpacked")
    os.makedirs(unpacked)
    try:
        subm.unpack(g.submission, unpacked)
    except subm.SubmissionError as e:
        g.messages.append(f"Your submission could not be read: {e}")
        g.fatal = True
        return
    g.sub_root = unpacked


def step_locate(g: Grading):
    root, nb_path, note = subm.locate_notebook(g.sub_root, g.assignment)
    g.sub_root, g.notebook_path = root, nb_path
    if note:
        g.messages.append(note)


def step_restore_notebook(g: Grading):
    import nbformat
    from .notebook import restore_cells
    source, release = g.assignment.source_notebook(), g.assignment.release_notebook()   # read once, in the spec
    student = None
    if g.notebook_path:
        try:
            with open(g.notebook_path, encoding="utf-8") as f:
                student = nbformat.read(f, as_version=4)
        except Exception as e:  # noqa: BLE001 - any unreadable notebook
            g.messages.append(f"Your notebook {os.path.basename(g.notebook_path)} could not be read "
                              f"({type(e).__name__}: {str(e)[:200]}); it was graded as if it were the untouched "
                              "release (your other files are still graded).")
    nb, changes = restore_cells(student, source, release)
    if student is not None:
        g.messages.extend(changes)
    g.nb = nb


def step_assemble(g: Grading):
    notes = subm.assemble(g.sub_root, g.assignment, g.sandbox.work)
    g.messages.extend(notes)
    import nbformat
    nbformat.write(g.nb, os.path.join(g.sandbox.work, g.assignment.notebook))
    g.sandbox.prepare()


def step_scan_frameworks(g: Grading):
    if not g.assignment.has_stencil or not g.assignment.manifest.forbidden:
        return
    files = subm.student_beras_files(g.assignment)
    g.forbidden_hits = [f"{f} line {n}: imports {m}" for f, n, m in
                        subm.scan_forbidden(os.path.join(g.sandbox.work, g.assignment.stencil), files,
                                            g.assignment.manifest.forbidden)]


def step_run_notebook(g: Grading):
    from .notebook import NotebookRun
    t = time.monotonic()
    run = NotebookRun(g.nb, g.sandbox, g.deadline, g.messages, g.calibration.cell_limits(g.limits))
    try:
        run.execute()
    except Exception as e:  # noqa: BLE001 - the grader must survive anything the kernel does
        g.messages.append(f"the notebook could not be run to the end ({type(e).__name__}: {str(e)[:300]})")
        try:
            import asyncio
            asyncio.run(run._stop())
        except Exception:
            pass
    g.run = run
    g.student_seconds += time.monotonic() - t
    if run.restarts:
        g.messages.append(f"the kernel was restarted {run.restarts} time(s): " + "; ".join(run.events))


def step_score_notebook(g: Grading):
    from .notebook import grade_id, is_grade, is_written_answer, score_cell
    for cell in g.nb.cells:
        if is_grade(cell) and cell.get("cell_type") == "code":
            score, max_score, msg = score_cell(cell, g.run)
            g.tests.append(Test(f"notebook: {grade_id(cell)}", score, max_score,
                                msg or ("passed" if score >= max_score else ""), "notebook", grade_id(cell)))
        elif is_written_answer(cell):
            g.tests.append(manual_row(cell))


MANUAL_STUB = "YOUR ANSWER HERE"   # nbgrader's text stub of a written answer


def manual_row(cell, output=None):
    """A written answer (an nbgrader manual-grade markdown cell): no points from the grader; a row that
    shows what the student wrote (or ``output``) and the points a person gives later (formgrader, Gradescope)."""
    from .notebook import grade_id, nbg
    text = str(cell.get("source", "")).strip()
    points = float(nbg(cell).get("points", 0) or 0)
    answered = bool(text) and text != MANUAL_STUB
    shown = text if len(text) <= 1500 else text[:1500] + " [...]"
    output = output or (f"Written answer, {points:g} points, graded by hand (pending).\n\n" +
                        (f"Your answer:\n\n{shown}" if answered else "You have not answered yet (the cell still "
                                                                     f"says {MANUAL_STUB!r})."))
    return Test(f"written: {grade_id(cell)}", 0.0, 0.0, output, "manual", grade_id(cell), manual_points=points)


def load_hidden_tests(path, visibility=None):
    """Import hidden_tests.py (trusted, grader side only) as a private module; ``visibility``: the
    manifest's default for hidden-test results."""
    from ..hidden import collect
    name = f"_hidden_tests_{abs(hash(path))}"
    if name in sys.modules:
        return sys.modules[name], collect(sys.modules[name], visibility)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module, collect(module, visibility)


def visible_first(tests):
    """``tests`` in the order they run: every test whose row students see now (the trusted checks, whose
    verdicts show in the notebook rows, and hidden tests made ``visible``) before any test whose result shows
    later (definition order kept within each group). Student code can keep what it is called with (the
    worker lives on from test to test) and hand it back in whatever it returns or raises; run in this order,
    nothing a later-shown test passes in (its inputs, its probe's code) has reached a student process while a
    row shown now is made."""
    return [t for t in tests if t.visibility == "visible"] + [t for t in tests if t.visibility != "visible"]


def step_run_hidden_tests(g: Grading):
    """Run every trusted test and check in the grader (those shown now first: :func:`visible_first`); the
    student's code answers through the sandboxed :class:`Student` proxy. Hidden tests become result rows;
    checks are kept in ``g.checks`` for :func:`step_apply_checks`."""
    from .notebook import namespace_cells
    tests = visible_first(_trusted_tests(g))
    manifest = g.assignment.manifest
    student = Student(g.sandbox, namespace_cells(g.nb), deadline=g.deadline, stencil=manifest.stencil,
                      watch=bool(manifest.stencil and manifest.forbidden), forbidden=manifest.forbidden or (),
                      notebook_frameworks=notebook_needs_frameworks(g.assignment))
    student.profile = g.profile
    try:
        for test in tests:
            t0 = time.monotonic()
            student.calls, student.framework_hits = [], []
            student.set_test_deadline(t0 + g.calibration.test_limit(test.grade_id, g.limits))
            student.quiet = test.visibility == "visible"   # a row shown now: no text of the student's in it
            random.seed(0)
            np.random.seed(0)
            try:
                verdict = test.fn(student)
                frac, msg = _verdict(verdict, test, g)
            except AssertionError as e:
                frac, msg = 0.0, str(e) or "failed"
                _record_plots(g, test, getattr(e, "curves", {}), getattr(e, "images", {}))
            except subm.GraderError:
                raise
            except Exception as e:  # noqa: BLE001 - an instructor-side error fails this test only
                frac, msg = 0.0, f"{type(e).__name__}: {e}"
            if student.info is not None and g.worker_info is None:
                g.worker_info = student.info
                g.worker_absent = student.notebook.forbidden if student.notebook.absent else ()
            seconds = time.monotonic() - t0
            g.student_seconds += seconds
            g.test_seconds[test.grade_id] = seconds
            row = Test(test.name, frac * test.points, test.points, msg, test.kind, test.grade_id,
                       test.visibility, list(student.calls), seconds, test.part, test.guards, frac >= 1 - 1e-9)
            (g.tests if test.kind == "hidden" else g.checks).append(row)
            for what, found, when in student.framework_hits:
                if UNINSPECTABLE in found:
                    why = (f"the grader could not inspect the process {what} (it made itself non-dumpable?), "
                           "so it cannot tell what your code computed with")
                else:
                    why = f"{', '.join(found)} was loaded in the process {what} ({when})"
                g.framework_use.setdefault(test.part, why)
    finally:
        student.kill()
    if student.events:
        g.messages.append("hidden tests: " + "; ".join(student.events))


def notebook_needs_frameworks(a: subm.Assignment):
    """Does the instructor's own ``grader-namespace`` code (the grader bundle's solution-free notebook, never
    the student's) import a framework the stencil must not use? Then the notebook worker keeps them (an
    assignment whose notebook builds Keras models there); else they are absent there too."""
    import ast
    from .notebook import tags
    forbidden = set(a.manifest.forbidden or ())
    for cell in a.source_notebook().cells:
        if cell.get("cell_type") != "code" or "grader-namespace" not in tags(cell):
            continue
        src = "\n".join(line[:len(line) - len(line.lstrip())] + "pass" if line.lstrip().startswith(("%", "!"))
                        else line for line in cell.source.splitlines())
        try:
            tree = ast.parse(src)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            names = [n.name for n in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
            if any(n.partition(".")[0] in forbidden for n in names):
                return True
    return False


def _trusted_tests(g: Grading):
    if not os.path.isfile(g.assignment.hidden_tests):
        return []
    try:
        _, tests = g.hidden_module.result() if hasattr(g.hidden_module, "result") else \
            load_hidden_tests(g.assignment.hidden_tests, g.assignment.manifest.visibility)
    except BaseException as e:  # noqa: B902
        raise subm.GraderError(f"cannot load the hidden tests {g.assignment.hidden_tests}: "
                               f"{type(e).__name__}: {e}") from e
    return tests


def step_apply_checks(g: Grading):
    """No point without a trusted check: a notebook grade cell (run in the student's kernel, which the
    student's code controls) keeps its points only when every grader-side test or check guarding it
    passed. A cell no check guards never scores (an instructor error, said so)."""
    guards = {}
    for t in g.checks + [t for t in g.tests if t.kind == "hidden"]:
        for gid in t.guards:
            guards.setdefault(gid, []).append(t)
    for t in g.tests:
        if t.kind != "notebook":
            continue
        mine = guards.get(t.grade_id, [])
        t.part = ",".join(sorted({c.part for c in mine}))
        if not mine:
            if t.score > 0:
                t.score = 0.0
                t.output = ("no credit: the grader has no trusted check of this cell (instructor: add a "
                            "trusted_check for it to hidden_tests.py)")
            continue
        failed = [c for c in mine if not c.ok]
        if failed and t.score > 0:
            t.score = 0.0
            c = failed[0]
            t.output = (f"no credit: this cell passed in your kernel, but the grader's own check of the same "
                        f"part failed ({c.name}: {c.output})")


def _record_plots(g, test, curves, images):
    """A test's curves and image grids for the feedback, named after the row that shows them: a hidden
    test's own, a trusted check's notebook cell (the first it guards)."""
    row = test.name if test.kind == "hidden" else f"notebook: {test.guards[0]}"
    for k, v in (curves or {}).items():
        g.curves[f"{row}: {k}"] = [float(x) for x in v]
    for k, v in (images or {}).items():
        g.images[f"{row}: {k}"] = np.round(np.asarray(v, dtype=np.float64), 4).tolist()


def _verdict(verdict, test, g):
    from ..hidden import Score
    if verdict is None or verdict is True:
        return 1.0, "passed"
    if verdict is False:
        return 0.0, "failed"
    if isinstance(verdict, Score):
        for k, v in verdict.leaderboard.items():
            g.leaderboard[k] = v
        _record_plots(g, test, verdict.curves, verdict.images)
        return float(min(1.0, max(0.0, verdict.fraction))), verdict.message or f"{verdict.fraction:.0%}"
    if isinstance(verdict, (int, float)):
        return float(min(1.0, max(0.0, verdict))), f"partial credit: {float(verdict):.0%}"
    return 0.0, f"the hidden test returned {type(verdict).__name__} (instructor error)"


def step_apply_policies(g: Grading):
    """The framework rule: where the student's stencil computed with TensorFlow/Keras/PyTorch/JAX
    (observed by the grader in the processes that ran a part's trusted tests and checks), every point
    of that part is withheld: its hidden tests and the notebook cells its checks guard."""
    from .notebook import namespace_cells
    info = g.worker_info or {}
    pkg = g.assignment.stencil or "package"
    cell_ids = {str(c["id"]) for c in namespace_cells(g.nb)} if g.nb is not None else set()
    # the worker's hello is the student's process talking: a path or a message from it is never echoed
    # (it could carry anything the process saw); only what the grader words itself
    if info.get("beras_file") and g.assignment.has_stencil:
        if not g.sandbox.holds(info["beras_file"]):
            g.messages.append(f"warning: the hidden-test process did not use your submission's {pkg}")
    if info.get("cell_errors"):
        errs = "; ".join(f"cell {e.get('cell')}: {safe_type(e.get('type'))}"
                         f"{absent_note(safe_type(e.get('type')), g.worker_absent, g.assignment.stencil)}"
                         for e in info["cell_errors"] if str(e.get("cell")) in cell_ids)
        g.messages.append(f"while defining your functions for the hidden tests, these cells raised (their "
                          f"messages are in your notebook's own run): {errs}")
    if g.forbidden_hits:
        g.messages.append(f"Your {pkg} imports a framework it must not use (" + "; ".join(g.forbidden_hits) +
                          f"): {pkg} must be NumPy only; every part whose checks load it gets no credit.")
    if not g.framework_use:
        return
    for part, why in sorted(g.framework_use.items()):
        g.messages.append(f"Your {pkg} uses a forbidden framework in part {part}: {why}. {pkg} must be NumPy "
                          "only: every point of that part is withheld.")
    for t in g.tests:
        parts = set(filter(None, t.part.split(",")))
        hit = sorted(parts & set(g.framework_use))
        if hit and t.score > 0:
            t.score = 0.0
            t.output = f"no credit: your {pkg} uses a forbidden framework in this part ({g.framework_use[hit[0]]})"


# ---------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------
def make_results(g: Grading, elapsed):
    """The grading's :class:`autograder.results.Results` (its figures drawn here, once)."""
    from ..results import make_results as results_of
    tests = list(g.tests)
    if g.fatal:
        tests = _zero_tests(g)
    score = sum(t.score for t in tests)
    max_score = sum(t.max_score for t in tests)
    later = [t for t in tests if t.visibility != "visible"]
    if later:   # the total would reveal the hidden results: say only what is visible now
        shown = [t for t in tests if t.visibility == "visible"]
        lines = [f"Assignment {g.assignment.name}: {sum(t.score for t in shown):g} / "
                 f"{sum(t.max_score for t in shown):g} points from the tests shown now; "
                 f"{len(later)} hidden test(s) worth {sum(t.max_score for t in later):g} points are shown "
                 "after the due date."]
    else:
        lines = [f"Assignment {g.assignment.name}: {score:g} / {max_score:g} points."]
    manual = [t for t in tests if t.kind == "manual"]
    if manual:
        lines.append(f"{len(manual)} written answer(s) worth {sum(t.manual_points for t in manual):g} more points "
                     "are graded by hand (pending manual grading; not in the score above).")
    held = guarantees()
    lines.append(f"Profile: {g.profile_reason}. Sandbox: {isolation_mode()}"
                 + (f" (not guaranteed: {', '.join(held['best_effort'] + held['not_held'])})"
                    if held["best_effort"] or held["not_held"] else "") + ".")
    lines += g.messages
    extra = {"assignment": g.assignment.name, "profile": g.profile, "max_score": max_score,
             "manual_points_pending": sum(t.manual_points for t in tests if t.kind == "manual"),
             "isolation": isolation_mode(), "guarantees": held, "caps": caps(), "timings": {k: round(v, 3) for k, v in g.timings.items()},
             "student_seconds": round(g.student_seconds, 3), "curves": g.curves, "images": g.images,
             "calibration": g.calibration.describe() if g.calibration else "none",
             "cell_seconds": {k: round(v, 3) for k, v in (getattr(g.run, "seconds", None) or {}).items()},
             "test_seconds": {k: round(v, 3) for k, v in g.test_seconds.items()}}
    return results_of(round(score, 4), [t.as_result(i + 1) for i, t in enumerate(tests)], lines, extra,
                      sorted(g.leaderboard.items()), round(elapsed, 2), g.curves, g.images)


def _zero_tests(g: Grading):
    """Every test of the assignment at 0 (for a submission that could not be read at all)."""
    from .notebook import grade_id, is_grade, is_written_answer, nbg
    tests = []
    try:
        src = g.assignment.source_notebook()
        for c in src.cells:
            if is_grade(c) and c.get("cell_type") == "code":
                tests.append(Test(f"notebook: {grade_id(c)}", 0.0, float(nbg(c).get("points", 0)),
                                  "not graded: the submission could not be read", "notebook", grade_id(c)))
            elif is_written_answer(c):
                tests.append(manual_row(c, "not graded: the submission could not be read"))
        if os.path.isfile(g.assignment.hidden_tests):
            _, hts = load_hidden_tests(g.assignment.hidden_tests, g.assignment.manifest.visibility)
            tests += [Test(t.name, 0.0, t.points, "not graded: the submission could not be read", "hidden",
                           t.grade_id, t.visibility) for t in hts if t.kind == "hidden"]
    except Exception:  # noqa: BLE001
        pass
    return tests


def write_results(g: Grading, results):
    """results.json and feedback.html, both rendered from ``results`` (a :class:`autograder.results.Results`),
    and the graded notebook; returns results.json's content."""
    from ..results import to_gradescope, to_html
    data = to_gradescope(results)
    os.makedirs(g.out, exist_ok=True)
    tmp = os.path.join(g.out, ".results.json.tmp")
    with open(tmp, "w") as f:
        json.dump(data, f, indent=2)
    os.replace(tmp, os.path.join(g.out, "results.json"))
    try:
        html = to_html(results)
    except Exception as e:  # noqa: BLE001
        html = f"<html><body><pre>feedback could not be rendered: {e}</pre></body></html>"
    with open(os.path.join(g.out, "feedback.html"), "w") as f:
        f.write(html)
    if g.nb is not None:
        import nbformat
        try:
            nbformat.write(g.nb, os.path.join(g.out, f"{g.assignment.name}.graded.ipynb"))
        except Exception:  # noqa: BLE001
            pass
    return data


STEPS = [step_unpack, step_locate, step_restore_notebook, step_assemble, step_scan_frameworks,
         step_run_notebook, step_score_notebook, step_run_hidden_tests, step_apply_checks, step_apply_policies]


def grade(submission, assignment, out, profile="auto", limits: Limits | dict | None = None, root=None,
          calibrated=True):
    """Grade one submission; returns the results dict (also written to ``out``). ``limits``: a
    :class:`Limits`, or {field: value} overrides of the manifest profile's limits. Raises GraderError
    only when the grader itself cannot run, ImportError when a module the grader needs does not import."""
    t0 = time.monotonic()
    a = subm.find_assignment(assignment, root) if isinstance(assignment, str) else assignment
    prof, reason = resolve_profile(profile, a.manifest)
    lim = dataclasses.replace(limits) if isinstance(limits, Limits) else profile_limits(a, prof, limits)
    out = os.path.abspath(out)
    g = Grading(os.path.abspath(submission), a, out, prof, lim, reason)
    g.calibration = Calibration.load(a, prof) if calibrated else Calibration(None, "not used (calibrating)")
    g.deadline = t0 + g.calibration.total_limit(lim)
    if os.path.isfile(a.hidden_tests):   # import the trusted tests while student code runs
        g.hidden_module = _Background(load_hidden_tests, a.hidden_tests, a.manifest.visibility)
    try:
        for step in STEPS:
            if g.fatal:
                break
            ts = time.monotonic()
            try:
                step(g)
            except (subm.GraderError, ImportError):   # the grader cannot run, or its own environment is
                raise                                   # broken: the grader's failure, not the submission's
            except Exception as e:  # noqa: BLE001 - a grader step failing on odd input
                g.messages.append(f"grading step {step.__name__[5:]} failed: {type(e).__name__}: {e}")
                g.messages.append(traceback.format_exc(limit=3)[-800:])
                if step in (step_unpack, step_locate, step_restore_notebook, step_assemble):
                    g.fatal = True
            g.timings[step.__name__[5:]] = time.monotonic() - ts
    finally:
        if g.sandbox is not None:
            g.sandbox.cleanup()
            g.messages += g.sandbox.notes
    return write_results(g, make_results(g, time.monotonic() - t0))


class _Background:
    """Run ``fn(*args)`` in a thread; ``result()`` joins and re-raises."""

    def __init__(self, fn, *args):
        self._out, self._err = None, None

        def target():
            try:
                self._out = fn(*args)
            except BaseException as e:  # noqa: B902
                self._err = e
        self._t = threading.Thread(target=target, daemon=True)
        self._t.start()

    def result(self):
        self._t.join()
        if self._err is not None:
            raise self._err
        return self._out
