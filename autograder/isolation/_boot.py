"""Sandbox bootstrap: the first code that runs in a student process (kernel or hidden-test worker).

Run as ``python -I _boot.py CONFIG`` by :mod:`autograder.isolation.sandbox`, in the grader thread that keeps
the process. Standard library only, self-contained (the project is not importable in the sandbox).

1. It arms a parent-death signal (SIGKILL) and checks that the grader is still its parent.
2. "namespaces" mode: it execs ``unshare --mount --net --ipc --pid --fork --kill-child --mount-proc``
   running itself again (stage "inner"), which, as PID 1 of the new namespaces, hides directories
   (tmpfs over the project root, the grader's output, the submissions) and re-exposes only what is
   needed (the Python environment, the submission's scratch copy or the worker's own folder), covers the
   forbidden frameworks where they must be absent, then stays behind as init.
   "uid" / "rlimits" mode: it forks the supervisor (see :func:`supervise`) and becomes a child
   subreaper, so the student's orphans stay in its process tree.
3. It joins the sandbox's cgroup (caps on its total memory and processes, where the grader could make
   one: before ``unshare`` in "namespaces" mode, after forking the supervisor otherwise) and sets
   resource limits (address space, processes, file size, CPU time, core dumps),
4. drops to the sandbox's uid (if any; uid mode: with the frameworks' group only where they may be used;
   ``no_new_privs`` where they are absent) and re-arms the parent-death signal (setuid clears it),
5. removes the project from the import system (the student's beras is the only beras), refuses the
   absent frameworks with a clear ModuleNotFoundError (an import hook; in "uid"/"rlimits" also stub
   packages first on PYTHONPATH, for child processes), adds a socket guard where there is no network
   namespace,
6. runs the target (ipykernel, or the worker) in this process.
"""
import json
import os
import resource
import signal
import subprocess
import sys
import time

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36


def _prctl(option, value):
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.prctl(option, value, 0, 0, 0) == 0


def tie_to_parent(parent_pid, sig=signal.SIGKILL):
    """Die with ``parent_pid`` (parent-death signal); exit now if it is already gone."""
    _prctl(PR_SET_PDEATHSIG, int(sig))
    if parent_pid is not None and os.getppid() != parent_pid:
        os._exit(70)


