"""Hidden tests: instructor-only checks that run in the grader, against a student's code.

A hidden test lives in ``solutions/<assignment>/hidden_tests.py`` (never released). It is a
function of one argument, ``student``, a proxy to the student's code. The proxy runs the
student's code in a sandboxed worker process and hands back plain data (NumPy arrays, numbers,
strings, lists, dicts), so every comparison happens here, in the trusted grader, where a
student cannot monkeypatch NumPy or the assertion helpers::

    from autograder.hidden import hidden_test, assert_close

    @hidden_test(points=4, name="conv2d: stride 3, SAME, 7x9 input")
    def conv2d_stride3_same(student):
        x, w = rng.standard_normal((2, 7, 9, 3)), rng.standard_normal((3, 2, 3, 4))
        got = student.call("beras.nn.conv2d", x, w, strides=3, padding="SAME")
        assert_close(got, tf.nn.conv2d(x, w, 3, "SAME").numpy(), "conv2d stride 3 SAME on a 7x9 input")

A test passes (full points) when it returns None or True, fails (0 points) when it raises,
and earns partial credit when it returns a fraction in [0, 1] or a :class:`Score` (a fraction
plus a message, leaderboard entries and a training curve for the feedback). Its result is shown to
the student after the due date (Gradescope's ``after_due_date``) unless ``visibility=`` or the
module's ``VISIBILITY`` says otherwise, so resubmitting cannot probe the hidden cases.

Every notebook grade cell needs a **trusted check**: the cell runs in the student's kernel (their
feedback), but its points count only when a ``@trusted_check("<grade_id>")`` function passes here,
on the same cases, with the student's values fetched through the proxy. A cell no check guards
never scores. ``part=`` groups tests and checks: where the student's stencil computes with a
forbidden framework during any of a part's calls, every point of that part is withheld.

The proxy (:class:`Student`) has three calls:

- ``student.call(name, *args, **kwargs)``: call a function of the student's code by dotted
  name ("beras.nn.conv2d" imports the student's beras; a bare name like "build_resnet" is
  looked up in the namespace of the student's notebook code). Returns plain data.
- ``student.vjp(name, args, kwargs=None, wrt=(0,), upstream=None)``: run the student's op
  under the student's ``beras.GradientTape``; returns ``(output, [grad for each index in wrt])``
  (the upstream gradient defaults to ones, i.e. the gradient of the sum).
- ``student.probe(code, timeout=None, *, stencil=False, uses_stencil=False, **inputs)``: execute
  trusted instructor code in the student's namespace (``inputs`` bound as variables); the code sets
  ``result`` to plain data, which is returned. ``timeout`` (seconds) overrides the per-call limit
  (e.g. a training budget). ``stencil=True`` runs it where only the student's stencil package is
  imported (no notebook code); ``uses_stencil=True`` marks a notebook probe that computes with the
  stencil, so the framework rule watches it.

Dotted names of the stencil package ("beras.nn.conv2d") run in a process that imported only the
student's stencil: nothing the notebook does (patching, handing in a TensorFlow function) reaches them.

The student's process is untrusted end to end (its code can even replace the worker's request loop): send it
no answer (no label, no expected value), decide on values verified here (a model's outputs computed here from
its weights, not its predictions; structure from what evaluated), and draw inputs a table of constants could
answer from :func:`secret_rng` (test images from :func:`secret_test_split`). Checks and visible tests run
before the tests shown later, and their rows never carry the text of the student's exceptions.

The namespace of a notebook assignment is built by running the notebook's code cells tagged
``grader-namespace`` (cell metadata ``tags``), in order: its import cell and the solution cells
that define the graded functions (locked cells come from the instructor source).

:class:`LocalStudent` runs the same calls in-process (both use ``autograder/calls.py``), for
instructors writing and testing hidden tests against the reference solution. The grader uses a sandboxed
implementation (``autograder.isolation.sandbox``).
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from . import calls
from .wire import to_plain  # noqa: F401 - part of this module's API


@dataclasses.dataclass
class Score:
    """Partial credit with context: ``fraction`` of the points, a ``message`` for the student,
    ``leaderboard`` entries ({name: value}), ``curves`` ({name: [per-epoch values]}, see :func:`series`) and
    ``images`` ({title: tiles}, a grid of small images such as a conv layer's filters, see :func:`filter_tiles`)
    for the feedback. They show in the feedback of the row the test scores: a hidden test's own row, a trusted
    check's in the notebook cell it guards (so a check that returns a Score puts the student's learning curve
    beside that cell's result). A check passes only with ``fraction`` 1."""
    fraction: float
    message: str = ""
    leaderboard: dict = dataclasses.field(default_factory=dict)
    curves: dict = dataclasses.field(default_factory=dict)
    images: dict = dataclasses.field(default_factory=dict)


def secret_rng():
    """A NumPy generator seeded from the operating system's randomness, anew at every grading: inputs drawn
    from it are the grader's own, which no submission can know beforehand (look up, or answer with constants
    read from an earlier grading: a student's process sees every input it is given, and may reach the
    worker's own machinery). Use it where any correct answer passes on every draw (a regrade draws again);
    a value that must not reach the student's process at all (a test label) stays in the grader."""
    import secrets
    return np.random.default_rng(secrets.randbits(128))


def secret_test_split(x, y, noise):
    """``(x', y')``: a test split as the grader scores it, drawn anew at each grading (:func:`secret_rng`): the
    images in a secret order, each with fresh noise (float images: normal, standard deviation ``noise``; uint8
    images: integers in [-noise, noise], clipped), so no image equals its public copy and no list of the public
    labels lines up. ``x'`` may go to the student's process (predictions on inputs only); ``y'`` never does:
    the accuracy is computed here."""
    rng = secret_rng()
    order = rng.permutation(len(x))
    x, y = np.asarray(x)[order], np.asarray(y)[order]
    if x.dtype == np.uint8:
        x = np.clip(x.astype(np.int16) + rng.integers(-int(noise), int(noise) + 1, x.shape), 0, 255).astype(np.uint8)
    else:
        x = (x + rng.normal(0.0, noise, x.shape)).astype(x.dtype)
    return x, y


def series(values, limit=1000):
    """Per-epoch values the student's process reported (a History's list) as finite floats for
    ``Score.curves``; ``[]`` when they are not a list of numbers (a curve is feedback, never a reason to fail)."""
    try:
        out = [float(v) for v in list(values)[:limit]]
    except (TypeError, ValueError):
        return []
    return out if all(np.isfinite(out)) else []


def filter_tiles(kernel, limit=64):
    """A conv layer's HWIO kernel (kh, kw, C, F) as tiles for ``Score.images``: (F, kh, kw) weights (input
    channel 0 unless C == 3), or (F, kh, kw, 3) RGB filters for C == 3; at most ``limit`` filters. ``None``
    when ``kernel`` is not a 4-D array of finite numbers (student data: never a reason to fail)."""
    try:
        k = np.asarray(kernel, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if k.ndim != 4 or 0 in k.shape or not np.all(np.isfinite(k)) or k.shape[0] * k.shape[1] > 32 * 32:
        return None
    tiles = np.moveaxis(k[:, :, :3] if k.shape[2] == 3 else k[:, :, 0], -1, 0)[:limit]
    return tiles


class HiddenTestFailure(AssertionError):
    """A hidden test's verdict, with a message the student can read; ``curves`` and ``images`` as in
    :class:`Score`, for a failure whose feedback should still show them (e.g. the learning curve of a
    training run that fell short)."""

    def __init__(self, message="", curves=None, images=None):
        super().__init__(message)
        self.curves, self.images = dict(curves or {}), dict(images or {})


HIDDEN_VISIBILITY = "after_due_date"   # Gradescope: hidden results show after the deadline (no oracle)


@dataclasses.dataclass
class HiddenTest:
    """A trusted, grader-side test (``kind="hidden"``, worth ``points``) or check (``kind="check"``,
    no points of its own: it gates the notebook grade cells it ``guards``).

    ``part`` names the part of the assignment it belongs to: when the student's stencil computes with a
    forbidden framework during any call of a part, every point of that part is withheld (its hidden
    tests and the notebook cells its checks guard)."""
    name: str
    points: float
    fn: Callable
    grade_id: str
    visibility: str | None = None  # Gradescope visibility of the *result*; None: the assignment's default
    guards: tuple = ()            # notebook grade_ids whose points count only if this test passes too
    part: str = ""
    kind: str = "hidden"


def hidden_test(points, name=None, grade_id=None, visibility=None, guards=(), part=None):
    """Register a hidden test worth ``points``. ``name`` is what the student sees (after the due date
    by default: ``visibility`` overrides it, e.g. "visible"). ``guards``: notebook grade cell ids whose
    points the grader only awards when this (trusted) test passes too. ``part``: see :class:`HiddenTest`."""
    def register(fn):
        gid = grade_id or f"hidden_{fn.__name__}"
        test = HiddenTest(name or fn.__name__.replace("_", " "), float(points), fn, gid, visibility,
                          tuple(guards), part or gid)
        fn.hidden_test = test
        return fn
    return register


def trusted_check(*grade_ids, name=None, part=None):
    """Register the grader-side check of notebook grade cells ``grade_ids``.

    A notebook grade cell runs in the student's kernel, where the student's code can make any check
    pass; so its points count only when a trusted check guarding it passes here, in the grader, on
    values the student's process returns (typically: the visible test's own cases, re-run through
    ``student.call`` / ``vjp`` / ``probe`` and compared with a reference computed here). A grade cell
    that no check guards never scores. Checks carry no points and their results show as part of the
    cells they guard::

        @trusted_check("test_conv2d_forward", part="conv2d")
        def conv2d_forward_visible_cases(student):
            ...
    """
    if not grade_ids:
        raise ValueError("trusted_check needs the grade_id(s) of the notebook cell(s) it guards")

    def register(fn):
        gid = fn.__name__ if fn.__name__.startswith("check") else f"check_{fn.__name__}"
        test = HiddenTest(name or fn.__name__.replace("_", " "), 0.0, fn, gid, "visible",
                          tuple(grade_ids), part or grade_ids[0], "check")
        fn.hidden_test = test
        return fn
    return register


def collect(module, visibility=None) -> list[HiddenTest]:
    """The hidden tests and checks of a module, in definition order, each with its visibility resolved:
    its own, else the module's ``VISIBILITY``, else ``visibility`` (the assignment manifest's), else
    ``after_due_date``."""
    tests = [v.hidden_test for v in vars(module).values() if hasattr(v, "hidden_test")]
    ids = [t.grade_id for t in tests]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ValueError(f"duplicate hidden test ids in {module.__name__}: {dupes}")
    default = getattr(module, "VISIBILITY", None) or visibility or HIDDEN_VISIBILITY
    valid = ("hidden", "after_due_date", "after_published", "visible")
    out = []
    for t in tests:
        t = dataclasses.replace(t, visibility=t.visibility or default)
        if t.visibility not in valid:
            raise ValueError(f"hidden test {t.name!r}: unknown visibility {t.visibility!r}; valid: {', '.join(valid)}")
        out.append(t)
    return out


def guarded(tests) -> dict:
    """{notebook grade_id: [the tests and checks guarding it]}."""
    out = {}
    for t in tests:
        for gid in t.guards:
            out.setdefault(gid, []).append(t)
    return out


def rel_error(got, expected):
    """CS231n relative error: max |a - b| / max(1e-8, |a| + |b|).

    The same formula as ``beras.gradcheck.rel_error`` (the library's one definition, which
    ``beras.testing`` imports), restated here on purpose: the grader never imports ``beras``
    (the Gradescope zip ships no instructor beras, and a trusted comparison must not run library
    code that a submission ships under the same name). tests/beras/test_gradcheck.py checks the two agree."""
    a, b = np.asarray(got, np.float64), np.asarray(expected, np.float64)
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b)) / max(1e-8, np.max(np.abs(a) + np.abs(b))))


