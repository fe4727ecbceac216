"""Shared test setup: quiet TensorFlow, deterministic seeds, a hypothesis profile sized for 2 cores."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import ast  # noqa: E402
import functools  # noqa: E402
import random  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

from tests import ROOT  # noqa: E402

settings.register_profile(
    "ci", max_examples=25, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True)
def _seed():
    random.seed(0)
    np.random.seed(0)


@pytest.fixture(scope="session")
def real(tmp_path_factory):
    """The real assignments graded once per session (see tests/real_batches.py)."""
    from tests.real_batches import grade_real
    return grade_real(tmp_path_factory.mktemp("real"))


# --- tiers and parallel runs ------------------------------------------------------------------------
# Markers (registered in pyproject.toml): `slow` (a module's pytestmark: end to end, a grader or notebook
# runs), `real` (added here to every test that takes the session's `real` fixture), `root` (added here to
# every `isolation` test: the sandbox's modes, emulated as root). `make check` runs
# `-m "not slow and not real and not root"`; `make test` runs everything.
#
# `make test` runs on two pytest-xdist workers. One scope per test module, so a module's expensive
# module-scoped fixture (a graded batch, a notebook run) is made once, on one worker; every test that
# takes the `real` fixture is in one scope, so the session's real batch is graded once (the other tests
# of those modules keep their module's scope and run on the other worker meanwhile). (xdist's own
# `--dist loadgroup` marks do nothing under pytest 9: it renames `item._nodeid`, which pytest 9 no longer
# reads; hence a scheduler of our own.) The controller does not collect, so it finds the tests that
# take `real` from their source (a parameter named `real`, or a fixture of their module that takes it).
# Scopes start heaviest first (real, then slow by their declared cost, then the rest), so the workers finish
# together.


@functools.cache
def _real_tests(path):
    """The names of the module's test functions that take the session's ``real`` fixture, directly or
    through a fixture of the module that does (its source read with ``ast``: the controller does not
    collect)."""
    try:
        tree = ast.parse(open(path).read())
    except (OSError, SyntaxError):
        return frozenset()
    funcs = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    args = {f.name: {a.arg for a in f.args.args} for f in funcs}
    takes = {"real"}
    while True:   # fixtures taking a fixture that takes `real`, to a fixed point
        more = {name for name, a in args.items() if a & takes and not name.startswith("test")} - takes
        if not more:
            break
        takes |= more
    return frozenset(name for name, a in args.items() if name.startswith("test") and a & takes)


def _scope(nodeid):
    """A test's xdist scope: "real" for the tests that take the real batch (one scope, so it is graded
    once), else its module (a module's fixtures are made once, on one worker)."""
    module, _, rest = nodeid.partition("::")
    test = rest.split("::")[-1].split("[")[0]
    return "real" if test in _real_tests(os.path.join(ROOT, module)) else module


def _weight(item):
    """Heaviest first: the real batch, then `slow` modules by the cost they declare (``slow(seconds=N)``,
    measured on this 2-core box), then the rest in file order."""
    if item.get_closest_marker("real"):
        return (0, 0)
    slow = item.get_closest_marker("slow")
    return (1, -slow.kwargs.get("seconds", 0)) if slow else (2, 0)


@pytest.hookimpl(tryfirst=True)   # before `-m` selects: the markers this hook adds count
def pytest_collection_modifyitems(config, items):
    for item in items:
        if "real" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.real)
        # the isolation guarantees a test checks, on its report too (it crosses from an xdist worker):
        # see pytest_terminal_summary
        mark = item.get_closest_marker("isolation")
        if mark is not None:   # every test of a sandbox guarantee needs root (to emulate the modes)
            item.add_marker(pytest.mark.root)
            params = getattr(item, "callspec", None)
            params = params.params if params else {}
            mode = mark.kwargs.get("mode") or params.get("mode") or params.get("batch") or "?"
            item.user_properties.append(("isolation", (list(mark.args), mode)))
    if config.getoption("numprocesses", None) or os.environ.get("PYTEST_XDIST_WORKER"):
        items.sort(key=_weight)   # stable: file order within a weight


def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling
    config.option.loadscopereorder = False   # xdist would order scopes by test count: keep ours (heaviest first)

    class ModuleScopes(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            return _scope(nodeid)
    return ModuleScopes(config, log)


# --- isolation guarantees this machine could not test ------------------------------------------------
# tests/test_isolation.py marks each test with the guarantees it checks (`isolation`) and skips it only
# for what it needs (root, a working unshare, setpriv). A guarantee whose tests were skipped is listed at
# the end of the run with the reason, so a run elsewhere never passes over them without a word.
_untested_now = {}   # {(guarantee, mode, reason): [tests]}, from the skipped reports (xdist: in the controller)


def pytest_runtest_logreport(report):
    if not report.skipped:
        return
    props = dict(report.user_properties)
    if "isolation" not in props:
        return
    names, mode = props["isolation"]
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    reason = reason.removeprefix("Skipped: ")
    test = report.nodeid.split("::", 1)[-1]
    for name in names:
        _untested_now.setdefault((name, mode, reason), []).append(test)


def pytest_terminal_summary(terminalreporter):
    if not _untested_now or os.environ.get("PYTEST_XDIST_WORKER"):
        return
    terminalreporter.section("isolation guarantees untested on this machine")
    for (name, mode, reason), tests in sorted(_untested_now.items()):
        terminalreporter.write_line(f"{name} in {mode} mode: {reason}  ({', '.join(sorted(set(tests)))})")