def _mount(*args):
    subprocess.run(["mount", *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


ABSENT_INIT = ("raise ModuleNotFoundError(\"No module named {name!r}: it is not available here while grading (the "
               "assignment forbids it where your code runs)\", name={name!r})\n")


def hide_paths(hide, keep, stash, absent=()):
    """tmpfs over every ``hide`` dir; bind each ``keep`` path (inside a hidden one) back in place.
    The kept trees wait in ``stash``, a private tmpfs on a top-level dir that holds no kept path,
    covered itself at the end when it is hidden too. Then each ``absent`` [path, module] (a forbidden
    framework's site-packages entries) is covered: a directory by a read-only tmpfs (a package's holds only
    an ``__init__.py`` that raises ModuleNotFoundError, so not even an empty namespace package imports), a
    file by /dev/null.
    Only ever in a fresh mount namespace: as PID 1 of a new PID namespace (made by the same
    ``unshare`` as the mount namespace); anywhere else it refuses to mount anything."""
    if os.getpid() != 1:
        sys.stderr.write("autograder sandbox: not in a fresh namespace; refusing to mount\n")
        os._exit(71)
    _mount("--make-rprivate", "/")
    _mount("-t", "tmpfs", "-o", "size=64k,mode=700", "tmpfs", stash)
    kept = []
    for i, path in enumerate(keep):
        if os.path.exists(path) and any(path == h or path.startswith(h.rstrip("/") + "/") for h in hide):
            slot = os.path.join(stash, str(i))
            os.makedirs(slot, exist_ok=True)
            _mount("--rbind", path, slot)
            kept.append((slot, path))
    def cover(path):
        _mount("-t", "tmpfs", "-o", "size=64k,mode=755,nosuid,nodev", "tmpfs", path)
    for path in hide:
        if os.path.isdir(path) and path != stash:
            cover(path)
    for slot, path in sorted(kept, key=lambda sp: len(sp[1])):
        os.makedirs(path, exist_ok=True)
        _mount("--move", slot, path)
    subprocess.run(["umount", "-l", stash], check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if stash in hide:
        cover(stash)
    for path, module in absent:
        if os.path.isdir(path) and not os.path.islink(path):
            _mount("-t", "tmpfs", "-o", "size=16k,mode=755,nosuid,nodev", "tmpfs", path)
            if module:
                with open(os.path.join(path, "__init__.py"), "w") as f:
                    f.write(ABSENT_INIT.format(name=module))
            _mount("-o", "remount,ro,size=16k,mode=755,nosuid,nodev", "tmpfs", path)
        elif os.path.isfile(path) and not os.path.islink(path):
            _mount("--bind", "-o", "ro", "/dev/null", path)


def absent_stubs(absent, runtime):
    """"uid" / "rlimits": a folder of stub packages that raise ModuleNotFoundError, first on PYTHONPATH, so
    a child ``python`` says clearly that a framework is absent (uid mode: its files are unreadable, so without
    the stub ``import tensorflow`` would give an empty namespace package; rlimits: this is all there is)."""
    stubs = os.path.join(runtime, ".absent")
    for _, module in absent:
        if module:
            os.makedirs(os.path.join(stubs, module), exist_ok=True)
            with open(os.path.join(stubs, module, "__init__.py"), "w") as f:
                f.write(ABSENT_INIT.format(name=module))
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [stubs, os.environ.get("PYTHONPATH")]))


class AbsentFrameworks:
    """A meta-path finder that refuses the forbidden frameworks with a clear ModuleNotFoundError. Only the
    message: where they are absent the sandbox has covered (namespaces) or locked (uid) their files already,
    so code that removes this finder finds nothing to import either."""

    def __init__(self, names):
        self.names = set(names)

    def find_spec(self, fullname, path=None, target=None):
        top = fullname.partition(".")[0]
        if top in self.names:
            raise ModuleNotFoundError(f"No module named {top!r}: it is not available here while grading (the "
                                      "assignment forbids it where your code runs)", name=top)
        return None


def join_cgroup(procs_files):
    """Move this process (and so everything it starts) into the sandbox's cgroup (the caps on the
    sandbox's total memory and processes); a cap that cannot be joined stops the sandbox here."""
    for path in procs_files or ():
        try:
            with open(path, "w") as f:
                f.write(str(os.getpid()))
        except OSError as e:
            sys.stderr.write(f"autograder sandbox: cannot join the cgroup {path}: {e}\n")
            os._exit(72)


def set_limits(limits):
    names = {"as": resource.RLIMIT_AS, "nproc": resource.RLIMIT_NPROC, "fsize": resource.RLIMIT_FSIZE,
             "cpu": resource.RLIMIT_CPU, "core": resource.RLIMIT_CORE, "nofile": resource.RLIMIT_NOFILE}
    for name, value in limits.items():
        if value is not None:
            soft_hard = (int(value), int(value))
            try:
                resource.setrlimit(names[name], soft_hard)
            except (ValueError, OSError):
                pass


PR_SET_DUMPABLE = 4


PR_SET_NO_NEW_PRIVS = 38


def drop_privileges(uid, gid, groups=()):
    """Become ``uid``/``gid`` with supplementary ``groups`` only (uid mode: FRAMEWORK_GID for a process that
    may use the frameworks, nothing for one that must not)."""
    if os.getuid() == 0 and uid:
        os.setgroups(list(groups))
        os.setgid(gid)
        os.setuid(uid)
        # the uid change made the process non-dumpable: the grader (as this uid, without CAP_SYS_PTRACE,
        # e.g. in Docker) could not read its /proc/PID/maps for the framework rule. Code that undoes
        # this makes itself uninspectable, which the grader counts against it.
        _prctl(PR_SET_DUMPABLE, 1)


def scrub_imports(project_paths):
    """The project (instructor beras, autograder, solutions) must not be importable."""
    def inside(p):
        p = os.path.abspath(p or ".")
        return any(p == r or p.startswith(r.rstrip("/") + "/") for r in project_paths)
    sys.path[:] = [p for p in sys.path if p and not inside(p) or (p and "site-packages" in p)]
    sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
    sys.path_hooks[:] = [h for h in sys.path_hooks if "editable" not in repr(h).lower()]
    sys.path_importer_cache.clear()
    for name in [m for m in sys.modules if m.startswith("__editable__")]:
        del sys.modules[name]


def guard_sockets():
    """Fallback when no network namespace is available: refuse to create INET sockets (best effort:
    code that reloads the socket module or calls libc can undo it)."""
    import socket
    real = socket.socket

    class GuardedSocket(real):
        def __init__(self, family=-1, type=-1, proto=-1, fileno=None):
            if family in (socket.AF_INET, socket.AF_INET6) and fileno is None:
                raise PermissionError("network access is disabled while grading")
            super().__init__(family, type, proto, fileno)
    socket.socket = GuardedSocket


def become_reaper():
    """We are PID 1 of the sandbox's PID namespace, which its own processes cannot signal: fork, let
    the child run the student's process (so a kill from inside really kills it), stay behind as
    init reaping orphans, and exit with the child's status (which kills the whole namespace)."""
    child = os.fork()
    if child == 0:
        return
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda s, f: os.kill(child, signal.SIGKILL))
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            os._exit(1)
        except InterruptedError:
            continue
        if pid == child:
            code = os.waitstatus_to_exitcode(status)
            os._exit(128 - code if code < 0 else code)


