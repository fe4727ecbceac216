"""No working answer to a graded part, of this or any other assignment, anywhere in any release, unless the
release's manifest publishes that assignment (issues 9 and 18).

For every assignment under solutions/ (found automatically: a new assignment needs no edit here), one
subprocess each (the notebooks' setup cells change sys.path, seeds and the working directory):

- **targets**: what the student of that assignment writes. The names defined in the notebook's solution
  cells, and the functions of its released stencil whose body is the stub (``raise NotImplementedError()``).
- **candidates**: every function and class that *any* release provides outside the student's cells and
  stubs: the top-level definitions of every released ``.py`` file (the stencil's complete helpers,
  ``training.py``, ...) and of every non-solution code cell of the released notebook (locked cells, the
  given experiment cells). A candidate from another release is skipped for a target whose assignment that
  release's manifest publishes (``publishes``, or ``[stencil] solved``: autograder.authoring.manifest's
  ``Manifest.published``); an identical definition in several releases is tried once.
- **checks**: the assignment's ``@trusted_check`` functions in solutions/NAME/hidden_tests.py (each
  re-runs a visible grade cell's own cases in the grader), run with ``LocalStudent`` against the
  reference namespace (the solution notebook's ``grader-namespace`` cells and the instructor beras).

For each target, the checks that *depend* on it are those that pass on the reference, call it (one pass
of every check with every target wrapped in a recorder, which also keeps the target's first call and its
result) and fail when it alone is replaced by a stub that raises and by one that returns None. Then each
candidate takes the target's place (bound in the namespace, or patched into the stencil's modules), as it
is or through one **adapter**, and every dependent check is run: one that passes means a release hands
out a working answer, and the test fails naming it, the adapter and the release.

The adapters: the small edits a student would make to a given function to answer a part with it.
- arguments: as they are; two neighbouring ones swapped; one optional one dropped (a required one carries
  what the answer needs); one neutral constant added at the end (0, 1, False, True, None); or bound **by name** (equal names, or one inside the other: ``padding``
  -> ``crop_padding``, ``images`` -> ``image``; unmatched ones in order; at most two parameters the target
  lacks given a neutral constant each; this covers renamed, reordered and extra parameters);
- **per example**: a function of one example mapped over the batch (the first argument), an integer seed
  argument becoming one seed pair per example (``default_rng(seed)``): a per-image augmentation answering
  a batch augmentation;
- **ones -> x**: a counting helper whose array of ones (``np.ones`` / ``ones_like``, built from a
  parameter) is replaced by that parameter and its zero accumulators by 0 becomes a sum; divided by the
  original count it is a mean (a window counter answering average pooling).
Cheap filters keep it fast: classes stand in only for classes with a common base class; each adapted
call must bind the candidate's signature, and must return, within ``PROBE_SECONDS``, on the target's
first recorded call (its batches cut to ``PROBE_EXAMPLES``), a value of the kind and shape of the
reference's (``_alike``: random answers differ in value, not in shape) before any check runs; a
candidate whose probes took ``PROBE_BUDGET`` seconds in all is only tried as it is from then on. A
definition found in several releases is tried once.

Each candidate is the released definition itself (its source from assignments/NAME), compiled against
the names of the module it comes from, with that module's student functions stubbed as in the release.
The notebook's given definitions are compiled against the reference namespace of their own assignment
(the student did the other parts: a given helper using another part's answer is fine), with the target
under test stubbed during its turn (a given helper that calls the target itself is no answer); another
assignment's given definitions see that assignment's parts stubbed, as its release has them.
"""
from __future__ import annotations

import ast
import functools
import importlib
import importlib.util
import inspect
import io
import itertools
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import tokenize
from pathlib import Path

import numpy as np
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
PROBE_SECONDS = 3.0  # an adapted candidate's one call on the checks' first arguments (the cheap filter)
COPY_SHARE = 0.6     # a given definition holding this share of a solution region's tokens is a copy of it
COPY_RUN = 6         # ... counted in common runs of this many tokens or more
COPY_MIN_TOKENS = 60 # ... for regions of at least this many tokens (a one-line answer is no "copy")
PROBE_EXAMPLES = 16  # the probe cuts the checks' batches to this many examples
PROBE_BUDGET = 6.0   # seconds of such calls per candidate, over all targets; then it is tried only as it is
NEUTRAL = (0, 1, False, True, None)   # the constants an adapter passes for a parameter the target lacks


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


