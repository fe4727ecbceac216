"""Notebook steps: restore protected cells, run the notebook in the sandboxed kernel, score grade cells.

Restoring (same rule as nbgrader's ``OverwriteCells`` with ``add_missing_cells``, keyed by
``grade_id``): every locked or grade cell comes from the instructor SOURCE (so hidden asserts in it
run too); a student's solution cell keeps the student's source but gets the source's metadata
(tags, flags); a deleted solution cell comes back as the RELEASE stub; deleted locked/grade cells
come back from the source. Cells the student added (no grade_id) stay after the protected cell they
followed. Metadata is never taken from the student, so a student cannot turn a test into a
solution cell or drop a ``grader-namespace`` tag.

Scoring (nbgrader's ``determine_grade``: error -> 0, a numeric execute_result -> partial credit,
else full points; points from the SOURCE metadata), with three changes:

- stderr alone never costs points (TensorFlow chatter); errors do.
- the kernel's own execute_reply status must be "ok" (hiding the traceback display is not enough).
- tamper checks: the grader injects a snapshot cell before the first notebook cell (identity and
  code of numpy / numpy.testing / math / builtins / IPython execution functions) and records the
  functions and classes each LOCKED cell defines; right before every grade cell an injected check
  compares them. A grade cell that runs after a monkeypatch gets 0 points with a message naming
  what changed. The check's verdict is read from its output, tagged with a random token sent only
  with the check itself. This is defence in depth (student code shares the kernel, so a determined
  attacker who rewrites the kernel's machinery can fool in-kernel checks); the hard guarantee is
  that hidden tests compare in the grader process, and a hidden test can ``guard`` notebook cells
  so their points count only when the trusted check agrees.
"""
from __future__ import annotations

import asyncio
import copy
import json
import re
import secrets
import time

import nbformat

LOCKED_TOKEN_RE = re.compile(r"^(AGT-[0-9a-f]{16}):(OK|TAMPERED):?(.*)$", re.M)


def nbg(cell):
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def grade_id(cell):
    return nbg(cell).get("grade_id")


def is_grade(cell):
    return bool(nbg(cell).get("grade"))


def is_solution(cell):
    return bool(nbg(cell).get("solution"))


def is_locked(cell):
    m = nbg(cell)
    return bool(m.get("locked")) or (bool(m.get("grade")) and not m.get("solution"))


def tags(cell):
    return list(cell.get("metadata", {}).get("tags", []) or [])


# ---------------------------------------------------------------------------------------------
# Restoring
# ---------------------------------------------------------------------------------------------
def restore_cells(student_nb, source_nb, release_nb):
    """The notebook to run: protected cells from ``source_nb``, solutions from the student (or the
    ``release_nb`` stub when missing). Returns (notebook, list of human-readable changes)."""
    changes = []
    release_cells = {grade_id(c): c for c in release_nb.cells if grade_id(c)}
    student_by_id = {}
    extras = {None: []}
    anchor = None
    for cell in (student_nb.cells if student_nb is not None else []):
        gid = grade_id(cell)
        if gid and gid not in student_by_id:
            student_by_id[gid] = cell
            anchor = gid
            extras.setdefault(gid, [])
        else:
            if gid:   # a duplicate of a protected cell: drop its metadata, keep it as an extra
                cell = copy.deepcopy(cell)
                cell["metadata"].pop("nbgrader", None)
            extras.setdefault(anchor, []).append(cell)

    out = []
    source_ids = set()

    def add_extras(key):
        for cell in extras.get(key, []):
            c = copy.deepcopy(cell)
            c.get("metadata", {}).pop("nbgrader", None)
            if "tags" in c.get("metadata", {}):
                c["metadata"]["tags"] = [t for t in c["metadata"]["tags"] if t != "grader-namespace"]
            out.append(c)

    add_extras(None)
    for src in source_nb.cells:
        gid = grade_id(src)
        if not gid:
            continue   # free cells of the source: the student's own copy (if any) is an extra
        source_ids.add(gid)
        cell = copy.deepcopy(src)
        if is_solution(src) and not (is_grade(src) and is_locked(src)):
            stu = student_by_id.get(gid)
            if stu is not None:
                cell["source"] = stu.get("source", "")
                if stu.get("cell_type") != src.get("cell_type"):
                    changes.append(f"cell {gid}: cell type restored to {src['cell_type']}")
            else:
                stub = release_cells.get(gid)
                cell["source"] = stub["source"] if stub is not None else "raise NotImplementedError()"
                changes.append(f"solution cell {gid} was missing: the original (empty) version was used")
        else:
            stu = student_by_id.get(gid)
            if stu is None:
                changes.append(f"protected cell {gid} was missing: restored from the instructor's copy")
            elif stu.get("source", "") != _release_source(release_cells, gid, src):
                changes.append(f"protected cell {gid} was edited: restored from the instructor's copy")
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        out.append(cell)
        add_extras(gid)
    for gid in student_by_id:
        if gid not in source_ids:
            changes.append(f"cell {gid} is not part of the assignment (kept as a plain cell)")
    nb = nbformat.v4.new_notebook()
    nb.metadata = copy.deepcopy(source_nb.metadata)
    seen = set()
    for i, c in enumerate(out):
        c = nbformat.from_dict(c)
        cid = c.get("id") or f"cell-{i}"
        if cid in seen or not re.fullmatch(r"[a-zA-Z0-9-_]{1,64}", str(cid)):
            cid = f"cell-{i}-{secrets.token_hex(3)}"
        seen.add(cid)
        c["id"] = cid
        nb.cells.append(c)
    return nb, changes