# -- the supervisor ("uid" / "rlimits" modes) --------------------------------------------------
def _children(pid):
    out = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                out.extend(int(c) for c in f.read().split())
    except (OSError, ValueError):
        pass
    return out


def _stat(pid):
    """(ppid, starttime, state) of ``pid``, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return int(fields[1]), fields[19], fields[0]
    except (OSError, IndexError, ValueError):
        return None


class _Watch:
    """A process the supervisor outlives: through a pidfd where the kernel has them (Linux >= 5.3),
    else by polling its start time and state."""

    def __init__(self, pid):
        self.pid, self.fd = pid, None
        st = _stat(pid)
        self.start = st[1] if st else None
        try:
            self.fd = os.pidfd_open(pid)
        except (OSError, AttributeError):
            pass

    def gone(self, ready=()):
        if self.fd is not None:
            return self.fd in ready
        st = _stat(self.pid)
        return st is None or st[1] != self.start or st[2] in (b"Z", b"X")


def _tree(roots, exclude):
    """{pid: starttime} of ``roots`` and their descendants."""
    seen, todo = {}, list(roots)
    while todo:
        p = todo.pop()
        if p in seen or p in exclude:
            continue
        st = _stat(p)
        if st is None:
            continue
        seen[p] = st[1]
        todo.extend(_children(p))
    return seen


def _kill_tracked(tracked, student, exclude, marker):
    """SIGKILL the tracked processes (if still the same processes), their descendants, and orphans
    that carry the sandbox's marker; a few rounds, until none is left."""
    needle = marker.encode()
    for _ in range(10):
        alive = {p: st for p, st in tracked.items() if (_stat(p) or (0, None))[1] == st}
        alive.update(_tree([student, *alive], exclude))
        for name in os.listdir("/proc"):
            if not name.isdigit() or int(name) in exclude or int(name) in alive:
                continue
            st = _stat(int(name))
            if st is None or st[0] not in (0, 1):
                continue
            try:
                with open(f"/proc/{name}/environ", "rb") as f:
                    if needle in f.read().split(b"\0"):
                        alive[int(name)] = st[1]
            except OSError:
                continue
        if not alive:
            return
        for p in alive:
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.05)


def _kill_uid(uid, gid):
    """SIGKILL every process of ``uid`` (a forked child drops to it and kills -1; root only)."""
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
            for _ in range(25):
                os.kill(-1, signal.SIGKILL)
                time.sleep(0.02)
        except BaseException:  # noqa: B902 - ESRCH: none left
            pass
        os._exit(0)
    os.waitpid(pid, 0)