# ---------------------------------------------------------------------------------------------
# Adapters: the small edits that turn a given function into another one's answer
# ---------------------------------------------------------------------------------------------
def _signature(obj):
    try:
        return inspect.signature(obj)
    except (TypeError, ValueError):
        return None


def _plans(st, sc):
    """[(label, plan)]: ways to call a candidate (signature ``sc``) in place of the target (``st``);
    ``plan(args, kwargs)`` turns the target's call into the candidate's (args, kwargs), or None. An
    optional argument is dropped only for a candidate that takes fewer positional arguments than the
    target (a required one carries what the answer needs: dropping it answers a special case), and a
    constant added only for one that requires more."""
    pos = [p.name for p in st.parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    cpos = [p for p in sc.parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    takes_more = any(p.kind == p.VAR_POSITIONAL for p in sc.parameters.values())
    required = len([p for p in cpos if p.default is p.empty])
    plans = [("", lambda a, k: (a, k))]
    for i in range(min(len(pos), 4) - 1):                        # two neighbouring arguments swapped
        plans.append((f"swap {pos[i]}, {pos[i + 1]}",
                      lambda a, k, i=i: ((*a[:i], a[i + 1], a[i], *a[i + 2:]), k) if len(a) > i + 1 else None))
    optional = {p.name for p in st.parameters.values() if p.default is not p.empty}
    if len(cpos) < len(pos) and not takes_more:                  # one optional argument dropped
        for i, name in enumerate(pos):
            if name not in optional:
                continue
            plans.append((f"drop {name}", lambda a, k, i=i, name=name: (
                (a[:i] + a[i + 1:], k) if len(a) > i else (a, {x: v for x, v in k.items() if x != name}))))
    for c in NEUTRAL:                                            # one argument added
        plans.append((f"add {c!r}", lambda a, k, c=c: ((*a, c), k) if len(a) + 1 == required else None))
    return plans + _by_name(st, sc)                              # arguments matched by name


def _by_name(st, sc):
    """Plans binding the target's arguments to the candidate's parameters by name (equal, or one name
    inside the other: padding -> crop_padding, images -> image), the rest in order, and at most two
    parameters the target lacks given a neutral constant each."""
    tnames = list(st.parameters)
    cparams = [p for p in sc.parameters.values() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    if len(cparams) != len([p for p in sc.parameters.values() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]):
        return []
    match, free = {}, list(tnames)
    for p in cparams:
        if p.name in free:
            match[p.name] = p.name
            free.remove(p.name)
    for p in cparams:
        if p.name not in match:
            near = [t for t in free if min(len(t), len(p.name)) >= 3 and (t in p.name or p.name in t)]
            if near:
                match[p.name] = near[0]
                free.remove(near[0])
    missing = [p.name for p in cparams if p.name not in match and p.default is p.empty]
    for name in list(missing):                                   # the rest in order
        if free:
            match[name] = free.pop(0)
            missing.remove(name)
    required = {p.name for p in st.parameters.values() if p.default is p.empty
                and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
    if len(missing) > 2 or required & set(free):     # a required argument left unused: a special case only
        return []

    def plan_for(constants):
        def plan(a, k):
            try:
                bound = st.bind(*a, **k)
            except TypeError:
                return None
            bound.apply_defaults()
            kw = {c: bound.arguments[t] for c, t in match.items() if t in bound.arguments}
            kw.update(constants)
            return (), kw
        return plan
    combos = [()] if not missing else [tuple(zip(missing, vs)) for vs in itertools.product(NEUTRAL, repeat=len(missing))]
    return [("by name" + "".join(f", {n}={v!r}" for n, v in combo), plan_for(dict(combo))) for combo in combos]


def _per_example(cand, sc):
    """``cand``, a function of one example, mapped over a batch (its first argument), an integer seed
    argument becoming one seed pair per example (``default_rng(seed)``); None if it cannot be."""
    names = list(sc.parameters)
    if not names:
        return None

    def mapped(*args, **kwargs):
        bound = sc.bind(*args, **kwargs)
        batch = bound.arguments[names[0]]
        if np.ndim(batch) < 2:
            raise TypeError("not a batch")
        seeds = {n: np.random.default_rng(int(v)).integers(0, 2**31 - 1, size=(len(batch), 2))
                 for n, v in bound.arguments.items() if "seed" in n and isinstance(v, (int, np.integer))}
        out = []
        for i in range(len(batch)):
            bound.arguments[names[0]] = batch[i]
            for n, s in seeds.items():
                bound.arguments[n] = s[i]
            out.append(np.asarray(cand(*bound.args, **bound.kwargs)))
        return np.stack(out)
    return mapped


class _OnesToInput(ast.NodeTransformer):
    """A counting helper made a sum: its array of ones (``np.ones(...)`` / ``ones_like``) replaced by the
    parameter it is built from, its zero-filled accumulators (``np.zeros(...)``) by 0."""

    def __init__(self, params):
        self.params, self.input = params, None

    def visit_Call(self, node):
        self.generic_visit(node)
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        if name in ("ones", "ones_like"):
            used = sorted((n.lineno, n.col_offset, n.id) for n in ast.walk(node)
                          if isinstance(n, ast.Name) and n.id in self.params)     # the first in the source
            if used:
                self.input = used[0][2]
                return ast.copy_location(ast.Name(self.input, ast.Load()), node)
        if name == "zeros":
            return ast.copy_location(ast.Constant(0), node)
        return node


def _ones_to_input(cand, source):
    """[(label, function)]: the sum and the mean (the sum over the original's count) that ``cand`` becomes
    with its ones replaced by its input ([] when it builds no array of ones from a parameter)."""
    if not source or "ones" not in source or not inspect.isfunction(cand):
        return []
    tree = ast.parse(source).body[0]
    if not isinstance(tree, ast.FunctionDef):
        return []
    sc = _signature(cand)
    rewrite = _OnesToInput(set(sc.parameters))
    tree = rewrite.visit(tree)
    if rewrite.input is None:
        return []
    tree.decorator_list = []
    scope = dict(cand.__globals__)
    exec(compile(ast.fix_missing_locations(ast.Module([tree], [])), "<ones->x>", "exec"), scope)  # noqa: S102
    summed, x = scope[tree.name], rewrite.input

    def mean(*args, **kwargs):
        bound = sc.bind(*args, **kwargs)
        total = summed(*bound.args, **bound.kwargs)
        bound.arguments[x] = np.shape(bound.arguments[x])
        return total / cand(*bound.args, **bound.kwargs)
    return [("ones->x: sum", summed), ("ones->x: mean", mean)]


def _alike(ref, got):
    """Could ``got`` be the answer ``ref`` is: the same kind of value and shape (a cheap filter before
    the checks run: random answers differ in value, not in shape)."""
    try:
        return _alike_or_raise(ref, got)
    except Exception:   # noqa: BLE001 - a value that cannot even be compared is not alike
        return False


def _alike_or_raise(ref, got):
    if ref is None:
        return got is None
    if inspect.isclass(ref) or inspect.isroutine(ref) or isinstance(ref, functools.partial):
        return callable(got)
    if hasattr(ref, "output") and hasattr(ref, "count_params"):          # a Keras model
        return hasattr(got, "output") and tuple(ref.output.shape) == tuple(getattr(got.output, "shape", ()))
    if hasattr(ref, "shape") and not isinstance(ref, (int, float)):
        return hasattr(got, "shape") and tuple(ref.shape) == tuple(got.shape)
    if isinstance(ref, (bool, np.bool_)):
        return isinstance(got, (bool, np.bool_))
    if isinstance(ref, (int, float, np.number)):
        return isinstance(got, (int, float, np.number)) and not isinstance(got, bool)
    if isinstance(ref, (list, tuple)):
        return isinstance(got, (list, tuple, np.ndarray)) and len(got) == len(ref) and \
            all(_alike_or_raise(r, g) for r, g in zip(list(ref)[:8], list(got)[:8]))
    if isinstance(ref, dict):
        return isinstance(got, dict) and len(got) == len(ref)
    return isinstance(got, type(ref))


def _fresh(value):
    """A copy of a recorded argument (a candidate may write into its inputs)."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, (list, tuple)):
        return type(value)(_fresh(v) for v in value)
    return value


def _small_call(target_ref, first_call, n=PROBE_EXAMPLES):
    """The probe's call: the checks' first call of the target with every array argument that shares the
    first one's batch length cut to ``n`` examples, and the reference's answer to it (the first call and
    its answer as recorded when the reference cannot answer the cut one)."""
    args, kwargs, _ = first_call
    arrays = [v for v in (*args, *kwargs.values()) if isinstance(v, np.ndarray) and v.ndim >= 2]
    if not arrays or len(arrays[0]) <= n:
        return first_call
    size = len(arrays[0])

    def cut(v):
        return v[:n] if isinstance(v, np.ndarray) and v.ndim >= 1 and len(v) == size else v
    small = (tuple(cut(v) for v in args), {k: cut(v) for k, v in kwargs.items()})
    ok, answer = _quick(target_ref, *small)
    return (*small, answer) if ok else first_call


def _quick(fn, args, kwargs, seconds=PROBE_SECONDS):
    """(ok, result) of ``fn(*args, **kwargs)`` within ``seconds``."""
    signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return True, fn(*_fresh(tuple(args)), **{k: _fresh(v) for k, v in kwargs.items()})
    except _Timeout:
        return False, None
    except BaseException as e:   # noqa: BLE001 - any failure is "not this adapter"
        if isinstance(e, KeyboardInterrupt):
            raise
        return False, None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


_PROBED = {}   # id(candidate) -> seconds its adapters' probes took, over every target


def _adapted(target_ref, cand, source, first_call):
    """Yield (adapter label, callable standing in for the target): the candidate as it is and through
    each adapter that, on the checks' first call of the target, returns a value like the reference's.
    A candidate whose probes took PROBE_BUDGET seconds in all (a given training run, ...) is only tried
    as it is from then on."""
    if inspect.isclass(target_ref) or inspect.isclass(cand):
        if inspect.isclass(target_ref) and inspect.isclass(cand) and \
                set(target_ref.__mro__[1:-1]) & set(cand.__mro__[1:-1]) and _signature_compatible(target_ref, cand):
            yield "", cand
        return
    st = _signature(target_ref)
    functions = [("", cand)] + _ones_to_input(cand, source)
    if first_call is None:                  # never called by a check: nothing to compare with
        if _signature_compatible(target_ref, cand):
            yield "", cand
        return
    args, kwargs, ref = first_call
    seen = set()
    for flabel, fn in functions:
        sc = _signature(fn)
        if st is None or sc is None:
            continue
        variants = [("", fn)]
        mapped = _per_example(fn, sc)
        if mapped is not None:
            variants.append(("per example", mapped))
        fits = set()                        # plans the function answers as it is: not mapped per example
        for vlabel, f in variants:
            for plabel, plan in _plans(st, sc):
                if vlabel and plabel in fits:
                    continue
                call = plan(tuple(args), dict(kwargs))
                if call is None:
                    continue
                try:
                    sc.bind(*call[0], **call[1])
                except TypeError:
                    continue
                key = (flabel, vlabel, tuple(map(id, call[0])), tuple(sorted((k, id(v)) for k, v in call[1].items())))
                if key in seen:
                    continue
                seen.add(key)
                if (flabel or vlabel or plabel) and _PROBED.get(id(cand), 0) > PROBE_BUDGET:
                    continue
                start = time.perf_counter()
                ok, got = _quick(f, *call)
                _PROBED[id(cand)] = _PROBED.get(id(cand), 0) + time.perf_counter() - start
                if not ok or not _alike(ref, got):
                    continue
                fits.add(plabel)
                label = "; ".join(x for x in (flabel, vlabel, plabel) if x)

                def standin(*a, _f=f, _plan=plan, **k):
                    call = _plan(a, k)
                    if call is None:
                        raise TypeError("the adapter does not apply to this call")
                    return _f(*call[0], **call[1])
                yield label, standin if label else f


# ---------------------------------------------------------------------------------------------
# Copies: a given definition that holds most of a solution's code (the answer, with an edit)
# ---------------------------------------------------------------------------------------------
def _tokens(source):
    """The code's tokens, without comments and layout; every string literal is one token (docstrings
    and messages do not count)."""
    out = []
    try:
        for t in tokenize.generate_tokens(io.StringIO(source).readline):
            if t.type in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
                          tokenize.ENDMARKER):
                continue
            out.append("STR" if t.type == tokenize.STRING else t.string)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return out


def _solution_regions(name):
    """{label: tokens} of the solution regions assignment ``name`` owns: its notebook's (by grade id) and its
    stencil's (by file and enclosing function)."""
    from autograder.authoring.regions import MARKERS, _regions, ownership
    out = {}
    for cell in _cells(SOLUTIONS / name / f"{name}.ipynb"):
        if _is_solution(cell):
            lines = cell.source.split("\n")
            for k, (_owner, b, e) in enumerate(_regions(cell.source)):
                gid = cell.metadata.get("nbgrader", {}).get("grade_id")
                out[f"{name}.ipynb {gid}" + (f" #{k + 1}" if k else "")] = _tokens(textwrap.dedent("\n".join(lines[b + 1:e])))
    package, _keep, owns = ownership(str(ROOT), name)
    if package:
        for path in sorted((ROOT / package).rglob("*.py")):
            text = path.read_text()
            if MARKERS[0] not in text:
                continue
            lines = text.split("\n")
            for owner, b, e in _regions(text):
                if owner in owns:
                    fn = next((ln.split("def ", 1)[1].split("(")[0] for ln in reversed(lines[:b])
                               if ln.lstrip().startswith("def ")), "?")
                    out[f"{path.relative_to(ROOT)}:{fn}"] = _tokens(textwrap.dedent("\n".join(lines[b + 1:e])))
    return {k: v for k, v in out.items() if len(v) >= COPY_MIN_TOKENS}


def _copied_share(solution, candidate):
    """The share of ``solution``'s tokens found in ``candidate`` in common runs of COPY_RUN tokens or more."""
    import difflib
    blocks = difflib.SequenceMatcher(None, solution, candidate, autojunk=False).get_matching_blocks()
    return sum(b.size for b in blocks if b.size >= COPY_RUN) / len(solution)


def _without_docstrings(source):
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.body and \
                isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant):
            node.body = node.body[1:] or [ast.Pass()]
    return ast.unparse(tree)


def copies(name, candidates):
    """["<candidate> holds 73% of <solution region>"] for every given definition (``candidates``: {source:
    (label, object)}) holding COPY_SHARE or more of a solution region of ``name``."""
    out = []
    regions = _solution_regions(name)
    for src, (label, _obj) in candidates.items():
        given = _tokens(_without_docstrings(src))
        for where, tokens in regions.items():
            share = _copied_share(tokens, given)
            if share >= COPY_SHARE:
                out.append(f"{label} holds {share:.0%} of the answer {where} (a copy, with an edit)")
    return out


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
    spec = importlib.util.spec_from_file_location(f"_release_{release.name}_{rel.stem}", source)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod            # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod, source


def _solution_names(name):
    return [n for cell in _cells(SOLUTIONS / name / f"{name}.ipynb") if _is_solution(cell)
            for n in _defined_names(_parse(cell.source))]


def _release_candidates(name, namespace, scopes, stub_solutions):
    """{source: (label, object)} of what release ``name`` gives, and {(module, name): stub} of its stencil's
    stubs. Its notebook's given definitions are made in a scope (added to ``scopes``) of ``namespace``, its
    reference namespace: for the assignment under test the student did the other parts (the current target
    is stubbed there during its turn); for another one (``stub_solutions``) its parts are stubs."""
    release = ASSIGNMENTS / name
    out, stencil_stubs = {}, {}
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
                    stencil_stubs[(mod.__name__, n)] = getattr(mod, n)
                continue
            try:
                exec(compile(ast.Module([node], []), str(path), "exec"), scope)  # noqa: S102
            except Exception:   # noqa: BLE001 - a definition that cannot even be made is no answer
                continue
            made.append((n, ast.unparse(node)))
        for n, src in made:
            out.setdefault(src, (f"{path.relative_to(ASSIGNMENTS)}:{n}", scope[n]))
    scope = dict(namespace)
    if stub_solutions:     # another assignment's given code, as its release has it: its parts stubbed
        scope.update({n: _stub(n) for n in _solution_names(name) if callable(namespace.get(n))})
    scopes.append((name, scope))
    for i, cell in enumerate(_cells(release / f"{name}.ipynb")):
        if _is_solution(cell):
            continue
        tree = _parse(cell.source)
        keep = [node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.Import,
                                                                 ast.ImportFrom))
                or (isinstance(node, ast.Assign) and not any(isinstance(x, ast.Call) for x in ast.walk(node)))]
        try:
            exec(compile(ast.Module(keep, []), f"<released cell {i}>", "exec"), scope)  # noqa: S102
        except Exception:   # noqa: BLE001 - a definition that cannot even be made is no answer
            continue
        for node in keep:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                out.setdefault(ast.unparse(node), (f"{name}.ipynb cell {i}:{node.name}", scope[node.name]))
    return out, stencil_stubs


