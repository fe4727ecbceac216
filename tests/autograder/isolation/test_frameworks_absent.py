"""frameworks_absent's parts that need no sandbox: what makes a framework importable
(policy.framework_paths) and uid mode's shared, restored change of its files (sandbox.withhold_frameworks).
End to end (a TensorFlow server in a helper process, a TensorFlow child per call) it is graded in the
hostile batches: tests/hostile/test_hostile.py ("namespaces"), tests/autograder/isolation/test_isolation.py
("uid", "rlimits")."""
import os
import stat
import subprocess
import sys
import tempfile

import pytest

from autograder.isolation import sandbox
from autograder.policy import framework_paths


def test_framework_paths_lists_the_package_and_what_its_distribution_installs():
    import importlib.util
    (pkg,) = importlib.util.find_spec("tensorflow").submodule_search_locations   # not imported: seconds
    found = dict(framework_paths(("tensorflow",)))
    assert found[pkg] == "tensorflow"
    infos = [p for p in found if os.path.basename(p).startswith("tensorflow-") and p.endswith(".dist-info")]
    assert infos and all(found[p] is None for p in infos)
    assert not [p for p in found if "keras" in os.path.basename(p)]   # only what it is asked for


def test_framework_paths_finds_a_package_on_any_search_dir(tmp_path):
    (tmp_path / "torch").mkdir()
    (tmp_path / "jax.py").write_text("")
    (tmp_path / "numpy_like").mkdir()
    found = framework_paths(("torch", "jax"), search=[str(tmp_path)])
    assert found == [(str(tmp_path / "jax.py"), None), (str(tmp_path / "torch"), "torch")]
    with pytest.raises(ValueError, match="unknown framework"):
        framework_paths(("pytorch",))


def _holder():
    """A live process other than this one (a concurrent grader's share)."""
    return subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)


@pytest.mark.skipif(os.geteuid() != 0, reason="not root (uid mode chowns the frameworks' files)")
def test_withheld_frameworks_are_shared_and_restored_by_the_last_grader(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    os.makedirs(tempfile.tempdir)
    pkg = tmp_path / "site" / "tensorflow"
    pkg.mkdir(parents=True)
    os.chmod(pkg, 0o755)
    gid = os.stat(pkg).st_gid
    changed = sandbox.withhold_frameworks([str(pkg)])
    st = os.stat(pkg)
    assert changed == [(str(pkg), "0o755", "0o750")]
    assert (st.st_gid, stat.S_IMODE(st.st_mode)) == (sandbox.FRAMEWORK_GID, 0o750)   # others' access -> the group
    other = _holder()
    try:   # a concurrent grader holds a share: this one's release leaves the files withheld
        state = os.path.join(tempfile.tempdir, "autograder-uids", "frameworks.json")
        text = open(state).read()
        start = sandbox._starttime(other.pid).decode()
        with open(state, "w") as f:
            f.write(text.replace('"holders": {', f'"holders": {{"{other.pid}": "{start}", ', 1))
        sandbox.release_frameworks()
        assert os.stat(pkg).st_gid == sandbox.FRAMEWORK_GID
    finally:
        other.kill()
        other.wait()
    sandbox.withhold_frameworks([str(pkg)])   # the other grader died: its share is dropped, the host's modes kept
    sandbox.release_frameworks()
    st = os.stat(pkg)
    assert (st.st_gid, stat.S_IMODE(st.st_mode)) == (gid, 0o755)


def test_each_mode_reports_frameworks_absent():
    assert "frameworks_absent" in sandbox.guarantees("namespaces")["held"]
    assert "frameworks_absent" in sandbox.guarantees("rlimits")["best_effort"]
    uid = sandbox.guarantees("uid")
    assert "frameworks_absent" in (uid["held"] if sandbox.hardlinks_protected() else uid["best_effort"])
