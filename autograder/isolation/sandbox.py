"""The sandbox every piece of student code runs in.

One :class:`Sandbox` per submission owns a scratch directory::

    <tmp>/autograder-XXXX/            0711 grader  (others cannot list it: sibling scratches stay unknown)
        sub-XXXX/                     0711 grader
        sub-XXXX/boot/                0700 grader  (sandbox configs, the kernel connection file)
        sub-XXXX/boot/pristine/       0700 grader  (the scratch copy as assembled, before any student code)
        sub-XXXX/work/                0700 sandbox uid: the submission's scratch copy, the kernel's cwd
        sub-XXXX/run/                 0700 sandbox uid: kernel runtime dir, HOME, logs
        sub-XXXX/<worker>-N/          0700 sandbox uid: one worker process's own work/ (a fresh copy of
                                      pristine, its cwd) and home/ (Sandbox.private)

Three isolation modes (``isolation_mode()``; results.json records it as ``extra_data.isolation``
and, as ``extra_data.guarantees``, which guarantees held, see :func:`guarantees`):

- "namespaces": root with a working ``unshare`` (CAP_SYS_ADMIN). New mount, network and PID
  namespaces. The network namespace has no interface up (not even loopback). The project root
  (solutions, hidden tests, .git, the instructor's beras), its parent, the grader's output dir, the
  submissions dir, root's home, /tmp, /var/tmp, /dev/shm, /home and every other top-level directory
  but the system's (/usr, /etc, /lib, ...: :func:`outside_system`, so a second copy of the course
  anywhere else on the machine is covered too) are covered by empty tmpfs mounts; the Python
  environment, data dirs and the scratch copy are bound back. Student code runs
  as a uid unique to the sandbox. Killing the namespace's init kills every student process.
- "uid": root without CAP_SYS_ADMIN (Docker's default capabilities, self-hosted CI without
  namespaces). Student code runs as a uid unique to the sandbox; the same hide/keep rule is applied
  with file modes instead of mounts (:func:`protect_paths`, see "What uid mode changes on disk").
  No network namespace: a socket guard in the student's Python (best effort).
- "rlimits": not root. Resource limits, a socket guard and import scrubbing only: student code runs
  as the grader's user, so it can read what the grader can read and write the grader's output, and
  it could kill its own supervisor (processes tied to the grader: best effort). It has no process
  quota of its own either: a fork bomb slows whatever else the grader's user runs (a concurrent
  submission of ``grade-all --jobs N``) until its cell's time limit kills it.

What uid mode changes on disk (set by the root grader, never restored; they only take access away
from other users, root and the owners are unaffected): every hidden directory loses its group/other
permissions (``chmod go-rwx``); a hidden directory that contains a kept path (e.g. the virtualenv
inside the project root, a pyenv Python in root's home) keeps only group/other *traverse* (``--x``),
and each of its entries that is not on the way to a kept path loses its group/other permissions
(recursively along the way to the kept paths). Shared directories (/tmp, /var/tmp, /dev/shm, /home)
are never changed: what lies in them keeps its own modes (the scratch root is 0711, its copies 0700).

Frameworks absent (``frameworks_absent``). Where student stencil code runs under the framework rule (the
stencil worker, ``call_isolated``'s workers, and the notebook worker unless the instructor's own
``grader-namespace`` cells import a forbidden framework), the manifest's forbidden frameworks cannot be
imported at all, so no process of the sandbox computes with them for it: the grader trusts what it
computes itself, the watch of /proc/PID/maps (grading/student.py) is the second line. The sandbox is made
with ``absent``: every site-packages entry that lets a framework import (its package, its ``*.dist-info``,
what its distribution installs beside them: :func:`autograder.policy.framework_paths`); a process started
with ``command(..., absent=True)`` gets them absent:

- "namespaces": a read-only tmpfs over each entry in its mount namespace (a package's holds only an
  ``__init__.py`` that raises ModuleNotFoundError: not even an empty namespace package imports);
- "uid": the entries get group :data:`FRAMEWORK_GID`, the group gets what others had, others nothing
  (:func:`withhold_frameworks`); only the processes that may use them (the kernel, a notebook worker
  whose notebook needs them) get that group as a supplementary group. An absent process has no such
  group and ``no_new_privs`` (no set-gid program gives it back); stub packages first on PYTHONPATH make a
  child ``python`` fail clearly. Shared with concurrent graders through one locked record (in
  /var/lib/autograder, which outlives /tmp); the last grader out restores the host's group and mode (a
  killed grader's share is ended by its sandbox's supervisor, which outlives it, or else by the next
  grader). The one change of uid mode that is restored. It rests on fs.protected_hardlinks (else a
  capable process could link the files out; reported as best effort);
- "rlimits": student code runs as the grader's user, who can read them: an import hook and the stub
  packages refuse them (code can undo both), only the watch is a guarantee (best effort).

No rendezvous with a capable process: the kernel is dead before the first worker starts, each worker
process gets a folder of its own (:meth:`Sandbox.private`: ``work/``, a fresh copy of the submission as
assembled before any student code ran, and ``home/``; in "namespaces" the only part of the scratch it
sees), and before an absent worker computes after a capable one ran, every process of the sandbox is
killed and the uid's files leave the world-writable dirs (grading/student.py). In "namespaces" each
process also has its own IPC, network (abstract sockets) and PID namespaces. A kernel cannot carry a
framework out either: RLIMIT_FSIZE (256 MB) is below TensorFlow's native library (1.1 GB).

Nothing outlives the grader (every mode). In "namespaces" the first process sets a parent-death
signal (SIGKILL) and execs ``unshare --kill-child``: the grader's death kills unshare, whose death
kills the namespace's init, whose death kills the namespace. In "uid" / "rlimits" the first process
(the student's process, a child subreaper) forks a supervisor first, which leaves the grader's
process group and watches the grader and the student's process (pidfds, or polling on kernels
without them); the student's process re-arms its parent-death signal after dropping privileges
(setuid clears it). When the student's
process dies the supervisor kills its process tree (tracked while it lived); when the grader dies it
also kills every process of the sandbox uid (fork + setuid + kill(-1)) — in "uid" mode it is root,
out of the student's reach. ``Sandbox.cleanup`` kills every process of the sandbox uid (or, in
"rlimits", every process carrying the sandbox's marker) and removes the uid's files from /tmp,
/var/tmp and /dev/shm. grade-all's pool workers die with the grade-all process
(:func:`die_with_parent`).

Limits (all modes): RLIMIT_AS (memory), RLIMIT_NPROC (processes/threads; per uid, so only in the
modes with a uid of its own), RLIMIT_FSIZE (file size), RLIMIT_CPU (backstop), no core dumps;
wall-clock limits are enforced by the grader (per cell, per call, per submission) by killing the
sandbox.
"""
from __future__ import annotations

