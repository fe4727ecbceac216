"""Shared test setup: quiet TensorFlow, deterministic seeds, a hypothesis profile sized for 2 cores."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import random  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

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


# --- running in parallel (`make test`: pytest-xdist, two workers) ------------------------------------
# One scope per test module, so a module's expensive module-scoped fixture (a graded batch, a notebook
# run) is made once, on one worker; the modules that read the session's real batch (fixture `real`)
# share one scope, so it is graded once. Scopes start heaviest first (measured, `--durations`), so the
# two workers finish together. (xdist's own `--dist loadgroup` marks do nothing under pytest 9: it
# renames `item._nodeid`, which pytest 9 no longer reads; hence a scheduler of our own.)
REAL_USERS = ("test_grade", "test_release_submit", "test_notebook_cnn_architectures")
HEAVY_FIRST = ("real", "test_release_leaks", "test_isolation", "test_hostile", "test_gradebook", "test_resume",
               "test_notebook_beras_cnn", "test_package", "test_trusted", "test_release_selfcontained",
               "test_multireplica_training", "test_authoring", "test_calibrate", "test_release_student_kit")


def _scope(nodeid):
    module = os.path.splitext(os.path.basename(nodeid.split("::", 1)[0]))[0]
    return "real" if module in REAL_USERS else module


def pytest_collection_modifyitems(config, items):
    for item in items:   # on the report too (it crosses from an xdist worker): see pytest_terminal_summary
        mark = item.get_closest_marker("isolation")
        if mark is not None:
            params = getattr(item, "callspec", None)
            params = params.params if params else {}
            mode = mark.kwargs.get("mode") or params.get("mode") or params.get("batch") or "?"
            item.user_properties.append(("isolation", (list(mark.args), mode)))
    if config.getoption("numprocesses", None) or os.environ.get("PYTEST_XDIST_WORKER"):
        rank = {g: i for i, g in enumerate(HEAVY_FIRST)}
        items.sort(key=lambda it: rank.get(_scope(it.nodeid), len(rank)))   # stable: file order within a scope


def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    class ModuleScopes(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            return _scope(nodeid)
    return ModuleScopes(config, log)


# --- isolation guarantees this machine could not test ------------------------------------------------
# tests/test_isolation.py marks each test with the guarantees it checks (`isolation`) and skips it only
# for what it needs (root, a working unshare, setpriv). A guarantee whose tests were skipped is listed at
# the end of the run with the reason, so a run elsewhere never passes over them without a word.
def pytest_configure(config):
    config.addinivalue_line("markers", "isolation(*guarantees, mode=None): the sandbox guarantees a test checks "
                                       "(mode: its 'mode' / 'batch' parameter unless given)")


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
