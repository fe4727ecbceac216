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


# --- running in parallel (`make test`: pytest-xdist, two workers, --dist loadgroup) ------------------
# One group per test module, so a module's expensive module-scoped fixture (a graded batch, a notebook
# run) is made once, on one worker; the modules that read the session's real batch (fixture `real`)
# share one group, so it is graded once. Groups start heaviest first (measured, `--durations`), so
# the two workers finish together.
REAL_USERS = ("test_grade", "test_release_submit", "test_notebook_cnn_architectures")
HEAVY_FIRST = ("real", "test_release_leaks", "test_isolation", "test_hostile", "test_gradebook", "test_resume",
               "test_notebook_beras_cnn", "test_package", "test_trusted", "test_release_selfcontained",
               "test_multireplica_training", "test_authoring", "test_calibrate", "test_release_student_kit")


def _group(item):
    module = item.module.__name__.rsplit(".", 1)[-1]
    return "real" if module in REAL_USERS else module


def pytest_collection_modifyitems(config, items):
    for item in items:
        item.add_marker(pytest.mark.xdist_group(_group(item)))
    if config.getoption("numprocesses", None):
        rank = {g: i for i, g in enumerate(HEAVY_FIRST)}
        items.sort(key=lambda it: rank.get(_group(it), len(rank)))   # stable: file order within a group