import dataclasses
import json
import os
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time

from ..paths import PROJECT_ROOT
from ._boot import FRAMEWORK_GID, _kill_uid, frameworks_state, release_frameworks_of

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = ("/tmp", "/var/tmp", "/dev/shm", "/home")   # world-shared dirs: hidden by mounts, never chmod'ed


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


SYSTEM = ("bin", "sbin", "lib", "lib32", "lib64", "libx32", "usr", "etc", "proc", "sys", "dev", "nix", "snap")


def outside_system():
    """Every top-level directory but the system's (:data:`SYSTEM`): what "namespaces" mode covers
    beyond the named dirs, so another copy of the course elsewhere on the machine (a second checkout,
    an old root file system, a mounted drive) stays out of reach too. Symlinks are skipped (a tmpfs
    mounted on /lib -> usr/lib would cover /usr/lib); what they point to is covered where it lies."""
    out = []
    for name in sorted(os.listdir("/")):
        path = os.path.join("/", name)
        if name not in SYSTEM and os.path.isdir(path) and not os.path.islink(path):
            out.append(path)
    return out


def data_dirs():
    """Read-only data the training check may need (tensorflow-datasets' data_dir), kept visible."""
    d = os.environ.get("TFDS_DATA_DIR") or os.path.expanduser("~/tensorflow_datasets")
    return [os.path.abspath(d)] if os.path.isdir(d) else []


