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
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from .hidden import HiddenTestFailure
from .wire import decode, encode

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


def describe_exit(returncode):
    if returncode is None:
        return "still running"
    if returncode < 0:
        sig = -returncode
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
        hint = " (killed: out of memory or killed by your code?)" if sig == signal.SIGKILL else ""
        return f"killed by signal {name}{hint}"
    if returncode >= 128 and returncode - 128 in signal.Signals._value2member_map_:
        return f"killed by signal {signal.Signals(returncode - 128).name}"
    return f"exited with status {returncode}"


class WorkerCrashed(HiddenTestFailure):
    pass


class StudentCodeError(HiddenTestFailure):
    pass


class Student:
    """The sandboxed proxy of hidden tests (same calls as :class:`autograder.hidden.LocalStudent`).

    A worker process (``worker.py`` in the sandbox) imports the student's beras, runs the notebook's
    ``grader-namespace`` cells and serves requests. A crash or timeout fails the current test and the
    next request starts a fresh worker. ``deadline`` (time.monotonic) caps every call.
    """

    MAX_LINE = 512 * 2**20

    def __init__(self, sandbox: Sandbox, cells, deadline=None, forbidden=("tensorflow", "keras", "torch")):
        self.sandbox = sandbox
        self.cells = list(cells)
        self.deadline = deadline
        self.forbidden = list(forbidden)
        self.proc = None
        self.info = None                 # the worker's hello: beras file, forbidden modules, cell errors
        self.events = []                 # crashes/timeouts, for the grader's log
        self.calls = []                  # names called during the current test (for TF-use checks)
        self.tf_used_in = set()          # beras.* calls that imported a forbidden module
        self.skip = set()                # namespace cells that crashed/hung the worker
        self.start_error = None          # the worker cannot start at all: fail fast afterwards

    # -- process management --------------------------------------------------------------------
    def _start(self):
        src = ""
        for part in ("wire.py", "worker.py"):  # the worker can't import this package: send the codec's source
            with open(os.path.join(HERE, part)) as f:
                src += f.read() + "\n"
        job = os.path.join(self.sandbox.run_dir, "job.json")
        spec = {"cells": self.cells, "forbidden": self.forbidden, "skip": sorted(self.skip)}
        with open(job, "w") as f:
            json.dump(spec, f)
        if self.sandbox.uid:
            os.chown(job, self.sandbox.uid, self.sandbox.gid)
        r, w = os.pipe()
        cmd = self.sandbox.command("worker", src, args=[job, str(w)])
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, pass_fds=(w,), env=self.sandbox.env(),
                                     start_new_session=True)
        os.close(w)
        self._r = r
        self._buf = b""
        # the worker announces each namespace cell; one that hangs (cell_timeout) or kills the
        # process is skipped on the next start, so the other tests still run
        start_end = time.monotonic() + self._budget(self.sandbox.limits.startup_timeout)
        current = None
        while True:
            left = start_end - time.monotonic()
            per = min(left, self.sandbox.limits.cell_timeout) if current else left
            what = f"running your notebook cell {current}" if current else "starting your code"
            try:
                msg = self._read(max(0.0, per), what)
            except WorkerCrashed:
                if current is not None and current not in self.skip:
                    self.skip.add(current)
                    self.events.append(f"cell {current} skipped in the hidden-test process")
                    return self._start()
                raise
            if isinstance(msg, dict) and "progress" in msg:
                current = msg["progress"]
                continue
            self.info = msg
            return

    def _budget(self, timeout):
        if self.deadline is None:
            return timeout
        return max(0.0, min(timeout, self.deadline - time.monotonic()))

    def kill(self):
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                self.proc.kill()
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            try:
                os.close(self._r)
            except OSError:
                pass
        self.proc = None

    close = kill

    def _read(self, timeout, what):
        end = time.monotonic() + timeout
        while b"\n" not in self._buf:
            left = end - time.monotonic()
            if left <= 0:
                self.kill()
                self.events.append(f"timeout: {what}")
                if self.deadline is not None and time.monotonic() >= self.deadline - 0.01:
                    raise WorkerCrashed(f"{what}: the submission's total time limit was reached")
                raise WorkerCrashed(f"{what}: timed out after {timeout:.0f} s (infinite loop or too slow?)")
            ready, _, _ = select.select([self._r], [], [], min(left, 1.0))
            if ready:
                chunk = os.read(self._r, 1 << 20)
                if not chunk:
                    rc = self.proc.wait(timeout=10) if self.proc else None
                    tail = self.sandbox.log_tail("worker", 600).strip()
                    self.proc = None
                    self.events.append(f"crash: {what}")
                    msg = f"{what}: your code's process {describe_exit(rc)}"
                    if "MemoryError" in tail:
                        msg += " (MemoryError: it ran out of memory)"
                    raise WorkerCrashed(msg)
                self._buf += chunk
                if len(self._buf) > self.MAX_LINE:
                    self.kill()
                    raise WorkerCrashed(f"{what}: the result is too large")
            elif self.proc is not None and self.proc.poll() is not None and not ready:
                continue
        line, _, self._buf = self._buf.partition(b"\n")
        try:
            return decode(json.loads(line))
        except (ValueError, TypeError) as e:
            self.kill()
            raise WorkerCrashed(f"{what}: unreadable reply from your code's process ({e})") from None

    def _request(self, req, timeout, what):
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise WorkerCrashed(f"{what}: the submission's total time limit was reached")
        if self.start_error is not None:
            raise WorkerCrashed(self.start_error)
        if self.proc is None or self.proc.poll() is not None:
            self.kill()
            try:
                self._start()
            except WorkerCrashed as e:
                self.start_error = str(e)
                raise
        try:
            self.proc.stdin.write(json.dumps(encode(req)).encode() + b"\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            self.kill()
            raise WorkerCrashed(f"{what}: your code's process died") from None
        reply = self._read(self._budget(timeout), what)
        if not isinstance(reply, dict):
            raise WorkerCrashed(f"{what}: unreadable reply from your code's process")
        if reply.get("forbidden_loaded") and str(req.get("name", "")).startswith("beras"):
            self.tf_used_in.add(req["name"])
        if "error" in reply:
            err = reply["error"]
            raise StudentCodeError(f"{what} raised {err.get('type')}: {err.get('message', '')}".rstrip(": "))
        return reply.get("result")

    # -- the hidden-test API -------------------------------------------------------------------
    def call(self, name, *args, **kwargs):
        self.calls.append(name)
        return self._request({"op": "call", "name": name, "args": list(args), "kwargs": kwargs},
                             self.sandbox.limits.call_timeout, f"calling {name}")

    def vjp(self, name, args, kwargs=None, wrt=(0,), upstream=None):
        self.calls.append(name)
        out = self._request({"op": "vjp", "name": name, "args": list(args), "kwargs": kwargs or {},
                             "wrt": list(wrt), "upstream": upstream},
                            self.sandbox.limits.call_timeout, f"the gradient of {name}")
        return out[0], list(out[1])

    def probe(self, code, timeout=None, **inputs):
        self.calls.append("<probe>")
        return self._request({"op": "probe", "code": code, "inputs": inputs},
                             timeout or self.sandbox.limits.call_timeout, "running your code")

    def hello(self):
        """Start the worker (if needed) and return its report."""
        if self.proc is None:
            self._start()
        return self.info
