"""The :class:`Student` proxy of hidden tests and trusted checks: sandboxed worker processes serving
call / vjp / probe.

Each worker (``worker.py``, with ``wire.py``'s codec sent ahead of it) runs inside a
:class:`autograder.isolation.sandbox.Sandbox`; every comparison happens in the grader, on the plain data it
returns. Two workers per submission:

- "notebook": imports the student's package (if any) and runs the notebook's ``grader-namespace``
  cells; bare names ("build_resnet") and ``probe`` run here.
- "stencil": imports only the student's stencil package (no notebook code at all), for dotted names
  of the stencil ("beras.nn.conv2d") and ``probe(..., stencil=True)``: nothing the notebook does can
  change what these calls compute.

The framework rule is observed from the grader, not reported by student code: after every watched
request the grader reads ``/proc/PID/maps`` of the worker's process tree; a forbidden framework's
native library mapped there means the student's code computed with (or at least loaded) it.
"""
from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import time

from ..hidden import HiddenTestFailure
from ..isolation.sandbox import Sandbox
from ..paths import AUTOGRADER_DIR
from ..policy import DEFAULT_FORBIDDEN, runtime_patterns
from ..wire import decode, encode


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


def safe_type(name):
    """An exception's type name as the student's process reported it, shown only when it is one of
    Python's own (a class of the student's could be named anything): else "an exception"."""
    import builtins
    name = str(name)
    ok = isinstance(getattr(builtins, name, None), type) and issubclass(getattr(builtins, name), BaseException)
    return name if ok else "an exception"


def absent_note(kind, absent, package=None):
    """The grader's own words for an import error (``kind``, from :func:`safe_type`) in a process where the
    frameworks ``absent`` cannot be imported ("" otherwise): the student's message is never shown in a row
    shown before the due date, so this says what it most likely means."""
    if kind not in ("ImportError", "ModuleNotFoundError") or not absent:
        return ""
    pkg = package or "code"
    return (f"; a forbidden framework ({', '.join(absent)}) is not available to your {pkg} while grading: {pkg} "
            "must be NumPy only")


class WorkerCrashed(HiddenTestFailure):
    pass


class StudentCodeError(HiddenTestFailure):
    pass


def process_tree(pid):
    """``pid`` and all its descendants (via /proc/PID/task/*/children)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except OSError:
            continue
    return out


UNINSPECTABLE = "an uninspectable process"


def _read_maps(pids):
    """{pid: text of /proc/PID/maps, or None when it may not be read}; vanished processes left out."""
    out = {}
    for p in pids:
        try:
            with open(f"/proc/{p}/maps") as f:
                out[p] = f.read()
        except (FileNotFoundError, ProcessLookupError):
            continue
        except PermissionError:
            out[p] = None
    return out


def _read_maps_as(uid, pids):
    """Read the maps as ``uid`` (a forked helper that drops to it): root without CAP_SYS_PTRACE (Docker's
    default capabilities) may not read another uid's maps, the same uid may while the target is dumpable."""
    import json as _json
    r, w = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            os.close(r)
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            data = {str(k): v for k, v in _read_maps(pids).items()}
            os.write(w, _json.dumps(data).encode())
        finally:
            os._exit(0)
    os.close(w)
    chunks = []
    while True:
        chunk = os.read(r, 1 << 20)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(r)
    os.waitpid(child, 0)
    try:
        return {int(k): v for k, v in _json.loads(b"".join(chunks) or b"{}").items()}
    except ValueError:
        return {p: None for p in pids}


def frameworks_in_maps(maps, forbidden):
    """Display names of the ``forbidden`` frameworks (module names, autograder.policy) whose native code
    one of ``maps`` ({pid: text of /proc/PID/maps, or None when unreadable}) shows; an unreadable one
    counts as ``UNINSPECTABLE``."""
    patterns = runtime_patterns(forbidden)
    found = set()
    for text in maps.values():
        if text is None:
            found.add(UNINSPECTABLE)
            continue
        found.update(name for name, rx in patterns.items() if rx.search(text))
    return sorted(found)


def frameworks_mapped(pid, forbidden, uid=None):
    """Display names of the ``forbidden`` frameworks whose native code is mapped in ``pid``'s process tree
    (grader side: read from /proc, which the student's code cannot rewrite). A process whose maps cannot
    be read, even as its own uid, is reported as ``UNINSPECTABLE``."""
    pids = process_tree(pid)
    maps = _read_maps(pids)
    denied = [p for p, text in maps.items() if text is None]
    if denied and uid and os.geteuid() == 0:
        maps.update(_read_maps_as(uid, denied))
    return frameworks_in_maps(maps, forbidden)