def namespaces_available():
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("mount"):
        return False
    try:
        r = subprocess.run(["unshare", "--mount", "--net", "--ipc", "--pid", "--fork", "--kill-child",
                            "--mount-proc", "true"], capture_output=True, timeout=20)
        return r.returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


# capabilities "uid" mode needs: CHOWN (hand the scratch copy over), DAC_OVERRIDE (read what the
# sandbox writes), FOWNER (chmod), KILL (signal the sandbox uid), SETGID, SETUID (drop privileges)
_UID_CAPS = {"CHOWN": 0, "DAC_OVERRIDE": 1, "FOWNER": 3, "KILL": 5, "SETGID": 6, "SETUID": 7}


def effective_caps():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("CapEff:"):
                    return int(line.split()[1], 16)
    except OSError:
        pass
    return 0


def uid_available():
    if os.geteuid() != 0:
        return False
    caps = effective_caps()
    return all(caps >> bit & 1 for bit in _UID_CAPS.values())


_MODE = None


def isolation_mode():
    """"namespaces", "uid" or "rlimits" (see the module doc); probed once per process."""
    global _MODE
    if _MODE is None:
        _MODE = "namespaces" if namespaces_available() else "uid" if uid_available() else "rlimits"
    return _MODE


GUARANTEES = {
    "network_closed": "student code cannot open network connections",
    "secrets_unreadable": "student code cannot read the hidden tests, the instructor's sources, "
                          "the grader's output or other students' files",
    "separate_uid": "student code runs as a uid of its own (RLIMIT_NPROC enforced per sandbox)",
    "grader_unwritable": "student code cannot write the grader's code or output",
    "processes_tied": "no student process outlives the grader",
    "resource_limits": "memory, file size, CPU time and core dumps are limited",
    "frameworks_absent": "the frameworks the assignment forbids cannot be imported where student stencil code "
                         "runs (hidden-test workers, isolated calls), nor reached through another process",
}


def guarantees(mode=None):
    """{"held": [...], "best_effort": [...], "not_held": [...]} of :data:`GUARANTEES` in ``mode``."""
    mode = mode or isolation_mode()
    every = list(GUARANTEES)
    if mode == "namespaces":
        held, best = every, []
    elif mode == "uid":
        best = ["network_closed"]       # a socket guard in Python: native code can bypass it
        if not hardlinks_protected():   # a kernel could hard-link a framework's files out of its folder
            best.append("frameworks_absent")
        held = [g for g in every if g not in best]
    else:   # frameworks_absent: student code runs as the grader's user, who can read them: an import hook and
        # stub packages refuse them (code can undo both), the watch of /proc/PID/maps stays the guarantee
        held, best = ["resource_limits"], ["network_closed", "processes_tied", "frameworks_absent"]
    return {"held": held, "best_effort": best, "not_held": [g for g in every if g not in held + best]}


def hardlinks_protected():
    """fs.protected_hardlinks: no hard link to a file one may not write (uid mode's frameworks_absent
    rests on it: a process that may read a framework's files must not link them where others can)."""
    try:
        with open("/proc/sys/fs/protected_hardlinks") as f:
            return f.read().strip() == "1"
    except OSError:
        return False


_batch_hide = []   # grade-all: the whole output dir is hidden from every sandbox (other students' results)


def die_with_parent(main_pid=None, hide=()):
    """Pool-worker initializer: SIGKILL this process when its parent dies (parent-death signal; a
    forkserver's worker's parent is the forkserver, which outlives grade-all as long as a worker
    lives) and when ``main_pid`` (the grade-all process) dies (a thread waiting on its pidfd). Its
    sandboxes die with it (see the module doc). ``hide``: dirs every sandbox of this worker hides
    too (grade-all's output dir: the other students' results)."""
    _batch_hide[:] = [os.path.abspath(h) for h in hide]
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0)   # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() == 1:
        os._exit(1)
    if main_pid is None:
        return
    try:
        fd = os.pidfd_open(main_pid)
    except ProcessLookupError:
        os._exit(1)
    except (OSError, AttributeError):   # no pidfds (Linux < 5.3): poll its start time
        fd = None
    start = _starttime(main_pid)
    if start is None:
        os._exit(1)
    import select
    import threading

    def watch():
        if fd is not None:
            select.select([fd], [], [])
        else:
            while _starttime(main_pid) == start:
                time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGKILL)
    threading.Thread(target=watch, name="die-with-grade-all", daemon=True).start()


