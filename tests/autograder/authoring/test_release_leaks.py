"""No working answer to a graded part anywhere in a release (issue 9).

For every assignment under solutions/ (found automatically: a new assignment needs no edit here):

- **targets**: what the student writes. The names defined in the notebook's solution cells, and the
  functions of the released stencil (any released ``.py``) whose body is the stub
  (``raise NotImplementedError()``).
- **candidates**: every function and class the release itself provides outside the student's cells
  and stubs: the top-level definitions of every released ``.py`` file (the stencil's complete helpers,
  ``beras/examples``, ``training.py``, ...) and of every non-solution code cell of the released
  notebook (locked cells, the given experiment cells).
- **checks**: the assignment's ``@trusted_check`` functions in solutions/NAME/hidden_tests.py (each
  re-runs a visible grade cell's own cases in the grader), run with ``LocalStudent`` against the
  reference namespace (the solution notebook's ``grader-namespace`` cells and the instructor beras).

For each target, the checks that *depend* on it are those that pass on the reference, call it (one pass
of every check with every target wrapped in a recorder) and fail when it alone is replaced by a stub
that raises and by one that returns None (a check that probes several names at once does not check a
name whose value it ignores). Then each candidate with a compatible signature takes the target's
place (bound in the namespace, or patched into the stencil's modules) and every dependent check is run:
one that passes means the release hands out a working answer, and the test fails naming it.

Each candidate is the released definition itself (its source from assignments/NAME), compiled against
the names of the module it comes from with that module's (or the notebook's) student functions stubbed,
as in the release, so what is checked is what students receive. The run happens in a subprocess
per assignment (the notebooks' setup cells change sys.path, seeds and the working directory).
"""
from __future__ import annotations

import ast
import functools
import importlib
import importlib.util
import inspect
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from tests import ROOT

pytestmark = pytest.mark.slow(seconds=270)   # end to end (tests/__init__.py); seconds: its cost, measured (heaviest start first)

SOLUTIONS = ROOT / "solutions"
ASSIGNMENTS = Path(os.environ.get("LEAK_TEST_ASSIGNMENTS") or ROOT / "assignments")   # a test plants a leak in a copy
NAMES = sorted(p.name for p in SOLUTIONS.iterdir()
               if (p / f"{p.name}.ipynb").is_file() and (p / "hidden_tests.py").is_file())
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "TF_ENABLE_ONEDNN_OPTS": "0", "PYTHONDONTWRITEBYTECODE": "1",
       "MPLBACKEND": "Agg"}
MIN_TIMEOUT = 20     # seconds per check run, at least; else 3x the reference's time for that check


# ---------------------------------------------------------------------------------------------
# Reading the sources
# ---------------------------------------------------------------------------------------------
def _cells(path):
    import nbformat
    return [c for c in nbformat.read(str(path), as_version=4).cells if c.cell_type == "code"]


def _is_solution(cell):
    return bool(cell.metadata.get("nbgrader", {}).get("solution"))


def _defined_names(tree):
    names = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            names += [t.id for t in node.targets if isinstance(t, ast.Name)]
    return names


def _parse(source):
    from IPython.core.inputtransformer2 import TransformerManager
    return ast.parse(TransformerManager().transform_cell(source))


def _is_stub(node):
    """A released function whose body is nbgrader's stub (it raises NotImplementedError)."""
    src = ast.unparse(node)
    return "NotImplementedError" in src and any(
        isinstance(n, ast.Raise) and "NotImplementedError" in ast.unparse(n) for n in node.body)


def _defs(tree):
    return {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}


# ---------------------------------------------------------------------------------------------
# The worker (one assignment, in a subprocess)
# ---------------------------------------------------------------------------------------------
class _Timeout(BaseException):   # not swallowed by an `except Exception` in candidate code
    pass


def _alarm(signum, frame):
    raise _Timeout()


def _run_check(test, namespace, timeout=600):
    """(passed, message) of one check; a check still running after ``timeout`` seconds has not passed."""
    from autograder.hidden import LocalStudent
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(max(1, int(timeout)))
    try:
        test.fn(LocalStudent(namespace))
        return True, ""
    except _Timeout:
        return False, "timeout"
    except BaseException as e:   # noqa: BLE001 - any failure of a candidate is "not an answer"
        if isinstance(e, KeyboardInterrupt):
            raise
        return False, f"{type(e).__name__}: {str(e)[:200]}"
    finally:
        signal.alarm(0)


