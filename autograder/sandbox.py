"""The sandbox every piece of student code runs in, and the :class:`Student` proxy of hidden tests.

One :class:`Sandbox` per submission owns a scratch directory::

    <tmp>/autograder-XXXX/            0711 root  (others cannot list it: sibling scratches stay unknown)
        sub-XXXX/boot/                0700 root  (sandbox configs, the kernel connection file)
        sub-XXXX/work/                the submission's scratch copy, cwd of student code (sandbox uid)
        sub-XXXX/run/                 kernel runtime dir, HOME, logs (sandbox uid)

Isolation (``Sandbox.isolation`` says which one is in force; it goes into results.json):

- "namespaces": root with ``unshare``: new mount, network and PID namespaces. The network namespace
  has no interface up (not even loopback): no connection can be opened. The project root (solutions,
  hidden tests, .git, the instructor's beras), the grader's output dir and the submissions dir are
  covered by empty tmpfs mounts; the Python environment and the scratch copy are bound back. The
  process then drops to a uid unique to this sandbox, so RLIMIT_NPROC stops fork bombs, and it
  cannot write anything the grader owns. Killing the namespace's init (``--kill-child``) kills every
  process the student started.
- "rlimits": no root or no unshare: resource limits, a socket guard and import scrubbing only
  (best effort: files readable by the grader's user stay readable).

Limits (both modes): RLIMIT_AS (memory), RLIMIT_NPROC (processes/threads), RLIMIT_FSIZE (file size),
RLIMIT_CPU (backstop), no core dumps; wall-clock limits are enforced by the grader (per cell, per
call, per submission) by killing the sandbox.
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time


HERE = os.path.dirname(os.path.abspath(__file__))
PROJECT_ROOT = os.path.dirname(HERE)


@dataclasses.dataclass
class Limits:
    cell_timeout: float = 600.0        # seconds per notebook cell
    call_timeout: float = 120.0        # seconds per hidden-test call (probe may override)
    total_timeout: float = 3600.0      # seconds per submission (notebook + hidden tests)
    memory_mb: int = 6144              # RLIMIT_AS; TensorFlow alone maps ~2 GB (0 = none: CUDA maps far more)
    nproc: int = 512                   # processes + threads of the sandbox uid
    fsize_mb: int = 256                # largest file student code may write
    output_kb: int = 512               # notebook output kept per cell (the rest is truncated)
    startup_timeout: float = 180.0     # kernel / worker start, incl. building the namespace


def data_dirs():
    """Read-only data the training check may need (tensorflow-datasets' data_dir), kept visible."""
    d = os.environ.get("TFDS_DATA_DIR") or os.path.expanduser("~/tensorflow_datasets")
    return [os.path.abspath(d)] if os.path.isdir(d) else []


def namespaces_available():
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("mount"):
        return False
    try:
        r = subprocess.run(["unshare", "--mount", "--net", "--pid", "--fork", "--kill-child",
                            "--mount-proc", "true"], capture_output=True, timeout=20)
        return r.returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


_NS = None


def isolation_mode():
    global _NS
    if _NS is None:
        _NS = namespaces_available()
    return "namespaces" if _NS else "rlimits"


_scratch_root = None


def scratch_root():
    """One 0711 directory per grader process holding every submission's scratch."""
    global _scratch_root
    if _scratch_root is None or not os.path.isdir(_scratch_root) or _scratch_pid != os.getpid():
        _set_scratch(tempfile.mkdtemp(prefix="autograder-"))
        os.chmod(_scratch_root, 0o711)
        import atexit
        atexit.register(shutil.rmtree, _scratch_root, True)
    return _scratch_root


_scratch_pid = None


def _set_scratch(path):
    global _scratch_root, _scratch_pid
    _scratch_root, _scratch_pid = path, os.getpid()


def _chown_tree(path, uid, gid):
    for root, dirs, files in os.walk(path):
        os.lchown(root, uid, gid)
        for f in files:
            os.lchown(os.path.join(root, f), uid, gid)


class Sandbox:
    """A submission's scratch dir + the command lines that run student code inside the limits."""

    def __init__(self, limits: Limits, hide=(), env=None):
        self.limits = limits
        self.isolation = isolation_mode()
        self.dir = tempfile.mkdtemp(prefix="sub-", dir=scratch_root())
        self.boot_dir = os.path.join(self.dir, "boot")
        self.work = os.path.join(self.dir, "work")
        self.run_dir = os.path.join(self.dir, "run")
        for d in (self.boot_dir, self.work, self.run_dir):
            os.makedirs(d, mode=0o700)
        os.chmod(self.dir, 0o711)
        root_user = os.geteuid() == 0
        self.uid = (200000 + os.getpid() * 7 + len(os.listdir(scratch_root())) * 13) % 2_000_000 + 100000 \
            if root_user and self.isolation == "namespaces" else None
        self.gid = self.uid
        home = os.path.expanduser("~") if root_user else None   # root's home: credentials, caches
        parent = os.path.dirname(PROJECT_ROOT)   # e.g. /autograder (Gradescope: results/, submission/)
        shared = ["/tmp", "/var/tmp", "/dev/shm", "/home"]       # private, read-only views of these
        self.hide = sorted({os.path.abspath(p) for p in (PROJECT_ROOT, parent, home, *shared, *hide)
                            if p and os.path.abspath(p) != "/"})
        self.extra_env = dict(env or {})
        self._n = 0

    def prepare(self):
        """Hand the scratch copy to the sandbox uid (after the grader has written it)."""
        home = os.path.join(self.run_dir, "home")
        os.makedirs(home, exist_ok=True)
        if self.uid:
            _chown_tree(self.work, self.uid, self.gid)
            _chown_tree(self.run_dir, self.uid, self.gid)
        os.chmod(self.work, 0o755)
        os.chmod(self.run_dir, 0o755)

    def env(self):
        home = os.path.join(self.run_dir, "home")
        env = {
            "PATH": os.path.dirname(sys.executable) + ":/usr/local/bin:/usr/bin:/bin",
            "HOME": home, "USER": "student", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
            "TMPDIR": self.run_dir, "MPLBACKEND": "Agg", "MPLCONFIGDIR": os.path.join(home, ".mpl"),
            "IPYTHONDIR": os.path.join(home, ".ipython"), "JUPYTER_RUNTIME_DIR": self.run_dir,
            "KERAS_HOME": os.path.join(home, ".keras"), "KERAS_BACKEND": "tensorflow",
            "TF_CPP_MIN_LOG_LEVEL": "3", "TF_ENABLE_ONEDNN_OPTS": "0", "PYTHONHASHSEED": "0",
            "PYTHONWARNINGS": "ignore", "PYTHONDONTWRITEBYTECODE": "1",
            "NBGRADER_EXECUTION": "autograde", "CUDA_VISIBLE_DEVICES": os.environ.get("CUDA_VISIBLE_DEVICES", ""),
        }
        if "CUDA_VISIBLE_DEVICES" not in os.environ:
            env.pop("CUDA_VISIBLE_DEVICES")
        if data_dirs():
            env["TFDS_DATA_DIR"] = data_dirs()[0]
        env.update(self.extra_env)
        return env

    def command(self, mode, payload_text, args=()):
        """The argv running ``mode`` ('kernel' or 'worker') in the sandbox; payload = connection
        file contents (kernel) or the worker's source (worker)."""
        self._n += 1
        payload = os.path.join(self.boot_dir, f"payload-{self._n}")
        with open(payload, "w") as f:
            f.write(payload_text)
        lim = self.limits
        ns = self.isolation == "namespaces"
        cfg = {
            "mode": mode, "payload": payload, "args": list(args), "namespaces": ns,
            "hide": self.hide, "keep": sorted({sys.prefix, os.path.realpath(sys.prefix), sys.base_prefix,
                             os.path.realpath(sys.base_prefix), self.dir, *data_dirs()}),
            "stash": _stash_dir(self.hide),
            "log": os.path.join(self.run_dir, f"{mode}-{self._n}.log"),
            "cwd": self.work, "runtime": self.run_dir, "uid": self.uid, "gid": self.gid,
            "project_paths": [PROJECT_ROOT],
            "limits": {"as": lim.memory_mb * 2**20 if lim.memory_mb else None, "nproc": lim.nproc,
                       "fsize": lim.fsize_mb * 2**20, "cpu": int(lim.total_timeout * 2 + 60), "core": 0},
        }
        cfg_path = os.path.join(self.boot_dir, f"config-{self._n}.json")
        with open(cfg_path, "w") as f:
            json.dump(cfg, f)
        cmd = [sys.executable, "-I", os.path.join(HERE, "_boot.py"), cfg_path]
        if ns:
            cmd = ["unshare", "--mount", "--net", "--pid", "--fork", "--kill-child=SIGKILL",
                   "--mount-proc", "--"] + cmd
        return cmd

    def log_tail(self, mode, n=2000):
        """The end of the newest log of ``mode`` (for crash messages)."""
        logs = sorted((f for f in os.listdir(self.run_dir) if f.startswith(mode + "-")),
                      key=lambda f: int(f.split("-")[1].split(".")[0]))
        if not logs:
            return ""
        with open(os.path.join(self.run_dir, logs[-1]), "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - n))
            return f.read().decode("utf-8", "replace")

    def cleanup(self):
        global _scratch_root
        shutil.rmtree(self.dir, ignore_errors=True)
        try:   # the per-process root too once empty (pool workers exit without atexit)
            os.rmdir(os.path.dirname(self.dir))
            _scratch_root = None
        except OSError:
            pass


def _stash_dir(hide):
    """An existing directory outside every hidden one, used as a mount point inside the sandbox's
    own mount namespace only (the host's view of it never changes)."""
    for d in ("/media", "/srv", "/opt", "/mnt"):
        if os.path.isdir(d) and not any(d == h or d.startswith(h + "/") for h in hide):
            return d
    raise RuntimeError("no mount point for the sandbox stash")
