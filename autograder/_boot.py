"""Sandbox bootstrap: the first code that runs in a student process (kernel or hidden-test worker).

Run as ``[unshare --mount --net --pid --fork --kill-child --mount-proc] python -I _boot.py CONFIG``
by :mod:`autograder.sandbox`. Standard library only, self-contained (the project is not importable
in the sandbox). As root, in the fresh namespaces it:

1. reads what it needs from the grader (config, kernel connection file, worker source),
2. hides directories (tmpfs over the project root, the grader's output, the submissions) and
   re-exposes only what is needed (the Python environment, the submission's scratch copy),
3. sets resource limits (address space, processes, file size, CPU time, core dumps),
4. drops to an unprivileged uid unique to this sandbox (so RLIMIT_NPROC is enforced),
5. removes the project from the import system (the student's beras is the only beras),
6. runs the target (ipykernel, or the worker) in this process.

Without root/unshare only steps 3, 5, 6 happen, plus a socket guard (best effort, documented).
"""
import json
import os
import resource
import subprocess
import sys


def _mount(*args):
    subprocess.run(["mount", *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def hide_paths(hide, keep, stash):
    """tmpfs over every ``hide`` dir; bind each ``keep`` path (inside a hidden one) back in place.
    The kept trees wait in ``stash``, a private tmpfs mount point outside every hidden dir."""
    _mount("--make-rprivate", "/")
    _mount("-t", "tmpfs", "-o", "size=64k,mode=700", "tmpfs", stash)
    kept = []
    for i, path in enumerate(keep):
        if os.path.exists(path) and any(path == h or path.startswith(h.rstrip("/") + "/") for h in hide):
            slot = os.path.join(stash, str(i))
            os.makedirs(slot, exist_ok=True)
            _mount("--rbind", path, slot)
            kept.append((slot, path))
    for path in hide:
        if os.path.isdir(path):
            _mount("-t", "tmpfs", "-o", "size=64k,mode=755,nosuid,nodev", "tmpfs", path)
    for slot, path in sorted(kept, key=lambda sp: len(sp[1])):
        os.makedirs(path, exist_ok=True)
        _mount("--move", slot, path)
    subprocess.run(["umount", "-l", stash], check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


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


def drop_privileges(uid, gid):
    if os.getuid() == 0 and uid:
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)


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
    code that reloads the socket module can undo it)."""
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
    import signal
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


def main():
    cfg = json.load(open(sys.argv[1]))
    payload = open(cfg["payload"]).read() if cfg.get("payload") else None
    if cfg.get("namespaces"):
        if os.getpid() != 1:   # never mount over the host's view: only as init of the sandbox's own namespaces
            sys.exit("autograder sandbox: namespaces requested but this process is not the init of a new PID "
                     "namespace (run it under `unshare --mount --pid --fork`); refusing to mount anything")
        hide_paths(cfg["hide"], cfg["keep"], cfg["stash"])
    log = os.open(cfg["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    if cfg.get("namespaces"):
        become_reaper()
    os.environ.pop("JPY_PARENT_PID", None)   # its pid means nothing in this PID namespace
    set_limits(cfg["limits"])
    drop_privileges(cfg.get("uid"), cfg.get("gid"))
    os.chdir(cfg["cwd"])
    os.umask(0o022)
    scrub_imports(cfg["project_paths"])
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
        exec(code, {"__name__": "__main__"})  # noqa: S102 - the grader's own worker


if __name__ == "__main__":
    main()