def _signature_compatible(target, candidate):
    """Can ``candidate`` be called the way the checks call ``target``: every positional argument of the
    target's signature accepted, no more required, and every optional parameter name accepted?"""
    if inspect.isclass(target) != inspect.isclass(candidate):
        return False
    try:
        st, sc = inspect.signature(target), inspect.signature(candidate)
    except (TypeError, ValueError):
        return False
    positional = [p for p in st.parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = [p for p in positional if p.default is p.empty]
    try:
        sc.bind(*range(len(required)))
        sc.bind(*range(len(positional)))
    except TypeError:
        return False
    has_var_kw = any(p.kind == p.VAR_KEYWORD for p in sc.parameters.values())
    optional = [p.name for p in st.parameters.values() if p.default is not p.empty]
    return all(has_var_kw or name in sc.parameters for name in optional)


def _stub(name):
    def stub(*args, **kwargs):
        raise NotImplementedError(f"{name} (stubbed by the leak test)")
    return stub


def _returns_none(*args, **kwargs):
    return None


def _reference_namespace(name):
    folder = SOLUTIONS / name
    os.chdir(folder)
    namespace = {"__name__": "__main__"}
    for cell in _cells(folder / f"{name}.ipynb"):
        if "grader-namespace" in cell.metadata.get("tags", []):
            exec(compile(_parse(cell.source), f"<{name} grader-namespace>", "exec"), namespace)  # noqa: S102
    return namespace


def _released_py(name):
    release = ASSIGNMENTS / name
    return sorted(p for p in release.rglob("*.py") if "__pycache__" not in p.parts)


def _module_for(path, release):
    """The instructor module a released .py file comes from: a package path (beras/...) is imported by
    its dotted name; a loose file (training.py) is the solutions folder's copy, or the released file
    itself when the release made it (submit.py)."""
    rel = path.relative_to(release)
    if len(rel.parts) > 1 or (release / "__init__.py").exists():
        dotted = ".".join(rel.with_suffix("").parts)
        if dotted.endswith(".__init__"):
            dotted = dotted[: -len(".__init__")]
        return importlib.import_module(dotted), ROOT / rel
    source = SOLUTIONS / release.name / rel
    if not source.exists():                 # made by the release itself (submit.py): the released file
        source = path
    loaded = sys.modules.get(rel.stem)      # the notebook's setup cell may have imported it already
    if loaded is not None and Path(getattr(loaded, "__file__", "") or "").resolve() == source.resolve():
        return loaded, source
    spec = importlib.util.spec_from_file_location(f"_release_{rel.stem}", source)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod            # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod, source


def collect_leaks(name):
    """{"targets": ..., "dependent": ..., "candidates": n, "leaks": [...]} for assignment ``name``."""
    import nbformat  # noqa: F401 - fail early if missing
    release = ASSIGNMENTS / name
    namespace = _reference_namespace(name)

    # the checks, run on the reference first
    spec = importlib.util.spec_from_file_location(f"_hidden_{name}", SOLUTIONS / name / "hidden_tests.py")
    hidden = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hidden)
    from autograder.hidden import collect
    checks = [t for t in collect(hidden) if t.kind == "check"]

    # targets: the notebook's solution names, the stencil's stubs
    targets = {}      # label -> (kind, where, name, reference object)
    for cell in _cells(SOLUTIONS / name / f"{name}.ipynb"):
        if _is_solution(cell):
            for n in _defined_names(_parse(cell.source)):
                if callable(namespace.get(n)):
                    targets[n] = ("namespace", None, n, namespace[n])
    candidates = {}   # label -> object
    for path in _released_py(name):
        tree = ast.parse(path.read_text())
        mod, _ = _module_for(path, release)
        stubs = {n: _stub(n) for n, node in _defs(tree).items() if _is_stub(node)}
        # the released definitions themselves, compiled into one scope of their module's other names, with
        # the module's student functions as the release has them (stubs), not the instructor's solutions:
        # a released helper reaches the stubs through the module's other released helpers too (the public
        # conv2d through its primitive _conv2d and output_shape_and_pads), as in the release
        scope = {**vars(mod), **stubs}
        made = []
        for n, node in _defs(tree).items():
            if n in stubs:
                if callable(getattr(mod, n, None)):
                    targets[f"{mod.__name__}.{n}"] = ("module", mod.__name__, n, getattr(mod, n))
                continue
            try:
                exec(compile(ast.Module([node], []), str(path), "exec"), scope)  # noqa: S102
            except Exception:   # noqa: BLE001 - a definition that cannot even be made is no answer
                scope[n] = None
                continue
            made.append(n)
        for n in made:
            candidates[f"{path.relative_to(ASSIGNMENTS)}:{n}"] = scope[n]
    for i, cell in enumerate(_cells(release / f"{name}.ipynb")):
        if _is_solution(cell):
            continue
        tree = _parse(cell.source)
        keep = [node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.Import,
                                                                 ast.ImportFrom))
                or (isinstance(node, ast.Assign) and not any(isinstance(x, ast.Call) for x in ast.walk(node)))]
        scope = {**namespace, **{n: _stub(n) for n, t in targets.items() if t[0] == "namespace"}}
        try:
            exec(compile(ast.Module(keep, []), f"<released cell {i}>", "exec"), scope)  # noqa: S102
        except Exception:   # noqa: BLE001 - a definition that cannot even be made is no answer
            continue
        for node in keep:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                candidates[f"{name}.ipynb cell {i}:{node.name}"] = scope[node.name]
    only = [t for t in os.environ.get("LEAK_TEST_ONLY", "").split(",") if t]
    if only:          # the planted-answer run searches for the one target it planted an answer to
        targets = {k: v for k, v in targets.items() if k in only}
    target_objects = {id(t[3]) for t in targets.values()}
    candidates = {k: v for k, v in candidates.items() if callable(v) and id(v) not in target_objects}

    def substituted(target, obj):
        kind, modname, n, ref = target
        if kind == "namespace":
            ns = dict(namespace)
            ns[n] = obj
            return ns, []
        patched = []
        for m in list(sys.modules.values()):
            if getattr(m, "__name__", "").split(".")[0] == modname.split(".")[0] and getattr(m, n, None) is ref:
                setattr(m, n, obj)
                patched.append(m)
        return namespace, patched

    def restore(target, patched):
        for m in patched:
            setattr(m, target[2], target[3])

    # One pass of every check on the reference, with every target wrapped in a recorder: a check
    # exercises a target when it calls it (or instantiates it).
    import time
    touched = set()

    def recorder(label, ref):
        if inspect.isclass(ref):
            def __init__(self, *args, **kwargs):
                touched.add(label)
                ref.__init__(self, *args, **kwargs)
            return type(ref.__name__, (ref,), {"__init__": __init__, "__module__": ref.__module__})

        @functools.wraps(ref)
        def wrapper(*args, **kwargs):
            touched.add(label)
            return ref(*args, **kwargs)
        return wrapper

    ns_all, patches = dict(namespace), []
    for label, target in targets.items():
        if target[0] == "namespace":
            ns_all[target[2]] = recorder(label, target[3])
        else:
            patches.append((target, substituted(target, recorder(label, target[3]))[1]))
    baseline, seconds, calls = {}, {}, {}
    try:
        for t in checks:
            touched.clear()
            start = time.perf_counter()
            baseline[t.grade_id] = _run_check(t, ns_all)
            seconds[t.grade_id] = time.perf_counter() - start
            calls[t.grade_id] = set(touched)
    finally:
        for target, patched in patches:
            restore(target, patched)
    limit = {k: max(MIN_TIMEOUT, 3 * v) for k, v in seconds.items()}
    failing = {k: v[1] for k, v in baseline.items() if not v[0]}
    checks = [t for t in checks if baseline[t.grade_id][0]]

    dependent, leaks, tried = {}, [], 0
    for label, target in targets.items():
        # a check that calls the target but passes without it (raising, or returning None) does not check it
        dependent[label] = [t.grade_id for t in checks if label in calls[t.grade_id]]
        for wrong in (_stub(label), _returns_none):
            ns, patched = substituted(target, wrong)
            try:
                dependent[label] = [g for g in dependent[label]
                                    if not _run_check(next(t for t in checks if t.grade_id == g), ns, limit[g])[0]]
            finally:
                restore(target, patched)
        deps = [t for t in checks if t.grade_id in dependent[label]]
        if not deps:
            continue
        for clabel, cand in candidates.items():
            if not _signature_compatible(target[3], cand):
                continue
            tried += 1
            ns, patched = substituted(target, cand)
            try:
                for t in deps:
                    ok, _ = _run_check(t, ns, limit[t.grade_id])
                    print(f"  {clabel} as {label}, {t.grade_id}: {'PASSES' if ok else 'fails'}", file=sys.stderr,
                          flush=True)
                    if ok:
                        leaks.append(f"{clabel} passes {t.grade_id} in place of {label}")
                        break
            finally:
                restore(target, patched)
    return {"targets": sorted(targets), "dependent": dependent, "tried": tried, "candidates": len(candidates),
            "checks": len(checks), "reference_failures": failing, "leaks": leaks}


