"""Per-sandbox caps on the TOTAL memory and number of processes of a sandbox: a control group of its own.

A :class:`Cgroup` is a child of the grader's own cgroup (so whatever caps the grader has still apply on
top), made per sandbox, with ``memory`` and ``pids`` caps; the sandbox's first process joins it before
it runs anything of the student's (``_boot.py``: before ``unshare`` in "namespaces" mode, after forking
the supervisor in "uid" mode, so the supervisor stays outside, out of the caps' reach). Every student
process inherits it and cannot leave it (the group's files are root's).

Where: cgroup v2 (one unified hierarchy) when the grader's own cgroup already enables ``memory`` and
``pids`` for its children (its ``cgroup.subtree_control``: the host's root cgroup, or a group set up
so; the "no internal processes" rule keeps a grader from enabling them where it lives itself, and it
never moves itself or others); else cgroup v1 (one hierarchy per controller, as on hosts with the
hybrid layout, e.g. the development VM). The v2 path is untested on the development machine (its v2
hierarchy has no controllers). Only root graders ("namespaces" / "uid" modes) try; Docker mounts the
cgroup file system read-only, so there it is unavailable and the per-process rlimits are what is left.
:func:`available` says which controllers this grader can use (probed once per process); results.json
records it (``sandbox.guarantees``). Groups are named ``autograder-<owner>-<n>`` (the owner: the grader
process, ``sandbox.owner_token``), so a dead grader's are removed by the next (:func:`remove_dead`).
"""
from __future__ import annotations

import os
import re
import time

CONTROLLERS = ("memory", "pids")
NAME = re.compile(r"autograder-(\d+-\d+)-\d+")


def _mounts():
    """{"v2": mount point} and/or {controller: v1 mount point} from /proc/self/mountinfo."""
    out = {}
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                left, _, right = line.partition(" - ")
                fstype, _src, opts = (right.split() + ["", "", ""])[:3]
                point = left.split()[4]
                if fstype == "cgroup2":
                    out.setdefault("v2", point)
                elif fstype == "cgroup":
                    for c in CONTROLLERS:
                        if c in opts.split(","):
                            out.setdefault(c, point)
    except OSError:
        pass
    return out


def _own_paths():
    """{"v2": path} and/or {controller: path} of this process's cgroups (/proc/self/cgroup)."""
    out = {}
    try:
        with open("/proc/self/cgroup") as f:
            for line in f:
                _id, names, path = line.rstrip("\n").split(":", 2)
                if names == "":
                    out["v2"] = path
                for c in names.split(","):
                    if c in CONTROLLERS:
                        out[c] = path
    except (OSError, ValueError):
        pass
    return out


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def bases():
    """{controller: directory new groups are made in} for the controllers this grader can use."""
    mounts, own = _mounts(), _own_paths()
    if "v2" in mounts and "v2" in own:
        base = os.path.join(mounts["v2"], own["v2"].lstrip("/"))
        if set(CONTROLLERS) <= set(_read(os.path.join(base, "cgroup.subtree_control")).split()):
            return {c: base for c in CONTROLLERS}
    return {c: os.path.join(mounts[c], own[c].lstrip("/")) for c in CONTROLLERS if c in mounts and c in own}


_AVAILABLE = None


def available():
    """The controllers (of :data:`CONTROLLERS`) a sandbox of this grader gets, probed once: root only,
    by making (and removing) a group of each."""
    global _AVAILABLE
    if _AVAILABLE is None:
        _AVAILABLE = ()
        if os.geteuid() == 0:
            probe = Cgroup("probe", None, None)
            _AVAILABLE = tuple(sorted(probe.dirs))
            probe.remove(wait=0)
    return _AVAILABLE


class Cgroup:
    """One sandbox's group (see the module doc): ``memory_bytes`` / ``pids`` caps (None: none)."""

    _n = 0

    def __init__(self, owner, memory_bytes, pids):
        Cgroup._n += 1
        self.name = f"autograder-{owner}-{Cgroup._n}"
        self.dirs = {}            # controller -> the group's directory
        for c, base in bases().items():
            d = os.path.join(base, self.name)
            try:
                if d not in self.dirs.values():
                    os.mkdir(d)
                self.dirs[c] = d
            except OSError:
                continue
        caps = {"memory": [("memory.max", memory_bytes), ("memory.swap.max", 0 if memory_bytes else None),
                           ("memory.limit_in_bytes", memory_bytes), ("memory.memsw.limit_in_bytes", memory_bytes)],
                "pids": [("pids.max", pids)]}
        for c, d in list(self.dirs.items()):
            for fname, value in caps[c]:
                if value is not None and os.path.exists(os.path.join(d, fname)):
                    try:
                        with open(os.path.join(d, fname), "w") as f:
                            f.write(str(int(value)))
                    except OSError:
                        if fname in ("memory.max", "memory.limit_in_bytes", "pids.max"):
                            del self.dirs[c]      # a cap that cannot be set is no cap
                            break

    def procs_files(self):
        """The ``cgroup.procs`` files the sandbox's first process writes its pid to."""
        return sorted({os.path.join(d, "cgroup.procs") for d in self.dirs.values()})

    def oom_kills(self):
        """How many processes the kernel killed for going over the memory cap (v2: memory.events;
        v1: memory.oom_control's oom_kill, else memory.failcnt as a sign)."""
        d = self.dirs.get("memory")
        if d is None:
            return 0
        for fname in ("memory.events", "memory.oom_control"):
            m = re.search(r"^oom_kill (\d+)", _read(os.path.join(d, fname)), re.M)
            if m:
                return int(m.group(1))
        return 1 if _read(os.path.join(d, "memory.failcnt")).strip() not in ("", "0") else 0

    def pids_refused(self):
        """How many forks the pids cap refused."""
        d = self.dirs.get("pids")
        m = re.search(r"max (\d+)", _read(os.path.join(d, "pids.events"))) if d else None
        return int(m.group(1)) if m else 0

    def remove(self, wait=5.0):
        """Remove the group once its processes are gone (the caller killed them); retries up to ``wait`` s
        while the last ones are reaped."""
        end = time.monotonic() + wait
        for d in set(self.dirs.values()):
            while True:
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    if time.monotonic() >= end:
                        break
                    time.sleep(0.05)


def remove_dead(alive):
    """Remove the (empty) groups of graders that are gone (``alive(owner)`` false); returns them."""
    removed = []
    for base in set(bases().values()):
        try:
            names = os.listdir(base)
        except OSError:
            continue
        for name in names:
            m = NAME.fullmatch(name)
            if m and not alive(m.group(1)):
                try:
                    os.rmdir(os.path.join(base, name))
                    removed.append(os.path.join(base, name))
                except OSError:
                    pass
    return removed