def _starttime(pid):
    """``pid``'s start time, or None once it is gone (or a zombie)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] in (b"Z", b"X") else fields[19]


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
    for root, _dirs, files in os.walk(path):
        os.lchown(root, uid, gid)
        for f in files:
            os.lchown(os.path.join(root, f), uid, gid)


def _inside(path, top):
    return path == top or path.startswith(top.rstrip("/") + "/")


def protect_paths(hide, keep):
    """"uid" mode's hide/keep rule with file modes (see the module doc); returns the changes made,
    as [(path, old mode, new mode)]."""
    changes = []

    def chmod(path, new):
        try:
            st = os.lstat(path)
        except OSError:
            return
        if stat.S_ISLNK(st.st_mode):
            return
        old = stat.S_IMODE(st.st_mode)
        if old != new:
            try:
                os.chmod(path, new)
                changes.append((path, oct(old), oct(new)))
            except OSError:
                pass

    def walk(d, kept):
        try:
            old = stat.S_IMODE(os.lstat(d).st_mode)
        except OSError:
            return
        chmod(d, old & ~0o077 | 0o011)
        try:
            entries = os.listdir(d)
        except OSError:
            return
        for name in entries:
            e = os.path.join(d, name)
            on_way = [k for k in kept if _inside(k, e)]
            if e in kept:
                continue
            if on_way and os.path.isdir(e) and not os.path.islink(e):
                walk(e, on_way)
            elif not on_way:
                try:
                    chmod(e, stat.S_IMODE(os.lstat(e).st_mode) & ~0o077)
                except OSError:
                    pass

    keep = [os.path.abspath(k) for k in keep]
    for h in hide:
        h = os.path.abspath(h)
        if h in SHARED or not os.path.isdir(h) or os.path.islink(h):
            continue
        kept = [k for k in keep if _inside(k, h) and os.path.exists(k)]
        if any(_inside(h, k) for k in keep):
            continue                    # a hidden dir inside a kept one (e.g. out inside the scratch)
        if kept:
            walk(h, kept)
        else:
            chmod(h, stat.S_IMODE(os.lstat(h).st_mode) & ~0o077)
    return changes


def withhold_frameworks(paths):
    """"uid" mode's frameworks_absent, with file modes: each of ``paths`` (a framework's site-packages
    entries, :func:`autograder.policy.framework_paths`) gets group :data:`FRAMEWORK_GID`, the group gets
    what others had and others nothing; so a process of a sandbox uid reads them only with that
    supplementary group (the kernel, a notebook worker whose notebook needs them), never without it (a
    stencil worker). Shared by concurrent graders through one record (:func:`frameworks_state_dir`; the
    host's own group and mode of each entry, and who holds a share): the first one changes the entries,
    the last one to release (:func:`release_frameworks`, or the sandbox's supervisor once its grader died:
    _boot.release_frameworks_of) restores them. Returns [(path, old mode, new mode)] changed now."""
    me = (str(os.getpid()), _starttime(os.getpid()).decode())

    def update(state):
        state["holders"][me[0]] = me[1]
        changed = []
        for p in paths:
            try:
                st = os.lstat(p)
            except OSError:
                continue
            if stat.S_ISLNK(st.st_mode):
                continue
            old = stat.S_IMODE(st.st_mode)
            state["saved"].setdefault(p, [st.st_gid, old])
            gid, mode = state["saved"][p]
            new = mode & ~0o077 | (mode & 0o007) << 3
            if st.st_gid != FRAMEWORK_GID or old != new:
                os.chown(p, -1, FRAMEWORK_GID)
                os.chmod(p, new)
                changed.append((p, oct(old), oct(new)))
        return changed
    return frameworks_state(frameworks_state_dir(), update)


def release_frameworks():
    """This grader's share of :func:`withhold_frameworks` ends; the last one restores the host's modes."""
    release_frameworks_of(frameworks_state_dir(), os.getpid())


def frameworks_state_dir():
    """Where the shared record of withheld frameworks lives: a host directory that outlives /tmp (a reboot
    after a killed grader must still find what to restore), else the uid reservations' dir."""
    for d in ("/var/lib/autograder", _uid_dir()):
        try:
            os.makedirs(d, mode=0o700, exist_ok=True)
            return d
        except OSError:
            continue
    return _uid_dir()


def _uid_dir():
    d = os.path.join(tempfile.gettempdir(), "autograder-uids")
    os.makedirs(d, mode=0o700, exist_ok=True)
    return d


def allocate_uid():
    """A uid no one uses, reserved (O_EXCL file) so concurrent graders never share one."""
    import random
    rng = random.SystemRandom()
    for _ in range(100):
        uid = rng.randrange(1_000_000, 2_000_000_000)
        try:
            os.close(os.open(os.path.join(_uid_dir(), str(uid)), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        except FileExistsError:
            continue
        if not any(_proc_uid(p) == uid for p in _pids()):
            return uid
    raise RuntimeError("no free uid for the sandbox")


def _pids():
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def _proc_uid(pid):
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return None


def kill_uid(uid, gid, wait=5.0):
    """SIGKILL every process of ``uid`` (:func:`autograder.isolation._boot._kill_uid`, which the sandbox's supervisor
    uses too; as root only), then wait up to ``wait`` s until none is left in /proc: a killed fork bomb's
    processes count against the uid's RLIMIT_NPROC until they are reaped, and would starve the kernel
    restarted next (no thread for its output)."""
    deadline = time.monotonic() + wait
    while True:
        _kill_uid(uid, gid)
        for _ in range(20):
            if not any(_proc_uid(p) == uid for p in _pids()):
                return
            time.sleep(0.05)
        if time.monotonic() > deadline:
            return


def kill_marked(marker):
    """SIGKILL every process (that this user may read) whose environment carries ``marker``.
    Found processes are stopped first (SIGSTOP) until a pass finds no new one, so a fork bomb cannot
    fork faster than the passes find it; then all are killed."""
    needle = marker.encode()

    def marked():
        out = set()
        for pid in _pids():
            if pid == os.getpid():
                continue
            try:
                with open(f"/proc/{pid}/environ", "rb") as f:
                    env = f.read()
            except OSError:
                continue
            if needle in env.split(b"\0"):
                out.add(pid)
        return out

    def send(pids, sig):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except OSError:
                pass

    for _ in range(5):
        stopped = set()
        for _ in range(50):
            new = marked() - stopped
            if not new:
                break
            send(new, signal.SIGSTOP)
            stopped |= new
        if not stopped:
            return
        send(stopped, signal.SIGKILL)
        time.sleep(0.05)


class Sandbox:
    """A submission's scratch dir + the command lines that run student code inside the limits."""

    def __init__(self, limits: Limits, hide=(), env=None, absent=()):
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
        self.uid = allocate_uid() if root_user and self.isolation in ("namespaces", "uid") else None
        self.gid = self.uid
        self.marker = "AUTOGRADER_SANDBOX=" + secrets.token_hex(8)   # in every student process's environ
        home = os.path.expanduser("~") if root_user else None   # root's home: credentials, caches
        parent = os.path.dirname(PROJECT_ROOT)   # e.g. /autograder (Gradescope: results/, submission/)
        beyond = outside_system() if self.isolation == "namespaces" else []
        self.hide = sorted({os.path.abspath(p) for p in (PROJECT_ROOT, parent, home, *SHARED, *hide, *_batch_hide,
                                                         *beyond) if p and os.path.abspath(p) != "/"})
        self.keep = sorted({sys.prefix, os.path.realpath(sys.prefix), sys.base_prefix,
                            os.path.realpath(sys.base_prefix), self.dir, *data_dirs()})
        self.extra_env = dict(env or {})
        self.protected = []        # uid mode: [(path, old mode, new mode)] changed by protect_paths
        # frameworks_absent: [(path, module or None)] (autograder.policy.framework_paths) that processes
        # started with absent=True cannot read (namespaces: covered; uid: group-only; rlimits: watched only)
        self.absent = _with_aliases(absent)
        self.withheld = False      # uid mode: this sandbox holds a share of withhold_frameworks
        self.frameworks_changed = []   # uid mode: [(path, old mode, new mode)] this sandbox's share changed
        self.pristine = os.path.join(self.boot_dir, "pristine")   # the scratch copy as assembled
        self._n = 0
        self._private = 0

    def prepare(self):
        """Hand the scratch copy to the sandbox uid (after the grader has written it); in uid mode,
        take group/other access away from the hidden dirs (see the module doc)."""
        home = os.path.join(self.run_dir, "home")
        os.makedirs(home, exist_ok=True)
        if self.uid:
            _chown_tree(self.work, self.uid, self.gid)
            _chown_tree(self.run_dir, self.uid, self.gid)
        shutil.copytree(self.work, self.pristine, symlinks=True)   # grader-only: what each worker starts from
        os.chmod(self.work, 0o700)
        os.chmod(self.run_dir, 0o700)
        if self.isolation == "uid":
            self.protected = protect_paths(self.hide, self.keep)
            if self.absent:
                self.withheld = True
                self.frameworks_changed = withhold_frameworks([p for p, _ in self.absent])

    def private(self, label):
        """A fresh folder of one's own for one worker process: ``work/`` (a copy of the submission's scratch
        copy as it was before any student code ran) and ``home/``; no other sandbox process shares it, so
        nothing a kernel or another worker wrote reaches it and no two processes meet through a file."""
        self._private += 1
        d = os.path.join(self.dir, f"{label}-{self._private}")
        os.makedirs(os.path.join(d, "home"), mode=0o700)
        os.chmod(d, 0o700)
        shutil.copytree(self.pristine, os.path.join(d, "work"), symlinks=True)
        if self.uid:
            _chown_tree(d, self.uid, self.gid)
        return d

    def holds(self, path):
        """Is ``path`` inside the submission's scratch copy, or a worker's own copy of it (:meth:`private`)?"""
        path = os.path.abspath(path)
        if _inside(path, self.work):
            return True
        rel = os.path.relpath(path, self.dir).split(os.sep)
        return len(rel) > 2 and rel[0] != ".." and rel[1] == "work" and rel[0].rpartition("-")[2].isdigit()

    def reset_shared(self):
        """Between a process that could use the frameworks and one that must not: what the sandbox uid left in
        the world-writable dirs goes (every process of the uid is dead by then)."""
        if self.uid:
            self._remove_uid_files()

    def env(self, private=None):
        run = private or self.run_dir
        home = os.path.join(run, "home")
        env = {
            "PATH": os.path.dirname(sys.executable) + ":/usr/local/bin:/usr/bin:/bin",
            "HOME": home, "USER": "student", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
            "TMPDIR": run, "MPLBACKEND": "Agg", "MPLCONFIGDIR": os.path.join(home, ".mpl"),
            "IPYTHONDIR": os.path.join(home, ".ipython"), "JUPYTER_RUNTIME_DIR": run,
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
        key, _, value = self.marker.partition("=")
        env[key] = value
        return env

    def command(self, mode, payload, args=(), job=None, private=None, absent=False):
        """The argv running ``mode`` ('kernel' or 'worker') in the sandbox; payload = connection
        file contents (kernel) or the worker's source (worker), ``args`` its argv, ``job`` (worker) a
        plain JSON structure the worker finds as its global ``JOB``. ``private``: a folder of
        :meth:`private` (its cwd, HOME and TMPDIR; in "namespaces" the only part of the scratch it sees);
        ``absent``: the frameworks of :attr:`absent` cannot be imported in it. One launch spec: everything goes
        into one config file in the grader-only boot dir, decoded once by _boot.py before it drops
        privileges. The caller (this process, this thread) must start it: the sandbox's first process
        dies with it."""
        self._n += 1
        lim = self.limits
        ns = self.isolation == "namespaces"
        keep = self.keep if private is None else sorted({*self.keep, private} - {self.dir})
        cfg = {
            "mode": mode, "payload": payload, "args": list(args), "job": job, "namespaces": ns,
            "isolation": self.isolation, "grader_pid": os.getpid(), "marker": self.marker,
            "hide": self.hide, "keep": keep,
            "absent": [list(a) for a in self.absent] if absent else [],
            "groups": [FRAMEWORK_GID] if self.withheld and not absent else [],
            "frameworks_state": frameworks_state_dir() if self.withheld else None,   # the supervisor releases
            "stash": _stash_dir(keep) if ns else None,
            "log": os.path.join(self.run_dir, f"{mode}-{self._n}.log"),
            "supervisor_log": os.path.join(self.boot_dir, f"supervisor-{self._n}.log"),
            "cwd": os.path.join(private, "work") if private else self.work, "runtime": private or self.run_dir,
            "uid": self.uid, "gid": self.gid,
            "project_paths": [PROJECT_ROOT],
            "limits": {"as": lim.memory_mb * 2**20 if lim.memory_mb else None, "nproc": lim.nproc,
                       "fsize": lim.fsize_mb * 2**20, "cpu": int(lim.total_timeout * 2 + 60), "core": 0},
        }
        cfg_path = os.path.join(self.boot_dir, f"config-{self._n}.json")
        with open(cfg_path, "w") as f:
            json.dump(cfg, f)
        # namespaces: _boot.py arms its parent-death signal and execs unshare (see the module doc)
        return [sys.executable, "-I", os.path.join(HERE, "_boot.py"), cfg_path]

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

    def kill_all(self):
        """SIGKILL every process of this sandbox (by uid; in "rlimits" mode by marker)."""
        if self.uid:
            kill_uid(self.uid, self.gid)
        else:
            kill_marked(self.marker)

    def _remove_uid_files(self):
        """Files the sandbox uid left in the world-writable dirs (it could write nowhere else)."""
        for d in SHARED[:3]:
            try:
                entries = os.listdir(d)
            except OSError:
                continue
            for name in entries:
                p = os.path.join(d, name)
                try:
                    if os.lstat(p).st_uid != self.uid:
                        continue
                    if os.path.isdir(p) and not os.path.islink(p):
                        shutil.rmtree(p, ignore_errors=True)
                    else:
                        os.unlink(p)
                except OSError:
                    pass

    def cleanup(self):
        global _scratch_root
        try:
            self.kill_all()
        except Exception:  # noqa: BLE001 - cleanup must go on
            pass
        if self.withheld:
            self.withheld = False
            release_frameworks()
        if self.uid:
            self._remove_uid_files()
            try:
                os.unlink(os.path.join(_uid_dir(), str(self.uid)))
            except OSError:
                pass
        shutil.rmtree(self.dir, ignore_errors=True)
        try:   # the per-process root too once empty (pool workers exit without atexit)
            os.rmdir(os.path.dirname(self.dir))
            _scratch_root = None
        except OSError:
            pass


def _with_aliases(absent):
    """``absent`` plus each entry's real path (a symlinked virtualenv is bound back under both names)."""
    out = {}
    for path, module in absent:
        for p in (os.path.abspath(path), os.path.realpath(path)):
            out.setdefault(p, module)
    return sorted(out.items())


def _stash_dir(keep):
    """An existing top-level directory that holds no kept path, used as a mount point inside the
    sandbox's own mount namespace only (the host's view of it never changes). It is hidden itself
    once the kept trees have moved back (see ``_boot.hide_paths``)."""
    for d in ("/mnt", "/media", "/srv", "/opt"):
        if os.path.isdir(d) and not os.path.islink(d) and not any(_inside(k, d) for k in keep):
            return d
    raise RuntimeError("no mount point for the sandbox stash (none of /mnt, /media, /srv, /opt exists)")