def assert_close(got, expected, case, tol=1e-5):
    """Fail with 'case: expected shape/values vs got' unless ``got`` matches ``expected``."""
    if got is None:
        raise HiddenTestFailure(f"{case}: got None, expected an array of shape {np.shape(expected)}")
    try:
        got_arr = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        raise HiddenTestFailure(f"{case}: got {type(got).__name__}, expected a numeric array") from None
    if got_arr.shape != np.shape(expected):
        raise HiddenTestFailure(f"{case}: expected shape {np.shape(expected)}, got shape {got_arr.shape}")
    if not np.all(np.isfinite(got_arr)):
        raise HiddenTestFailure(f"{case}: the result contains NaN or infinity")
    err = rel_error(got_arr, expected)
    if not err < tol:
        raise HiddenTestFailure(f"{case}: values differ from the reference (relative error {err:.2e}, "
                                f"tolerance {tol:.0e})")


def as_array(got, case):
    """``got`` as a float64 array, or a failure saying what came back instead."""
    if got is None:
        raise HiddenTestFailure(f"{case}: expected an array, got None")
    try:
        return np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        raise HiddenTestFailure(f"{case}: expected a numeric array, got {type(got).__name__}") from None


def check_close(case, expected, got, tol=1e-5):
    """The notebooks' visible ``check_close(case, expected, got)``, run by the grader: max |expected - got|
    <= tol (absolute; NaN fails). For a relative tolerance, :func:`assert_close`."""
    expected, got = np.asarray(expected, np.float64), as_array(got, case)
    if expected.shape != got.shape:
        raise HiddenTestFailure(f"{case}: expected shape {expected.shape}, got shape {got.shape}")
    err = float(np.max(np.abs(expected - got), initial=0.0))
    if not err <= tol:   # NaN fails too
        raise HiddenTestFailure(f"{case}: expected {np.round(expected.ravel()[:6], 5)}..., "
                                f"got {np.round(got.ravel()[:6], 5)}... (max abs difference {err:.2e}, "
                                f"tolerance {tol:.0e})")