class Worker:
    """One sandboxed worker process (see the module doc). A crash or timeout fails the current
    request; the next request starts a fresh process. ``deadline`` (time.monotonic) caps every call."""

    MAX_REPLY_MB = 8                     # a reply (one JSON line) larger than this kills the worker

    def __init__(self, sandbox: Sandbox, cells, deadline=None, forbidden=(), label="notebook", package=None,
                 absent=False):
        self.sandbox = sandbox
        self.absent = absent             # the sandbox's forbidden frameworks cannot be imported in it
        self.private = None              # its own folder (Sandbox.private), fresh for every process
        self.package = package
        self.cells = list(cells)
        self.deadline = deadline
        self.forbidden = list(forbidden)
        self.label = label
        self.proc = None
        self.info = None                 # the worker's hello: beras file, forbidden modules, cell errors
        self.events = []                 # crashes/timeouts, for the grader's log
        self.skip = set()                # namespace cells that crashed/hung the worker
        self.start_error = None          # the worker cannot start at all: fail fast afterwards
        self.at_hello = []               # frameworks mapped once the worker had started
        self.last_frameworks = []        # frameworks mapped when it was last killed
        self.test_deadline = None        # the current hidden test's own limit (calibrated)

    # -- process management --------------------------------------------------------------------
    def _start(self):
        src = ""
        for part in ("wire.py", "calls.py", "isolation/worker.py"):  # the worker can't import this package:
            with open(os.path.join(AUTOGRADER_DIR, part)) as f:          # send the codec's and the calls' source
                src += f.read() + "\n"
        job = {"cells": self.cells, "forbidden": self.forbidden, "skip": sorted(self.skip),
               "package": self.package}
        r, w = os.pipe()
        self._drop_private()
        self.private = self.sandbox.private(self.label)
        cmd = self.sandbox.command("worker", src, args=[str(w)], job=job,   # one structure, decoded once
                                   private=self.private, absent=self.absent)
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, pass_fds=(w,), env=self.sandbox.env(self.private),
                                     start_new_session=True)
        os.close(w)
        self._r = r
        self._chunks, self._size = [], 0     # the reply read so far (no newline yet): bounded
        self._caps_at = self.sandbox.caps_state()   # crash messages name the caps hit since
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
            self.at_hello = self.frameworks()
            return

    def _budget(self, timeout):
        ends = [d for d in (self.deadline, self.test_deadline) if d is not None]
        if not ends:
            return timeout
        return max(0.0, min(timeout, min(ends) - time.monotonic()))

    def kill(self):
        if self.proc is not None:
            self.last_frameworks = self.frameworks()    # what it had loaded (timeouts kill mid-call)
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
        self._drop_private()

    def _drop_private(self):
        if self.private is not None:
            import shutil
            shutil.rmtree(self.private, ignore_errors=True)
            self.private = None

    close = kill

    def _read(self, timeout, what):
        """The worker's next reply line, decoded. Bounded: the grader never holds more than
        ``MAX_REPLY_MB`` (+ one read) of a reply; a longer one kills the worker and fails this call."""
        end = time.monotonic() + timeout
        cap = self.MAX_REPLY_MB * 2**20
        while True:
            if self._chunks and b"\n" in self._chunks[-1]:
                break
            left = end - time.monotonic()
            if left <= 0:
                self.kill()
                self.events.append(f"timeout: {what}")
                if self.deadline is not None and time.monotonic() >= self.deadline - 0.01:
                    raise WorkerCrashed(f"{what}: the submission's total time limit was reached")
                raise WorkerCrashed(f"{what}: timed out after {timeout:.0f} s (infinite loop or too slow?)")
            ready, _, _ = select.select([self._r], [], [], min(left, 1.0))
            if ready:
                chunk = os.read(self._r, min(1 << 20, cap + 1 - self._size))
                if not chunk:
                    rc = self.proc.wait(timeout=10) if self.proc else None
                    tail = self.sandbox.log_tail("worker", 600).strip()
                    self.proc = None
                    self.events.append(f"crash: {what}")
                    msg = f"{what}: your code's process {describe_exit(rc)}"
                    if "MemoryError" in tail:
                        msg += " (MemoryError: it ran out of memory)"
                    msg += "".join(f" ({why})" for why in self.sandbox.caps_hit(self._caps_at))
                    raise WorkerCrashed(msg)
                self._chunks.append(chunk)
                self._size += len(chunk)
                if self._size > cap and b"\n" not in chunk:
                    self._chunks, self._size = [], 0
                    raise self._too_large(what)
            elif self.proc is not None and self.proc.poll() is not None and not ready:
                continue
        line, _, rest = b"".join(self._chunks).partition(b"\n")
        self._chunks, self._size = ([rest], len(rest)) if rest else ([], 0)
        if len(line) > cap:
            raise self._too_large(what)
        try:
            return decode(json.loads(line))
        except (ValueError, TypeError) as e:
            self.kill()
            raise WorkerCrashed(f"{what}: unreadable reply from your code's process ({e})") from None

    def _too_large(self, what):
        self.kill()
        self.events.append(f"reply too large: {what}")
        return WorkerCrashed(f"{what}: your code returned more than {self.MAX_REPLY_MB} MB (the most the grader "
                             "reads back from one call: the process was stopped); return a smaller result")

    def request(self, req, timeout, what):
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
        self._caps_at = self.sandbox.caps_state()
        try:
            self.proc.stdin.write(json.dumps(encode(req)).encode() + b"\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            self.kill()
            raise WorkerCrashed(f"{what}: your code's process died") from None
        reply = self._read(self._budget(timeout), what)
        if not isinstance(reply, dict):
            raise WorkerCrashed(f"{what}: unreadable reply from your code's process")
        if "error" in reply:
            err = reply["error"]
            exc = StudentCodeError(f"{what} raised {err.get('type')}: {err.get('message', '')}".rstrip(": "))
            exc.what, exc.type_name = what, err.get("type")
            raise exc
        return reply.get("result")

    def frameworks(self):
        return frameworks_mapped(self.proc.pid, self.forbidden, self.sandbox.uid) if self.proc is not None else []


class Student:
    """The sandboxed proxy of hidden tests (same calls as :class:`autograder.hidden.LocalStudent`).

    ``stencil``: the student's package name ("beras") or None; ``watch``: whether the framework rule
    applies (the assignment forbids frameworks in the stencil). After each test the grader reads
    ``framework_hits`` (what the student's processes had loaded while computing the test's stencil
    results) and ``calls``.
    """

    def __init__(self, sandbox: Sandbox, cells, deadline=None, stencil=None, watch=False,
                 forbidden=DEFAULT_FORBIDDEN, notebook_frameworks=False):
        # frameworks absent wherever the stencil computes under the rule; the notebook worker keeps them only
        # when the notebook's own grader-namespace code needs them (``notebook_frameworks``)
        self.notebook = Worker(sandbox, cells, deadline, forbidden, "notebook", stencil,
                               absent=watch and not notebook_frameworks)
        self.stencil_worker = Worker(sandbox, [], deadline, forbidden, "stencil", stencil,
                                     absent=watch) if stencil else None
        self.capable_ran = True          # a process that may use the frameworks ran since the last reset (the kernel)
        self.sandbox = sandbox
        self.stencil = stencil
        self.watch = watch
        self.profile = "smoke"           # the resolved profile, for tests that depend on it (training)
        self.calls = []                  # names called during the current test
        self.quiet = False               # the current test's row shows now: the student's error texts stay out
        self.framework_hits = []         # [(what, [frameworks], when)] during the current test

    @property
    def info(self):
        return self.notebook.info

    @property
    def events(self):
        return self.notebook.events + (self.stencil_worker.events if self.stencil_worker else [])

    def _worker_for(self, name=None, stencil=False):
        if self.stencil_worker is not None and (stencil or str(name).startswith(self.stencil + ".")):
            return self.stencil_worker
        return self.notebook

    def _separate(self, worker):
        """No process that may use the frameworks is alive (or has left anything behind) while one where they
        are absent computes: before a request to an absent worker after a capable one ran, every process of
        the sandbox dies and the world-writable dirs lose the sandbox uid's files (each worker's folder is
        its own already), so no socket, shared memory, keyring or file reaches a framework."""
        if worker.absent and self.capable_ran:
            for w in (self.notebook, self.stencil_worker):
                if w is not None:
                    w.kill()
            self.sandbox.kill_all()
            self.sandbox.reset_shared()
            self.capable_ran = False
        elif not worker.absent:
            self.capable_ran = True

    def _run(self, worker, req, timeout, what, watched):
        self._separate(worker)
        try:
            return worker.request(req, timeout, what)
        except StudentCodeError as e:
            if not self.quiet:
                raise
            kind = safe_type(e.type_name)
            absent = absent_note(kind, worker.forbidden if worker.absent else (), self.stencil)
            raise StudentCodeError(f"{e.what} raised {kind}{absent} (its message is not shown here: "
                                   "this row shows before the due date and the grader's checks may use inputs "
                                   "it keeps to itself; your notebook's own run of the test shows it)") from None
        finally:
            if watched and self.watch:
                found = (worker.frameworks() if worker.proc is not None else worker.last_frameworks) or \
                    sorted(set((worker.info or {}).get("beras_forbidden") or []))
                if found:
                    when = ("already when your code had been imported" if worker.at_hello else "while running it")
                    self.framework_hits.append((what, found, when))
                    if worker is self.stencil_worker and not worker.at_hello:
                        # what this call loaded stays loaded: a fresh process for the next part, so that
                        # only the parts whose own code loads a framework lose their points
                        worker.kill()

    def call(self, name, *args, **kwargs):
        self.calls.append(name)
        w = self._worker_for(name)
        return self._run(w, {"op": "call", "name": name, "args": list(args), "kwargs": kwargs},
                         self.sandbox.limits.call_timeout, f"calling {name}", w is self.stencil_worker)

    def vjp(self, name, args, kwargs=None, wrt=(0,), upstream=None):
        self.calls.append(name)
        w = self._worker_for(name)
        out = self._run(w, {"op": "vjp", "name": name, "args": list(args), "kwargs": kwargs or {},
                            "wrt": list(wrt), "upstream": upstream},
                        self.sandbox.limits.call_timeout, f"the gradient of {name}", w is self.stencil_worker)
        return out[0], list(out[1])

    def call_isolated(self, name, *args, **kwargs):
        """Call notebook function ``name`` in a process where no other notebook code ran and no framework
        was imported: its definition (and the helpers and imports it uses) is read by the grader from the
        notebook's text (:func:`autograder.grading.notebook.cells.definitions`) and run in a fresh worker of its own (the
        student's package importable, nothing else), which the framework rule watches. For a part that must be computed without TensorFlow in a notebook that
        imports TensorFlow for its checks (e.g. a naive loop convolution)."""
        from .notebook.cells import definitions
        self.calls.append(name)
        src = definitions(self.notebook.cells, name)
        if src is None:
            raise HiddenTestFailure(f"`{name}` is not defined in your notebook (a solution cell raised or was not run?)")
        # a fresh process per call: what one function loads must not reach another's check
        w = Worker(self.sandbox, [], self.notebook.deadline, self.notebook.forbidden, "isolated", self.stencil,
                   absent=self.stencil_worker.absent if self.stencil_worker is not None else self.watch)
        w.test_deadline = self.notebook.test_deadline
        code = src + f"\nresult = {name}(*args, **kwargs)\n"
        try:
            return self._run(w, {"op": "probe", "code": code, "inputs": {"args": list(args), "kwargs": kwargs}},
                             self.sandbox.limits.call_timeout, f"calling {name} on its own", True)
        finally:
            w.kill()

    def probe(self, code, timeout=None, *, stencil=False, uses_stencil=False, **inputs):
        """Run trusted ``code`` in the notebook worker, or with ``stencil=True`` in the stencil worker
        (no notebook code). ``uses_stencil=True`` marks a notebook probe that computes with the
        student's stencil (e.g. a model of its layers): the framework rule watches it too."""
        self.calls.append("<probe>")
        w = self._worker_for(stencil=stencil)
        return self._run(w, {"op": "probe", "code": code, "inputs": inputs},
                         timeout or self.sandbox.limits.call_timeout, "running your code",
                         w is self.stencil_worker or uses_stencil)

    def set_test_deadline(self, when):
        for w in (self.notebook, self.stencil_worker):
            if w is not None:
                w.test_deadline = when

    def hello(self):
        """Start the notebook worker (if needed) and return its report."""
        if self.notebook.proc is None:
            self._separate(self.notebook)
            self.notebook._start()
        return self.notebook.info

    def kill(self):
        self.notebook.kill()
        if self.stencil_worker is not None:
            self.stencil_worker.kill()

    close = kill