def main(argv=None):
    name = (argv or sys.argv[1:])[0]
    result = collect_leaks(name)
    print("LEAKS-JSON " + json.dumps(result))


# ---------------------------------------------------------------------------------------------
# The tests
# ---------------------------------------------------------------------------------------------
def _start(name, assignments=None, only=()):
    env = {**ENV, "LEAK_TEST_ASSIGNMENTS": str(assignments or ""), "LEAK_TEST_ONLY": ",".join(only)}
    return subprocess.Popen([sys.executable, "-c", "import sys; from tests.autograder.authoring.test_release_leaks import main; "
                             "main(sys.argv[1:])", name], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _finish(name, proc):
    out, err = proc.communicate(timeout=3600)
    lines = [ln for ln in out.splitlines() if ln.startswith("LEAKS-JSON ")]
    assert proc.returncode == 0 and lines, f"{name}: leak worker failed:\n{out[-3000:]}\n{err[-3000:]}"
    return json.loads(lines[-1][len("LEAKS-JSON "):])


@pytest.fixture(scope="module")
def _workers(tmp_path_factory):
    """Every assignment's search and the planted one (see below), started at once (one subprocess each:
    they overlap on the 2 cores)."""
    import shutil
    copy = tmp_path_factory.mktemp("planted") / "assignments"
    shutil.copytree(ROOT / "assignments" / "cnn_architectures", copy / "cnn_architectures")
    with open(copy / "cnn_architectures" / "training.py", "a") as f:
        f.write(PLANTED)
    procs = {name: _start(name) for name in NAMES}
    procs["planted"] = _start("cnn_architectures", copy, only=["survival_probabilities"])
    yield {name: _finish(name if name != "planted" else "cnn_architectures (planted)", proc)
           for name, proc in procs.items()}


@pytest.fixture(scope="module", params=NAMES)
def leak_report(request, _workers):
    return request.param, _workers[request.param]


PLANTED = """

def linear_decay(num_blocks, p_L=0.5):
    return [1.0 - l / num_blocks * (1.0 - p_L) for l in range(1, num_blocks + 1)]
"""


def test_a_planted_answer_is_found(_workers):
    """The search can fail: a helper that answers survival_probabilities, added to a copy of the
    cnn_architectures release's training.py, is reported (and nothing else is)."""
    report = _workers["planted"]
    assert report["leaks"] == ["cnn_architectures/training.py:linear_decay passes "
                               "check_survival_probabilities_visible_cases in place of survival_probabilities"], report


def test_every_check_passes_on_the_reference(leak_report):
    name, report = leak_report
    assert not report["reference_failures"], f"{name}: checks failing on the reference: {report['reference_failures']}"
    assert report["checks"] > 0


def test_the_search_is_not_vacuous(leak_report):
    """Every target the checks exercise is found, and candidates were really tried against them."""
    name, report = leak_report
    with_checks = [t for t, deps in report["dependent"].items() if deps]
    assert len(with_checks) >= 5, f"{name}: only {with_checks} have checks that depend on them"
    assert report["candidates"] > 0 and report["tried"] > 0, report


def test_no_release_provided_function_answers_a_graded_part(leak_report):
    name, report = leak_report
    assert not report["leaks"], f"{name}: the release answers graded parts:\n" + "\n".join(report["leaks"])
