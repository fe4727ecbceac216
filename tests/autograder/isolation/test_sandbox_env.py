"""What a sandbox's student code finds in its environment: BLAS threads (a share of the cores when
grade-all runs several sandboxes at once, or the grader's own setting), and a scratch folder whose kernel
sockets fit the unix-socket path limit."""
import os

from autograder.isolation.sandbox import BLAS_THREADS, Limits, Sandbox, blas_threads


def test_blas_threads_share_the_cores_between_jobs():
    cores = os.cpu_count() or 1
    assert blas_threads(1, environ={}) == {var: str(cores) for var in BLAS_THREADS}
    assert blas_threads(cores, environ={}) == {var: "1" for var in BLAS_THREADS}
    assert blas_threads(4 * cores, environ={}) == {var: "1" for var in BLAS_THREADS}   # never 0


def test_the_graders_own_setting_wins():
    got = blas_threads(1, environ={"OPENBLAS_NUM_THREADS": "3"})
    assert got["OPENBLAS_NUM_THREADS"] == "3" and got["OMP_NUM_THREADS"] == str(os.cpu_count() or 1)


def test_student_code_gets_the_graders_blas_threads(monkeypatch):
    for var in BLAS_THREADS:
        monkeypatch.delenv(var, raising=False)
    sandbox = Sandbox(Limits())
    try:
        assert not set(BLAS_THREADS) & set(sandbox.env())     # unset: the libraries' own default
        monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
        env = sandbox.env()
        assert env["OPENBLAS_NUM_THREADS"] == "1" and "OMP_NUM_THREADS" not in env
    finally:
        sandbox.cleanup()


def test_a_deep_temp_folder_still_leaves_the_kernel_its_sockets(tmp_path, monkeypatch):
    """A kernel's ZMQ ipc sockets live in the sandbox's run dir; under a deep TMPDIR (a test runner's, a CI
    workspace's) their paths would pass the 107-byte unix-socket limit ("File name too long"): the scratch
    goes to a short temp folder instead."""
    import tempfile

    from autograder.isolation import sandbox as sb
    deep = tmp_path / ("d" * 60)
    deep.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(deep))
    monkeypatch.setattr(sb, "_scratch_root", None)
    assert len(str(deep)) + sb.SOCKET_TAIL > sb.UNIX_PATH_MAX
    assert sb.scratch_base() == "/tmp"
    box = Sandbox(Limits())
    try:
        socket = os.path.join(box.run_dir, "k999-99999")     # execute.py: run_dir/k<restarts>, ZMQ adds -<port>
        assert box.dir.startswith("/tmp/autograder-") and len(socket) <= sb.UNIX_PATH_MAX
    finally:
        box.cleanup()
    monkeypatch.setattr(sb, "_scratch_root", None)
