"""frameworks_absent's parts that need no sandbox: what makes a framework importable
(policy.framework_paths) and uid mode's shared, restored change of its files (sandbox.withhold_frameworks).
End to end (a TensorFlow server in a helper process, a TensorFlow child per call) it is graded in the
hostile batches: tests/hostile/test_hostile.py ("namespaces"), tests/autograder/isolation/test_isolation.py
("uid", "rlimits")."""
import json
import os
import stat
import subprocess
import sys

import pytest

from autograder.isolation import sandbox
from autograder.policy import framework_paths


def test_framework_paths_lists_the_package_and_what_its_distribution_installs():
    import importlib.machinery
    # the package folder on the search path (PathFinder: an imported TensorFlow adds _api/v2 to its __path__)
    (pkg,) = importlib.machinery.PathFinder.find_spec("tensorflow").submodule_search_locations
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
@pytest.mark.isolation("frameworks_absent", mode="uid")
def test_withheld_frameworks_are_shared_and_restored_by_the_last_grader(tmp_path, monkeypatch):
    state_dir = tmp_path / "state"            # not the host's shared record
    state_dir.mkdir()
    monkeypatch.setattr(sandbox, "frameworks_state_dir", lambda: str(state_dir))
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
        state = os.path.join(state_dir, "frameworks.json")
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


PROBE = r'''
import importlib, json, os, subprocess, sys
sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "AbsentFrameworks"]   # the hook undone
importlib.invalidate_caches()
out = {"cwd": os.getcwd(), "lib": os.path.exists(LIB), "listing": sorted(os.listdir(PKG)) if os.path.isdir(PKG) else None}
if TRY:   # (importing TensorFlow where it is present takes seconds: not tried there)
    try:
        import tensorflow
        out["import"] = "imported: " + repr(getattr(tensorflow, "__file__", None))
    except BaseException as e:
        out["import"] = type(e).__name__ + ": " + str(e)
    child = subprocess.run([sys.executable, "-c", "import tensorflow"], capture_output=True, text=True)
    out["child"] = child.returncode, (child.stderr.strip().splitlines() or [""])[-1]
print(json.dumps(out))
'''


@pytest.mark.skipif(sandbox.isolation_mode() != "namespaces", reason="needs root with a working unshare")
@pytest.mark.isolation("frameworks_absent", mode="namespaces")
def test_namespaces_cover_the_frameworks_of_an_absent_process_only():
    """A worker started with absent=True, its import hook removed: the package is a read-only tmpfs holding
    only an __init__ that raises, the native library is gone, a child python cannot import it either; a
    process started without it (the kernel) still sees TensorFlow. Each runs in its own folder."""
    import importlib.machinery
    import json
    (pkg,) = importlib.machinery.PathFinder.find_spec("tensorflow").submodule_search_locations
    lib = os.path.join(pkg, "libtensorflow_cc.so.2")
    assert os.path.exists(lib)
    box = sandbox.Sandbox(sandbox.Limits(), absent=framework_paths(("tensorflow", "keras")))
    try:
        box.prepare()
        reports = {}
        for absent in (True, False):
            private = box.private("probe")
            argv = box.command("worker", f"LIB, PKG, TRY = {lib!r}, {pkg!r}, {absent}\n" + PROBE, private=private,
                               absent=absent)
            proc = subprocess.run(argv, timeout=120, capture_output=True, text=True, env=box.env(private))
            log = box.log_tail("worker")
            assert proc.returncode == 0, (proc.stderr, log)
            reports[absent] = json.loads(log.strip().splitlines()[-1])
            assert reports[absent]["cwd"] == os.path.join(private, "work")
    finally:
        box.cleanup()
    gone = reports[True]
    assert gone["lib"] is False and gone["listing"] == ["__init__.py"], gone
    assert gone["import"].startswith("ModuleNotFoundError: No module named 'tensorflow'"), gone
    assert gone["child"][0] != 0 and "No module named 'tensorflow'" in gone["child"][1], gone
    assert reports[False]["lib"] is True and "libtensorflow_cc.so.2" in reports[False]["listing"], reports[False]


@pytest.mark.skipif(sandbox.isolation_mode() != "namespaces", reason="needs root with a working unshare")
@pytest.mark.isolation("frameworks_absent", mode="namespaces")
def test_a_capable_process_keeps_frameworks_another_grader_withholds(tmp_path, monkeypatch):
    """A uid-mode grader on the same host withholds the frameworks' files from everyone but their group while
    it runs (the suite emulates one beside namespaces-mode batches): a namespaces-mode kernel, which may use
    them, still reads them (it carries the group too); found when the real batch's kernels lost Keras."""
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    monkeypatch.setattr(sandbox, "frameworks_state_dir", lambda: str(state_dir))
    box = sandbox.Sandbox(sandbox.Limits())
    try:
        box.prepare()
        private = box.private("probe")
        pkg = os.path.join(private, "site", "fakeframework")   # the worker's own folder: what its namespace keeps
        os.makedirs(pkg)
        for d in (os.path.dirname(pkg), pkg):
            os.chmod(d, 0o755)
        open(os.path.join(pkg, "__init__.py"), "w").close()
        sandbox.withhold_frameworks([pkg])                     # what the other (uid-mode) grader does
        try:
            code = f"import json, os\nprint(json.dumps(sorted(os.listdir({pkg!r}))))"
            argv = box.command("worker", code, private=private, absent=False)
            proc = subprocess.run(argv, timeout=120, capture_output=True, text=True, env=box.env(private))
            log = box.log_tail("worker")
            assert proc.returncode == 0, (proc.stderr, log)
            assert json.loads(log.strip().splitlines()[-1]) == ["__init__.py"], log
        finally:
            sandbox.release_frameworks()
    finally:
        box.cleanup()