def collect_leaks(name):
    """{"targets": ..., "dependent": ..., "candidates": n, "leaks": [...]} for assignment ``name``."""
    import nbformat  # noqa: F401 - fail early if missing
    from autograder.authoring.manifest import load as load_manifest
    namespace = _reference_namespace(name)

    # the checks, run on the reference first
    spec = importlib.util.spec_from_file_location(f"_hidden_{name}", SOLUTIONS / name / "hidden_tests.py")
    hidden = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hidden)
    from autograder.hidden import collect
    checks = [t for t in collect(hidden) if t.kind == "check"]

    # candidates: what every release gives (its own first), each with the releases it comes from;
    # targets: this assignment's notebook solution names and its release's stencil stubs
    releases = [name] + [r for r in NAMES if r != name and (ASSIGNMENTS / r).is_dir()]
    published = {r: set(load_manifest(SOLUTIONS / r, r).published) for r in releases}
    candidates, origins, scopes, declared = {}, {}, [], set()   # source -> (label, object); source -> releases
    for r in releases:
        ns = namespace if r == name else _reference_namespace(r)
        made, stubs = _release_candidates(r, ns, scopes, stub_solutions=r != name)
        if r == name:
            stencil_stubs = stubs
        for src, (label, obj) in made.items():
            origins.setdefault(src, []).append(r)
            if r == name or name not in published[r]:
                candidates.setdefault(src, (label, obj))
            else:
                declared.add(label)
    os.chdir(SOLUTIONS / name)
    targets = {}      # label -> (kind, where, name, reference object)
    for n in _solution_names(name):
        if callable(namespace.get(n)):
            targets[n] = ("namespace", None, n, namespace[n])
    for (modname, n), obj in stencil_stubs.items():
        targets[f"{modname}.{n}"] = ("module", modname, n, obj)
    only = [t for t in os.environ.get("LEAK_TEST_ONLY", "").split(",") if t]
    if only:          # the planted-answer run searches for the one target it planted an answer to
        targets = {k: v for k, v in targets.items() if k in only}
    target_objects = {id(t[3]) for t in targets.values()}
    candidates = {src: (label, obj) for src, (label, obj) in candidates.items()
                  if callable(obj) and id(obj) not in target_objects}
    copied = copies(name, candidates) if not only else []
    own_scopes = [s for r, s in scopes if r == name]

    def substituted(target, obj):
        kind, modname, n, ref = target
        if kind == "namespace":
            ns = dict(namespace)
            ns[n] = obj
            saved = [(s, s.get(n)) for s in own_scopes if n in s]
            for s, _ in saved:        # the release's given code sees the stub: it must not call the answer
                s[n] = _stub(n)
            return ns, saved
        patched = []
        for m in list(sys.modules.values()):
            if getattr(m, "__name__", "").split(".")[0] == modname.split(".")[0] and getattr(m, n, None) is ref:
                setattr(m, n, obj)
                patched.append(m)
        return namespace, patched

    def restore(target, patched):
        for m in patched:
            if isinstance(m, tuple):
                m[0][target[2]] = m[1]
            else:
                setattr(m, target[2], target[3])

    # One pass of every check on the reference, with every target wrapped in a recorder: a check
    # exercises a target when it calls it (or instantiates it); the first call and its result are kept
    # (the adapters' cheap filter compares a candidate's answer to that one).
    touched, first_call = set(), {}

    def recorder(label, ref):
        if inspect.isclass(ref):
            def __init__(self, *args, **kwargs):
                touched.add(label)
                ref.__init__(self, *args, **kwargs)
            return type(ref.__name__, (ref,), {"__init__": __init__, "__module__": ref.__module__})

        @functools.wraps(ref)
        def wrapper(*args, **kwargs):
            touched.add(label)
            if label in first_call:
                return ref(*args, **kwargs)
            saved = (_fresh(args), {k: _fresh(v) for k, v in kwargs.items()})
            result = ref(*args, **kwargs)
            first_call[label] = (*saved, result)
            return result
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

    dependent, leaks, tried, adapted = {}, [], 0, 0
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
        start = time.perf_counter()
        probe = _small_call(target[3], first_call[label]) if label in first_call and \
            not inspect.isclass(target[3]) else first_call.get(label)
        for src, (clabel, cand) in candidates.items():
            ns, patched = substituted(target, _stub(label))   # the given code sees the stub while adapting
            try:
                ways = list(_adapted(target[3], cand, src, probe))
            finally:
                restore(target, patched)
            for how, standin in ways:
                tried += 1
                adapted += bool(how)
                ns, patched = substituted(target, standin)
                try:
                    passed = [t.grade_id for t in deps if _run_check(t, ns, limit[t.grade_id])[0]]
                finally:
                    restore(target, patched)
                print(f"  {clabel}{f' [{how}]' if how else ''} as {label}: {passed or 'fails'}", file=sys.stderr,
                      flush=True)
                if passed:
                    where = ", ".join(o for o in origins[src] if o == name or name not in published[o])
                    leaks.append(f"{clabel}{f' [{how}]' if how else ''} passes {', '.join(passed)} in place of "
                                 f"{label}" + (f" (given by {where})" if where != name else ""))
                    break
        print(f"-- {label}: {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
    return {"targets": sorted(targets), "dependent": dependent, "tried": tried, "adapted": adapted,
            "candidates": len(candidates), "declared": sorted(declared), "checks": len(checks),
            "reference_failures": failing, "leaks": leaks + copied}


def main(argv=None):
    name = (argv or sys.argv[1:])[0]
    result = collect_leaks(name)
    print("LEAKS-JSON " + json.dumps(result))


# ---------------------------------------------------------------------------------------------
# The tests
# ---------------------------------------------------------------------------------------------
def _start(name, assignments=None, only=()):
    """The worker of one assignment, its output in files (a full pipe would stall it until its turn)."""
    import tempfile
    env = {**ENV, "LEAK_TEST_ASSIGNMENTS": str(assignments or ""), "LEAK_TEST_ONLY": ",".join(only)}
    out, err = tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")
    proc = subprocess.Popen([sys.executable, "-c", "import sys; from tests.autograder.authoring.test_release_leaks "
                             "import main; main(sys.argv[1:])", name], cwd=ROOT, env=env, stdout=out, stderr=err,
                            text=True)
    return proc, out, err


def _finish(name, started):
    proc, out, err = started
    proc.wait(timeout=3600)
    out.seek(0)
    err.seek(0)
    out, err = out.read(), err.read()
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


def decay_rule(p_L, num_blocks):
    return [1.0 - (l + 1) / num_blocks * (1.0 - p_L) for l in range(num_blocks)]
"""


def test_a_planted_answer_is_found(_workers):
    """The search can fail: helpers that answer survival_probabilities, added to a copy of the
    cnn_architectures release's training.py, are reported (and nothing else is): one as it is, one
    through an adapter (its arguments in another order: bound by name)."""
    report = _workers["planted"]
    assert report["leaks"] == [
        "cnn_architectures/training.py:linear_decay passes check_survival_probabilities_visible_cases in place of "
        "survival_probabilities",
        "cnn_architectures/training.py:decay_rule [by name] passes check_survival_probabilities_visible_cases in "
        "place of survival_probabilities"], report


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
