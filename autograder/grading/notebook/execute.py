"""Running a restored notebook in the sandboxed kernel, cell by cell, with the grader's injected
tamper checks (see :mod:`autograder.grading.notebook.score` for how their verdicts cost points); a timeout or a dead
kernel is recorded on its cell, the kernel restarted and the run goes on."""
from __future__ import annotations

import asyncio
import copy
import json
import re
import secrets
import time

import nbformat

from .cells import cell_keys, grade_id, is_grade, is_locked, is_solution, tags

LOCKED_TOKEN_RE = re.compile(r"^(AGT-[0-9a-f]{16}):(OK|TAMPERED):?(.*)$", re.M)


# ---------------------------------------------------------------------------------------------
# Injected cells (tamper checks)
# ---------------------------------------------------------------------------------------------
SNAPSHOT = r'''
def _ag_install(token):
    import builtins, sys, math, operator, numpy, numpy.testing
    ip = get_ipython()
    watched = ["builtins", "math", "operator", "numpy", "numpy.testing", "numpy.linalg", "numpy.random",
               "numpy.testing._private.utils", "numpy._core.numeric", "numpy._core.fromnumeric",
               "numpy.core.numeric", "unittest.case"]
    def code_of(v):
        return getattr(v, "__code__", None) or getattr(getattr(v, "__func__", None), "__code__", None)
    def unbound(v):
        return getattr(v, "__func__", v)
    def snap_module(name):
        m = sys.modules.get(name)
        if m is None:
            return {}
        return {(name, k): (v, code_of(v)) for k, v in list(vars(m).items())
                if callable(v) and not k.startswith("__") and k not in volatile}
    volatile = {"input", "raw_input", "getpass", "display", "get_ipython"}   # ipykernel rebinds these
    def lib_get(key):
        if key[0] == "IPython":
            inst = ip.__dict__.get(key[1])
            return unbound(inst) if inst is not None else getattr(type(ip), key[1], None)
        return vars(sys.modules.get(key[0], builtins)).get(key[1])
    lib = {}
    for name in watched:
        lib.update(snap_module(name))
    shell_cls = type(ip)
    for attr in ("run_cell", "run_code", "run_ast_nodes", "showtraceback", "_showtraceback", "run_cell_async"):
        if hasattr(shell_cls, attr):
            cur = lib_get(("IPython", attr))
            lib[("IPython", attr)] = (cur, code_of(cur))
    protected = {}
    real_print, real_stdout, real_id, real_items = builtins.print, sys.stdout, builtins.id, dict.items
    state = {"before": {}}
    def changed(table, get):
        bad = []
        for key, (obj, code) in real_items(table):
            cur = get(key)
            if unbound(cur) is not unbound(obj) or (code is not None and code_of(cur) is not code):
                bad.append(".".join(key) if isinstance(key, tuple) else key)
        return bad
    def before_locked():
        state["before"] = {k: real_id(v) for k, v in real_items(ip.user_ns)}
    def after_locked():
        for k, v in list(real_items(ip.user_ns)):
            if k.startswith("_") or state["before"].get(k) == real_id(v):
                continue
            if callable(v) and (code_of(v) is not None or isinstance(v, type)):
                protected[k] = (v, code_of(v))
    def check():
        bad = changed(lib, lib_get) + changed(protected, lambda k: ip.user_ns.get(k))
        verdict = "OK" if not bad else "TAMPERED:" + ",".join(sorted(bad))
        real_print(token + ":" + verdict, file=real_stdout, flush=True)
    return before_locked, after_locked, check
'''


class Injector:
    """The grader's cells: a snapshot at kernel start, bookkeeping around locked cells, a check
    before each grade cell. Each kernel (re)start gets a fresh random handle name."""

    def __init__(self):
        self.token = "AGT-" + secrets.token_hex(8)
        self.handle = "_ag_" + secrets.token_hex(6)

    def _cell(self, src):
        return nbformat.v4.new_code_cell(src)

    def snapshot(self):
        return self._cell(SNAPSHOT + f"{self.handle} = _ag_install({self.token!r})\ndel _ag_install\n")

    def before_locked(self):
        return self._cell(f"{self.handle}[0]()")

    def after_locked(self):
        return self._cell(f"{self.handle}[1]()")

    def check(self):
        return self._cell(f"{self.handle}[2]()")

    def _answer(self, cell):
        text = "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")
        return next((m for m in LOCKED_TOKEN_RE.finditer(text) if m.group(1) == self.token), None)

    def answered(self, cell):
        """Whether the check cell's output holds this kernel's token (a verdict either way)."""
        return self._answer(cell) is not None

    def verdict(self, cell):
        m = self._answer(cell)
        if m is not None:
            return m.group(2) == "OK", m.group(3)
        return False, "the grader's integrity check did not run (the kernel's output was tampered with?)"


