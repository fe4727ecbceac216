"""The :class:`Student` proxy of hidden tests: a sandboxed worker process serving call / vjp / probe.

The worker (``worker.py``, with ``wire.py``'s codec sent ahead of it) runs inside a
:class:`autograder.sandbox.Sandbox`; every comparison happens in the grader, on the plain data it
returns.
"""
from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import time

from .hidden import HiddenTestFailure
from .sandbox import HERE, Sandbox
from .wire import decode, encode


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
