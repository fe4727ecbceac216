"""The sandbox every piece of student code runs in.

One :class:`Sandbox` per submission owns a scratch directory::

    <tmp>/autograder-PID-START-XXXX/  0711 grader  (others cannot list it: sibling scratches stay unknown;
                                      PID-START: the grader process that owns it, :func:`owner_token`)
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
  quota of its own either (and no cgroup: caps on totals need root): a fork bomb slows whatever else
  the grader's user runs (a concurrent submission of ``grade-all --jobs N``) until its cell's time
  limit kills it.

What uid mode changes on disk (set by the root grader while its sandboxes run, restored after; they
only take access away from other users, root and the owners are unaffected): every hidden directory loses its group/other
permissions (``chmod go-rwx``); a hidden directory that contains a kept path (e.g. the virtualenv
inside the project root, a pyenv Python in root's home) keeps only group/other *traverse* (``--x``),
and each of its entries that is not on the way to a kept path loses its group/other permissions
(recursively along the way to the kept paths). Shared directories (/tmp, /var/tmp, /dev/shm, /home)
are never changed: what lies in them keeps its own modes (the scratch root is 0711, its copies 0700).
Restored: each change (path, old mode, new mode) is recorded in ``<tmp>/autograder-uids/protections.json``
with the sandboxes that hold it (under a file lock: ``grade-all --jobs N`` runs sandboxes side by side);
the last sandbox out (``Sandbox.cleanup``, once its processes are dead) puts back every old mode whose
path still has the new one (:func:`protect`, :func:`unprotect`). A grader killed while holding one
leaves them to the next grader, which restores them once no live holder is left (:func:`remove_leftovers`).

Leftovers (every mode): the scratch root, each uid reservation (``<tmp>/autograder-uids/<uid>``) and each
cgroup is named after, or holds, its owner's pid and start time; every grader process removes those of
dead owners before it makes its scratch root, and grade-all at its start (:func:`remove_leftovers`), so a
batch SIGKILLed midway leaves nothing behind after the next run, and a live grader's are never touched.

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
  capable process could link the files out; reported as best effort). The processes that may use the
  frameworks carry the group in "namespaces" mode too: a uid-mode grader on the same host (the test
  suite emulates one beside namespaces-mode batches) withholds them from everyone else while it runs;
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
sandbox. Caps on totals (results.json ``extra_data.caps`` says which mechanism each got, and
``guarantees`` lists ``total_memory``, ``total_processes``, ``disk_quota``): a cgroup per sandbox with
``memory`` and ``pids`` caps (``total_memory_mb``, ``nproc``) where a root grader can make one
(:mod:`.cgroups`: v2 where delegated, else v1; never in "rlimits"); without one, total processes are
still capped by the sandbox uid's RLIMIT_NPROC ("namespaces" / "uid") and memory only per process.
Disk (``disk_mb``, every mode): a grader thread sums what the sandbox wrote (its scratch, its uid's
files in /tmp, /var/tmp, /dev/shm) twice a second and, over the cap, kills the sandbox's processes and
removes the large files they wrote (best effort: a burst between two looks gets through, up to
RLIMIT_FSIZE per file). What a cap did is said in results.json's output (``Sandbox.cap_notes``).
BLAS threads: ``grade-all --jobs N`` gives each sandbox its share of the cores (cores / N
OpenBLAS/OpenMP/MKL threads) unless the grader's environment sets them (:func:`blas_threads`).
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time

from ..errors import GraderError
from ..paths import PROJECT_ROOT
from . import cgroups
from ._boot import FRAMEWORK_GID, _kill_uid, frameworks_state, locked_record, release_frameworks_of

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = ("/tmp", "/var/tmp", "/dev/shm", "/home")   # world-shared dirs: hidden by mounts, never chmod'ed


@dataclasses.dataclass
class Limits:
    cell_timeout: float = 600.0        # seconds per notebook cell
    call_timeout: float = 120.0        # seconds per hidden-test call (probe may override)
    total_timeout: float = 3600.0      # seconds per submission (notebook + hidden tests)
    memory_mb: int = 6144              # RLIMIT_AS; TensorFlow alone maps ~2 GB (0 = none: CUDA maps far more)
    total_memory_mb: int = 8192        # every process of the sandbox together (cgroup; 0 = none)
    nproc: int = 512                   # processes + threads of the sandbox uid (and of its cgroup)
    fsize_mb: int = 256                # largest file student code may write
    disk_mb: int = 2048                # everything it writes (scratch, its /tmp files), watched by the grader
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
    "resource_limits": "memory, file size, CPU time and core dumps are limited per process",
    "total_memory": "the sandbox's processes together are held to a memory cap (a cgroup of its own)",
    "total_processes": "the sandbox's processes together are held to a process cap (a cgroup, or its own uid's "
                       "RLIMIT_NPROC)",
    "disk_quota": "what the sandbox writes is held to a disk cap (the grader watches it and stops the sandbox "
                  "over it)",
    "frameworks_absent": "the frameworks the assignment forbids cannot be imported where student stencil code "
                         "runs (hidden-test workers, isolated calls), nor reached through another process",
}


def guarantees(mode=None):
    """{"held": [...], "best_effort": [...], "not_held": [...]} of :data:`GUARANTEES` in ``mode``, on
    this machine (the caps on totals depend on the cgroups a root grader can make: :mod:`.cgroups`)."""
    mode = mode or isolation_mode()
    every = list(GUARANTEES)
    cg = cgroups.available() if mode in ("namespaces", "uid") else ()
    best = ["disk_quota"]                # polled: a burst between two looks gets through, then is removed
    if mode == "namespaces":
        held = [g for g in every if g not in ("disk_quota", "total_memory")]
    elif mode == "uid":
        best.append("network_closed")    # a socket guard in Python: native code can bypass it
        if not hardlinks_protected():    # a kernel could hard-link a framework's files out of its folder
            best.append("frameworks_absent")
        held = [g for g in every if g not in ("total_memory", *best)]
    else:   # frameworks_absent: student code runs as the grader's user, who can read them: an import hook and
        # stub packages refuse them (code can undo both), the watch of /proc/PID/maps stays the guarantee
        held, best = ["resource_limits"], best + ["network_closed", "processes_tied", "frameworks_absent"]
    if "memory" in cg:
        held.append("total_memory")
    return {"held": held, "best_effort": best, "not_held": [g for g in every if g not in held + best]}


def caps(mode=None):
    """Which mechanism caps each total in ``mode`` on this machine (results.json ``extra_data.caps``)."""
    mode = mode or isolation_mode()
    cg = cgroups.available() if mode in ("namespaces", "uid") else ()
    uid = mode in ("namespaces", "uid")
    return {"memory": "cgroup" if "memory" in cg else "RLIMIT_AS per process only",
            "processes": "cgroup + RLIMIT_NPROC of its uid" if "pids" in cg and uid else
                         "RLIMIT_NPROC of its uid" if uid else "RLIMIT_NPROC of the grader's user (shared)",
            "disk": "grader-side watch of what it writes + RLIMIT_FSIZE per file"}


def hardlinks_protected():
    """fs.protected_hardlinks: no hard link to a file one may not write (uid mode's frameworks_absent
    rests on it: a process that may read a framework's files must not link them where others can)."""
    try:
        with open("/proc/sys/fs/protected_hardlinks") as f:
            return f.read().strip() == "1"
    except OSError:
        return False


_batch_hide = []   # grade-all: the whole output dir is hidden from every sandbox (other students' results)

# BLAS thread counts: passed on to student code (:meth:`Sandbox.env`) where the grader's environment sets them
BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def blas_threads(jobs, environ=None):
    """{variable: threads} for student code when ``jobs`` sandboxes run at once: the grader's own setting
    where its environment has one, else an equal share of the cores. Idle OpenBLAS threads spin-wait: on a
    busy box, sandboxes that each start a BLAS thread per core burn the CPU the others need (measured on 2
    cores under load: a NumPy training loop used 10x the CPU with a thread per core than with one)."""
    environ = os.environ if environ is None else environ
    share = str(max(1, (os.cpu_count() or 1) // max(1, int(jobs))))
    return {var: environ.get(var, share) for var in BLAS_THREADS}


def die_with_parent(main_pid=None, hide=(), env=None):
    """Pool-worker initializer: SIGKILL this process when its parent dies (parent-death signal; a
    forkserver's worker's parent is the forkserver, which outlives grade-all as long as a worker
    lives) and when ``main_pid`` (the grade-all process) dies (a thread waiting on its pidfd). Its
    sandboxes die with it (see the module doc). ``hide``: dirs every sandbox of this worker hides
    too (grade-all's output dir: the other students' results). ``env``: variables set in this worker
    (its sandboxes' BLAS threads, :func:`blas_threads`)."""
    _batch_hide[:] = [os.path.abspath(h) for h in hide]
    os.environ.update(env or {})
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


def owner_token(pid=None):
    """"PID-STARTTIME" of ``pid`` (default: this process): names the grader process that owns a scratch
    root, a uid reservation or a protection; :func:`owner_alive` tells whether it still runs (a pid
    reused by another process has another start time)."""
    pid = pid or os.getpid()
    return f"{pid}-{(_starttime(pid) or b'0').decode()}"


def owner_alive(token):
    pid, _, start = str(token).partition("-")
    return pid.isdigit() and _starttime(int(pid)) == start.encode()


SCRATCH = re.compile(r"autograder-(\d+-\d+)-[a-z0-9_]+")   # <tmp>/autograder-PID-STARTTIME-XXXX


UNIX_PATH_MAX = 107   # bytes of a unix socket's path (sun_path, less its NUL): the kernel's ZMQ sockets
# the longest socket path under the temp folder: scratch root, submission, run dir, a kernel's ipc socket
SOCKET_TAIL = len("/autograder-4194304-18446744073709551615-xxxxxxxx/sub-xxxxxxxx/run/k999-99999")


def scratch_base():
    """The folder scratch roots go in: the temp folder (TMPDIR), unless a notebook kernel's sockets in it
    would pass the unix-socket path limit (a deep TMPDIR, e.g. a test runner's or a CI workspace's); then
    the first of /tmp, /var/tmp, /dev/shm short enough and writable. A GraderError says so when none is."""
    tmp = tempfile.gettempdir()
    for base in (tmp, "/tmp", "/var/tmp", "/dev/shm"):
        if len(os.path.abspath(base)) + SOCKET_TAIL <= UNIX_PATH_MAX and os.path.isdir(base) \
                and os.access(base, os.W_OK | os.X_OK):
            return base
    raise GraderError(f"the temp folder {tmp} is too deep for the notebook kernel's sockets (a unix socket's "
                      f"path holds at most {UNIX_PATH_MAX} bytes, and the grader needs {SOCKET_TAIL} under it) "
                      "and none of /tmp, /var/tmp, /dev/shm is writable: set TMPDIR to a shorter folder")


def scratch_root():
    """One 0711 directory per grader process holding every submission's scratch, named after its owner
    (:func:`owner_token`), in :func:`scratch_base`. Making it first removes what dead graders left
    (:func:`remove_leftovers`)."""
    global _scratch_root
    if _scratch_root is None or not os.path.isdir(_scratch_root) or _scratch_pid != os.getpid():
        remove_leftovers()
        _set_scratch(tempfile.mkdtemp(prefix=f"autograder-{owner_token()}-", dir=scratch_base()))
        os.chmod(_scratch_root, 0o711)
        import atexit
        atexit.register(shutil.rmtree, _scratch_root, True)
    return _scratch_root


_scratch_pid = None


def _set_scratch(path):
    global _scratch_root, _scratch_pid
    _scratch_root, _scratch_pid = path, os.getpid()


def remove_leftovers(tmp=None):
    """What graders killed midway (SIGKILL, OOM, a pulled plug) left in the temp folder: their scratch
    roots (students' unpacked code), their uid reservations (and the files those uids left in /tmp,
    /var/tmp, /dev/shm), and in "uid" mode the file modes they changed (restored once no live grader
    holds a protection, :func:`unprotect`). Only what a dead owner left: a concurrent grader's are
    never touched. Run by every grader process before it makes its scratch root (grade, each grade-all
    worker) and by grade-all at its start. Returns the paths removed."""
    tmp = tmp or tempfile.gettempdir()
    removed = []
    for base in dict.fromkeys([tmp, scratch_base()]):   # scratch roots may live in a shorter folder
        try:
            names = os.listdir(base)
        except OSError:
            continue
        for name in names:
            m = SCRATCH.fullmatch(name)
            if m and not owner_alive(m.group(1)):
                shutil.rmtree(os.path.join(base, name), ignore_errors=True)
                removed.append(os.path.join(base, name))
    uids = os.path.join(tmp, "autograder-uids")
    if os.geteuid() != 0 or not os.path.isdir(uids):
        return removed
    for name in os.listdir(uids):
        path = os.path.join(uids, name)
        try:
            with open(path) as f:
                owner = f.read().strip()
        except OSError:
            continue
        if (name.isdigit() or name.startswith(".reserving-")) and owner and not owner_alive(owner):
            if name.isdigit():
                remove_uid_files(int(name))
            try:
                os.unlink(path)
                removed.append(path)
            except OSError:
                pass
    unprotect(None, uids)
    return removed + cgroups.remove_dead(owner_alive)


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
    """A uid no one uses, reserved (a file named after it, made with O_EXCL semantics, holding its
    owner's :func:`owner_token`) so concurrent graders never share one."""
    import random
    rng = random.SystemRandom()
    d = _uid_dir()
    fd, tmp = tempfile.mkstemp(prefix=".reserving-", dir=d)
    try:
        os.write(fd, owner_token().encode())
        os.close(fd)
        for _ in range(100):
            uid = rng.randrange(1_000_000, 2_000_000_000)
            try:
                os.link(tmp, os.path.join(d, str(uid)))    # atomic, fails if reserved: O_EXCL with content
            except FileExistsError:
                continue
            if not any(_proc_uid(p) == uid for p in _pids()):
                return uid
    finally:
        os.unlink(tmp)
    raise RuntimeError("no free uid for the sandbox")


# -- "uid" mode's protections: shared by concurrent sandboxes, restored by the last one out -----------
PROTECTIONS = "protections.json"   # in the uid dir: {"holders": [...], "changes": [[path, old, new], ...]}


def _protections(d, update):
    """``update(state)`` on the uid dir ``d``'s :data:`PROTECTIONS` (:func:`locked_record`)."""
    return locked_record(os.path.join(d, PROTECTIONS), lambda: {"holders": [], "changes": []}, update)


def restore_modes(changes):
    """Put back each (path, old mode, new mode) of ``changes`` whose mode is still the new one (a mode
    someone changed since is theirs: left alone); returns the paths restored."""
    done = []
    for path, old, new in changes:
        try:
            st = os.lstat(path)
            if not stat.S_ISLNK(st.st_mode) and stat.S_IMODE(st.st_mode) == int(new, 8):
                os.chmod(path, int(old, 8))
                done.append(path)
        except OSError:
            continue
    return done


def _drop_dead_holders(state):
    state["holders"] = [h for h in state["holders"] if owner_alive(h.split(":")[0])]
    if not state["holders"]:      # nobody needs them any more (the last one out, or only dead ones left)
        restore_modes(state["changes"])
        state["changes"] = []


def protect(hide, keep, holder, d=None):
    """:func:`protect_paths` for sandbox ``holder`` ("OWNER_TOKEN:NAME"), recorded in the uid dir so
    that the modes come back when the last holder leaves (:func:`unprotect`), even after a grader died
    holding one (the next grader restores them). Returns the changes this call made."""
    def update(state):
        _drop_dead_holders(state)
        changes = protect_paths(hide, keep)
        known = {c[0]: c for c in state["changes"]}
        for path, old, new in changes:
            if path in known:
                known[path][2] = new          # first old mode kept, the latest new one
            else:
                state["changes"].append([path, old, new])
        state["holders"].append(holder)
        return changes
    return _protections(d or _uid_dir(), update)


def unprotect(holder, d=None):
    """``holder`` leaves (None: only the dead ones are dropped); the last one out restores every mode."""
    def update(state):
        state["holders"] = [h for h in state["holders"] if h != holder]
        _drop_dead_holders(state)
    if holder is None and not os.path.exists(os.path.join(d or _uid_dir(), PROTECTIONS)):
        return
    _protections(d or _uid_dir(), update)


def _pids():
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def _proc_uid(pid):
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return None


def remove_uid_files(uid):
    """Files ``uid`` (a sandbox's) left in the world-writable dirs (it could write nowhere else)."""
    for d in SHARED[:3]:
        try:
            entries = os.listdir(d)
        except OSError:
            continue
        for name in entries:
            p = os.path.join(d, name)
            try:
                if os.lstat(p).st_uid != uid:
                    continue
                if os.path.isdir(p) and not os.path.islink(p):
                    shutil.rmtree(p, ignore_errors=True)
                else:
                    os.unlink(p)
            except OSError:
                pass


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
        self.cgroup = None         # the caps on totals (cgroups.py), where this grader can make one
        if self.isolation in ("namespaces", "uid") and cgroups.available():
            total = limits.total_memory_mb * 2**20 if limits.total_memory_mb else None
            self.cgroup = cgroups.Cgroup(owner_token(), total, limits.nproc)
        self.notes = []            # what the caps did, for the student (filled by cleanup)
        self.over_disk = 0         # bytes seen over the disk cap (0: never)
        self._disk_stop = None
        self.protected = None      # uid mode: [(path, old mode, new mode)] this sandbox's protect() changed
        self.holder = f"{owner_token()}:{os.path.basename(self.dir)}"   # its name among the protections' holders
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
            self.protected = protect(self.hide, self.keep, self.holder)
            if self.absent:
                self.withheld = True
                self.frameworks_changed = withhold_frameworks([p for p, _ in self.absent])
        self._watch_disk()

    # -- the disk cap: a grader-side watch (every mode) ------------------------------------------
    def _written(self):
        """{path: bytes on disk} of what the sandbox may have written: its scratch (work, run, each worker's
        own folder: :meth:`private`) and, with a uid of its own, that uid's entries in the world-writable dirs."""
        try:
            tops = [os.path.join(self.dir, n) for n in os.listdir(self.dir) if n != "boot"]
        except OSError:
            tops = []
        if self.uid:
            for d in SHARED[:3]:
                try:
                    tops += [os.path.join(d, n) for n in os.listdir(d)
                             if os.lstat(os.path.join(d, n)).st_uid == self.uid]
                except OSError:
                    continue
        out = {}
        for top in tops:
            if not os.path.isdir(top) or os.path.islink(top):
                walked = [("", [], [top])]
            else:
                walked = os.walk(top)
            for root, _dirs, files in walked:
                for f in files:
                    p = os.path.join(root, f)
                    try:
                        out[p] = os.lstat(p).st_blocks * 512
                    except OSError:
                        continue
        return out

    def _watch_disk(self):
        """A thread that sums :meth:`_written` (less what the grader put there) twice a second; over
        ``limits.disk_mb`` it kills every
        process of the sandbox and removes the large files it wrote (what the grader put there stays),
        so the grading goes on (a restarted kernel, the next hidden test)."""
        import threading
        cap = self.limits.disk_mb * 2**20
        if not cap or self._disk_stop is not None:
            return
        initial = self._written()          # what the grader put there: not the student's to count
        base = sum(initial.values())
        self._disk_stop = stop = threading.Event()

        def watch():
            while not stop.wait(0.5):
                written = self._written()
                used = sum(written.values()) - base
                if used <= cap:
                    continue
                self.over_disk = max(self.over_disk, used)
                self.kill_all()
                for path, size in written.items():
                    if path not in initial and size >= 2**16:
                        try:
                            os.unlink(path)
                        except OSError:
                            pass
        threading.Thread(target=watch, name="sandbox-disk-watch", daemon=True).start()

    def caps_state(self):
        """(bytes seen over the disk cap, out-of-memory kills so far): compare with :meth:`caps_hit`."""
        return self.over_disk, self.cgroup.oom_kills() if self.cgroup is not None else 0

    def caps_hit(self, since):
        """Short reasons a process of the sandbox died of a cap on totals since ``since`` (a
        :meth:`caps_state`), for the crash message of that process."""
        now, out = self.caps_state(), []
        if now[0] != since[0]:
            out.append(f"over the sandbox's disk cap of {self.limits.disk_mb} MB")
        if now[1] != since[1]:
            out.append(f"over the memory cap of {self.limits.total_memory_mb} MB for all its processes")
        return out

    def cap_notes(self):
        """What the caps on totals did, in words for the student."""
        lim, notes = self.limits, []
        if self.over_disk:
            notes.append(f"Your code wrote more than the sandbox's disk cap of {lim.disk_mb} MB "
                         f"({self.over_disk / 2**20:.0f} MB seen): its processes were stopped and the files it "
                         "wrote removed.")
        if self.cgroup is not None and self.cgroup.oom_kills():
            notes.append(f"Your code's processes together went over the memory cap of {lim.total_memory_mb} MB: "
                         f"the kernel killed {self.cgroup.oom_kills()} of them (out of memory).")
        if self.cgroup is not None and self.cgroup.pids_refused():
            notes.append(f"Your code tried to run more than {lim.nproc} processes/threads at once: "
                         f"{self.cgroup.pids_refused()} fork(s) refused.")
        return notes

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
            remove_uid_files(self.uid)

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
        env.update({var: os.environ[var] for var in BLAS_THREADS if var in os.environ})
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
            # a process that may use the frameworks carries their group in every mode with a uid of its own,
            # so another grader on the host withholding them (uid mode) never takes them from it
            "groups": [FRAMEWORK_GID] if self.uid and not absent else [],
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
        cfg["cgroup"] = self.cgroup.procs_files() if self.cgroup is not None else []
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

    def cleanup(self):
        global _scratch_root
        if self._disk_stop is not None:
            self._disk_stop.set()
        try:
            self.kill_all()
        except Exception:  # noqa: BLE001 - cleanup must go on
            pass
        self.notes = self.cap_notes()
        if self.cgroup is not None:
            self.cgroup.remove()
        if self.protected is not None:      # every student process is dead: the last one out restores
            try:
                unprotect(self.holder)
            except OSError:
                pass
        if self.withheld:
            self.withheld = False
            release_frameworks()
        if self.uid:
            remove_uid_files(self.uid)
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