# -- uid mode's withheld frameworks (sandbox.withhold_frameworks): the shared record -----------------
# while a sandbox withholds the frameworks, their site-packages entries belong to this group, which only
# the sandbox processes that may use them get (as a supplementary group); above allocate_uid's range
FRAMEWORK_GID = 2_100_000_000


def locked_record(path, empty, update):
    """Run ``update(state)`` on the JSON record at ``path`` (``empty()`` when there is none yet, or it is
    unreadable) under an exclusive lock (``path`` + ".lock"), and save it atomically after; returns what
    ``update`` returns. The one way graders share state on the host (the withheld frameworks here, uid
    mode's protections in sandbox.py)."""
    import fcntl
    with open(path + ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            with open(path) as f:
                state = json.load(f)
        except (OSError, ValueError):
            state = empty()
        out = update(state)
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(state, f)
        os.replace(tmp, path)
        return out


def frameworks_state(state_dir, update):
    """Run ``update(state)`` on the shared record of withheld frameworks in ``state_dir`` (:func:`locked_record`):
    ``state`` = {"holders": {grader pid: start time}, "saved": {path: [gid, mode]}} (the host's own group and
    mode of each entry, recorded before the first change). Holders that are gone (a killed grader) are
    dropped first. Returns what ``update`` returns."""
    def live(state):
        state["holders"] = {p: st for p, st in state["holders"].items()
                            if ((_stat(int(p)) or (0, b"", b"X"))[1] or b"").decode() == st
                            and (_stat(int(p)) or (0, b"", b"X"))[2] not in (b"Z", b"X")}
        return update(state)
    return locked_record(os.path.join(state_dir, "frameworks.json"), lambda: {"holders": {}, "saved": {}}, live)


def release_frameworks_of(state_dir, pid):
    """Grader ``pid``'s share ends (it released, or it died and a supervisor saw it); when no grader holds
    one any more, every entry gets back the host's own group and mode."""
    def update(state):
        state["holders"].pop(str(pid), None)
        if state["holders"]:
            return
        for p, (gid, mode) in state["saved"].items():
            try:
                os.chown(p, -1, gid)
                os.chmod(p, mode)
            except OSError:
                pass
        state["saved"] = {}
    frameworks_state(state_dir, update)


def supervise(cfg):
    """Fork the supervisor; return in the student's process once it is watching.

    The supervisor leaves the grader's process group (the grader kills the student's group), keeps
    the grader's privileges (root in "uid" mode: out of the student's reach), closes every inherited
    fd, and watches the grader and the student's process (:class:`_Watch`), tracking the student's
    process tree (the student's process is a child subreaper: orphans stay in it). The student's
    process dies -> kill its tree. The grader dies (or a signal) -> kill the tree and, in "uid"
    mode, every process of the sandbox uid."""
    grader = cfg["grader_pid"]
    gw = _Watch(grader)
    if os.getppid() != grader:     # (still) the grader's child: the watch is on the grader
        os._exit(70)
    r, w = os.pipe()
    child = os.fork()
    if child:
        os.close(w)
        os.read(r, 1)          # the supervisor is watching
        os.close(r)
        if gw.fd is not None:
            os.close(gw.fd)
        return
    student = os.getppid()
    os.setsid()
    sw = _Watch(student)
    keep = {w} | {x.fd for x in (gw, sw) if x.fd is not None}
    for fd in [int(f) for f in os.listdir("/proc/self/fd")]:
        if fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass
    null = os.open("/dev/null", os.O_RDWR)
    try:
        log = os.open(cfg["supervisor_log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    except OSError:
        log = null
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    state = {"why": None}

    def on_signal(signum, frame):
        state["why"] = f"signal {signum}"
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    os.write(w, b"1")
    os.close(w)
    import select
    exclude = {os.getpid()}
    tracked = {}
    fds = [x.fd for x in (gw, sw) if x.fd is not None]
    while state["why"] is None:
        tracked.update(_tree([student], exclude))
        try:
            ready, _, _ = select.select(fds, [], [], 0.2)
        except InterruptedError:
            continue
        if gw.gone(ready):
            state["why"] = "grader"
        elif sw.gone(ready):
            state["why"] = "student"
    _kill_tracked(tracked, student, exclude, cfg["marker"])
    if state["why"] != "student" and cfg.get("uid") and os.getuid() == 0:
        _kill_uid(cfg["uid"], cfg["gid"])
    if state["why"] == "grader" and cfg.get("frameworks_state") and os.getuid() == 0:
        try:   # the grader died holding the frameworks withheld: its share ends here (the last restores them)
            release_frameworks_of(cfg["frameworks_state"], grader)
        except OSError as e:
            print(f"supervisor: could not release the frameworks: {e}", flush=True)
    print(f"supervisor: {state['why']} gone; {len(tracked)} process(es) tracked", flush=True)
    os._exit(0)


def main():
    cfg = json.load(open(sys.argv[1]))
    stage = sys.argv[2] if len(sys.argv) > 2 else "first"
    if "isolation" not in cfg:      # a config of an older grader: already under unshare if namespaces
        stage = "inner"
    if stage == "first":
        tie_to_parent(cfg["grader_pid"])
        if cfg.get("namespaces"):   # unshare keeps the parent-death signal (not a set-uid binary)
            join_cgroup(cfg.get("cgroup"))      # unshare, the namespace's init and everything below
            os.execvp("unshare", ["unshare", "--mount", "--net", "--ipc", "--pid", "--fork", "--kill-child=SIGKILL",
                                  "--mount-proc", "--", sys.executable, "-I", os.path.abspath(__file__),
                                  sys.argv[1], "inner"])
    payload = cfg.get("payload")            # inline in the one launch config (read before dropping privileges)
    absent = cfg.get("absent") or []
    log = os.open(cfg["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)   # before the scratch is hidden
    if cfg.get("namespaces"):
        hide_paths(cfg["hide"], cfg["keep"], cfg["stash"], absent)
    else:
        supervise(cfg)
        join_cgroup(cfg.get("cgroup"))   # after the fork: the supervisor stays out of the caps' reach
        _prctl(PR_SET_CHILD_SUBREAPER, 1)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    if cfg.get("namespaces"):
        become_reaper()
    os.environ.pop("JPY_PARENT_PID", None)   # the kernel must not poll the grader's pid
    set_limits(cfg["limits"])
    if absent and not cfg.get("namespaces"):
        absent_stubs(absent, cfg["runtime"])
    drop_privileges(cfg.get("uid"), cfg.get("gid"), cfg.get("groups") or ())
    if absent:    # no set-gid program can hand it the frameworks' group back (uid mode), nor anything else
        _prctl(PR_SET_NO_NEW_PRIVS, 1)
    if not cfg.get("namespaces"):
        tie_to_parent(cfg["grader_pid"])     # setuid cleared it
    os.chdir(cfg["cwd"])
    os.umask(0o022)
    scrub_imports(cfg["project_paths"])
    if absent:
        sys.meta_path.insert(0, AbsentFrameworks(m for _, m in absent if m))
    if not cfg.get("namespaces"):
        guard_sockets()
    if cfg["mode"] == "kernel":
        conn = os.path.join(cfg["runtime"], "kernel.json")
        with open(conn, "w") as f:
            f.write(payload)
        sys.argv = ["ipykernel_launcher", "-f", conn, "--IPKernelApp.capture_fd_output=False",
                    "--HistoryManager.enabled=False"]
        import runpy
        runpy.run_module("ipykernel_launcher", run_name="__main__", alter_sys=True)
    else:
        sys.argv = ["worker"] + cfg.get("args", [])
        code = compile(payload, "autograder-worker", "exec")
        exec(code, {"__name__": "__main__", "JOB": cfg.get("job")})  # noqa: S102 - the grader's own worker


if __name__ == "__main__":
    main()