def _release_source(release_cells, gid, src):
    rel = release_cells.get(gid)
    return rel["source"] if rel is not None else src["source"]


def cell_keys(nb):
    """A stable name per cell: its grade_id, else ``<the grade_id before it>+<k>`` (the k-th cell without
    one after it), so the reference's timings apply to the student's notebook cell by cell."""
    keys, anchor, k = [], "start", 0
    for c in nb.cells:
        gid = grade_id(c)
        if gid:
            anchor, k = gid, 0
            keys.append(gid)
        else:
            k += 1
            keys.append(f"{anchor}+{k}")
    return keys


def namespace_cells(nb):
    """Code cells tagged ``grader-namespace``, in order (what the hidden-test worker runs)."""
    return [{"id": grade_id(c) or c.get("id"), "source": c["source"]} for c in nb.cells
            if c.get("cell_type") == "code" and "grader-namespace" in tags(c)]


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

    def verdict(self, cell):
        text = "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")
        for m in LOCKED_TOKEN_RE.finditer(text):
            if m.group(1) == self.token:
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
        self.km, self.client = km, client
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
            chk = await self._exec(self.injector.check(), len(self.nb.cells), 30)
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


# ---------------------------------------------------------------------------------------------
# Scoring
# ---------------------------------------------------------------------------------------------
def last_error(cell):
    for out in reversed(cell.get("outputs", [])):
        if out.get("output_type") == "error":
            evalue = out.get("evalue") or ("not implemented yet" if out.get("ename") == "NotImplementedError" else "")
            return f"{out.get('ename')}: {evalue}".strip()
    return ""


def determine_grade(cell):
    """nbgrader.utils.determine_grade for code grade cells (copied: importing nbgrader costs ~5 s):
    an error (or stderr) output -> 0; a numeric execute_result -> that partial credit; else full."""
    max_points = float(nbg(cell).get("points", 0) or 0)
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error" or (output.get("output_type") == "stream"
                                                     and output.get("name") == "stderr"):
            return 0.0, max_points
        if output.get("output_type") == "execute_result":
            text = output.get("data", {}).get("text/plain", "")
            try:
                value = float(text if isinstance(text, str) else "".join(text))
            except ValueError:
                return max_points, max_points
            return (min(value, max_points) if value >= 0 else max_points), max_points
    return max_points, max_points


def score_cell(cell, run: NotebookRun | None):
    """(score, max_score, message) of a grade cell after execution (see module doc)."""
    max_points = float(nbg(cell).get("points", 0) or 0)
    clean = copy.deepcopy(cell)
    clean["outputs"] = [o for o in cell.get("outputs", [])
                        if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]
    score, _ = determine_grade(clean)
    score = float(score or 0.0)
    msg = ""
    if clean["outputs"] and any(o.get("output_type") == "error" for o in clean["outputs"]):
        score, msg = 0.0, last_error(cell)
    if run is not None:
        status = run.statuses.get(id(cell))
        if status is None and score > 0:
            score, msg = 0.0, "this cell did not run"
        elif status not in (None, "ok") and score > 0:
            score, msg = 0.0, "this cell raised an error"
        ok, detail = run.verdicts.get(id(cell), (True, ""))
        if not ok and score > 0:
            score = 0.0
            msg = ("no credit: functions the test relies on were replaced before it ran "
                   f"({detail[:300]}); tests must run against the real numpy/assertion helpers")
    score = max(0.0, min(score, max_points))
    return score, max_points, msg