# ---------------------------------------------------------------------------------------------
# Execution
# ---------------------------------------------------------------------------------------------
def _make_client_class():
    from nbclient import NotebookClient

    class GradingClient(NotebookClient):
        """nbclient with output caps and the execute_reply status recorded per cell."""
        output_cap = 512 * 1024

        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            self.reply_status = {}
            self._sizes = {}

        async def _check_raise_for_error(self, cell, cell_index, exec_reply):
            if exec_reply is not None:
                self.reply_status[id(cell)] = exec_reply["content"].get("status")
            return await super()._check_raise_for_error(cell, cell_index, exec_reply)

        def output(self, outs, msg, display_id, cell_index):
            content = msg.get("content", {})
            size = len(json.dumps(content.get("data", ""))) + len(content.get("text", "") or "")
            key = id(outs)
            used = self._sizes.get(key, 0)
            self._sizes[key] = used + size
            if used + size > self.output_cap:
                if used <= self.output_cap:
                    outs.append(nbformat.v4.new_output(
                        "stream", name="stdout",
                        text=f"\n[output truncated by the grader: more than {self.output_cap // 1024} KB]\n"))
                return None
            return super().output(outs, msg, display_id, cell_index)

    return GradingClient


def _kernel_manager_class():
    from jupyter_client.manager import AsyncKernelManager

    class SandboxKernelManager(AsyncKernelManager):
        """Launches ipykernel through the sandbox (see sandbox.py); ZMQ over ipc sockets in the
        scratch dir, since the kernel lives in its own network namespace."""
        sandbox = None

        def format_kernel_cmd(self, extra_arguments=None):
            with open(self.connection_file) as f:
                conn = f.read()
            return self.sandbox.command("kernel", conn)

    return SandboxKernelManager


def error_output(ename, evalue):
    return nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