def assert_equal(got, expected, case):
    if got != expected:
        raise HiddenTestFailure(f"{case}: expected {expected!r}, got {got!r}")


# ---------------------------------------------------------------------------------------------
# In-process proxy (for writing and testing hidden tests against the reference solution)
# ---------------------------------------------------------------------------------------------
class LocalStudent:
    """The :class:`Student` calls, run in this process against ``namespace`` and importable modules."""

    def __init__(self, namespace=None, profile="smoke", package="beras"):
        self.namespace = dict(namespace or {})
        self.profile = profile
        self.package = package           # the stencil package, whose autodiff ``vjp`` uses

    def _resolve(self, name):
        return calls.resolve(name, self.namespace, self.package, missing=HiddenTestFailure)

    def call(self, name, *args, **kwargs):
        return to_plain(self._resolve(name)(*args, **kwargs))

    def vjp(self, name, args, kwargs=None, wrt=(0,), upstream=None):
        value, grads = calls.vjp(self._resolve(name), args, kwargs or {}, wrt, upstream, self.package)
        return to_plain(value), [to_plain(g) for g in grads]

    def call_isolated(self, name, *args, **kwargs):
        """In process there is nothing to isolate from: the same as :meth:`call`."""
        return self.call(name, *args, **kwargs)

    def probe(self, code, timeout=None, *, stencil=False, uses_stencil=False, **inputs):
        return to_plain(calls.probe(code, {} if stencil else self.namespace, inputs))