class NotebookRun:
    """Runs ``nb`` cell by cell in the sandboxed kernel; after a timeout or a dead kernel, records
    it on that cell, restarts the kernel, replays earlier ``grader-namespace`` cells and goes on."""

    MAX_RESTARTS = 6

    def __init__(self, nb, sandbox, deadline, log, cell_limits=None):
        self.nb = nb
        self.sandbox = sandbox
        self.deadline = deadline
        self.log = log
        self.cell_limits = cell_limits or {}   # cell_key -> seconds (calibrated on the reference)
        self.seconds = {}           # cell_key -> seconds the cell took (calibration reads these)
        self.keys = cell_keys(nb)
        self.verdicts = {}          # id(grade cell) -> (ok, detail)
        self.statuses = {}          # id(cell) -> execute_reply status
        self.failed = set()         # indices of cells that timed out / killed the kernel
        self.restarts = 0
        self.events = []

    def remaining(self):
        return self.deadline - time.monotonic()

    async def _start(self):
        KM = _kernel_manager_class()
        import os
        km = KM(transport="ipc", ip=os.path.join(self.sandbox.run_dir, f"k{self.restarts}"))
        km.sandbox = self.sandbox
        km.connection_file = os.path.join(self.sandbox.boot_dir, f"conn-{self.restarts}.json")
        self.km = km                     # from now on _stop closes it, even if the start fails
        await km.start_kernel(env=self.sandbox.env())
        Client = _make_client_class()
        # nbclient writes each executed cell back into client.nb at its index: give it a scratch
        # notebook with one extra slot (for the injected cells) so ours is never overwritten
        shadow = nbformat.v4.new_notebook(cells=[nbformat.v4.new_raw_cell("") for _ in range(len(self.nb.cells) + 1)])
        shadow.metadata = copy.deepcopy(self.nb.metadata)
        client = Client(shadow, km=km, timeout=self.sandbox.limits.cell_timeout, allow_errors=True,
                        interrupt_on_timeout=False, kernel_name="python3",
                        startup_timeout=int(self.sandbox.limits.startup_timeout),
                        shell_timeout_interval=1, iopub_timeout=4, raise_on_iopub_timeout=False)
        client.output_cap = self.sandbox.limits.output_kb * 1024
        await client.async_start_new_kernel_client()
        self.client = client
        self.injector = Injector()
        await self._exec(self.injector.snapshot(), len(self.nb.cells), 60)

    async def _stop(self):
        try:
            if getattr(self, "client", None) is not None and self.client.kc is not None:
                self.client.kc.stop_channels()
        except Exception:
            pass
        try:
            await self.km.shutdown_kernel(now=True)
        except Exception:
            try:
                await self.km.provisioner.kill()
            except Exception:
                pass
        # The manager's own zmq context (its sockets and the client's), closed now with linger 0: left to the
        # garbage collector, a context whose sockets still hold messages for the dead kernel blocks for ever
        # in Context.__del__ -> term(), at whatever moment GC runs (seen: a grade-all pool worker hung while
        # unpickling its next job, after a kernel whose shutdown_kernel had failed).
        context = getattr(getattr(self, "km", None), "context", None)
        if context is not None and not context.closed:
            context.destroy(linger=0)
        # what escaped the kernel's process tree (a fork bomb's newest children, a setsid'd daemon)
        # would keep the sandbox uid's process quota and starve the restarted kernel: kill them all
        self.sandbox.kill_all()
        self.client = None

    async def _exec(self, cell, index, timeout):
        self.client.timeout = max(1, int(timeout))
        await self.client.async_execute_cell(cell, index)
        self.statuses[id(cell)] = self.client.reply_status.get(id(cell))
        return cell

    async def _run_cell(self, cell, index, replay=False):
        """Execute one notebook cell with its injected companions. Raises on timeout/death."""
        key = self.keys[index] if index < len(self.keys) else None
        budget = min(self.cell_limits.get(key, self.cell_limits.get("*", self.sandbox.limits.cell_timeout)),
                     self.sandbox.limits.cell_timeout, self.remaining())
        if budget <= 0:
            raise TimeoutError("total")
        locked = is_locked(cell) and not is_grade(cell) and not is_solution(cell)
        if is_grade(cell) and not replay:
            for _ in range(2):   # no token at all: a starved kernel's output can come after iopub_timeout; ask once more
                chk = await self._exec(self.injector.check(), len(self.nb.cells), 30)
                if self.injector.answered(chk):
                    break
            self.verdicts[id(cell)] = self.injector.verdict(chk)
        if locked:
            await self._exec(self.injector.before_locked(), len(self.nb.cells), 30)
        if replay:
            cell = copy.deepcopy(cell)
        t0 = time.monotonic()
        await self._exec(cell, index, budget)
        if not replay and key is not None:
            self.seconds[key] = time.monotonic() - t0
        if locked:
            await self._exec(self.injector.after_locked(), len(self.nb.cells), 30)

    async def _replay(self, upto):
        for j, c in enumerate(self.nb.cells[:upto]):
            if c.cell_type == "code" and "grader-namespace" in tags(c) and j not in self.failed:
                await self._run_cell(c, j, replay=True)

    async def run(self):
        from nbclient.exceptions import CellTimeoutError, DeadKernelError
        cells = self.nb.cells
        i = 0
        started = False
        while i < len(cells):
            cell = cells[i]
            if cell.cell_type != "code" or not cell.source.strip():
                i += 1
                continue
            if self.remaining() <= 0:
                for c in cells[i:]:
                    if c.cell_type == "code" and c.source.strip():
                        c.outputs = [error_output("TimeLimit", "not run: the submission's total time limit was reached")]
                break
            try:
                if not started:
                    await self._start()
                    started = True
                    if i > 0:
                        await self._replay(i)
                await self._run_cell(cell, i)
                i += 1
            except (CellTimeoutError, DeadKernelError, TimeoutError, RuntimeError, OSError) as e:
                if isinstance(e, (CellTimeoutError, TimeoutError)):
                    if self.remaining() <= 1:
                        what = ("TimeLimit", "this cell was still running when the submission's total time limit "
                                "was reached")
                    else:
                        what = ("Timeout", f"this cell took longer than {self.client.timeout} s "
                                "(infinite loop or too much work?); the kernel was restarted")
                else:
                    tail = self.sandbox.log_tail("kernel", 400)
                    why = "out of memory" if "MemoryError" in tail or "Killed" in tail else \
                        "sys.exit/os._exit, a crash, out of memory or a killed process"
                    what = ("KernelDied", f"the kernel died while running this cell ({why}); "
                            "it was restarted and the earlier setup and solution cells re-run")
                self.events.append(f"cell {i + 1} ({grade_id(cell) or 'your own cell'}): {what[1]}")
                cell.outputs = list(cell.get("outputs", []))[-20:] + [error_output(*what)]
                self.statuses[id(cell)] = "error"
                self.failed.add(i)
                await self._stop()
                started = False
                self.restarts += 1
                i += 1
                if self.restarts > self.MAX_RESTARTS:
                    for c in cells[i:]:
                        if c.cell_type == "code" and c.source.strip():
                            c.outputs = [error_output("NotRun", "not run: the kernel crashed too many times")]
                    break
        if started:
            await self._stop()
        return self.nb

    def execute(self):
        return asyncio.run(self.run())
