"""The sandbox's three isolation modes and "nothing outlives the grader", on this machine.

This machine runs the tests as root with CAP_SYS_ADMIN ("namespaces"). The other two modes are
emulated by running the grader (a subprocess) in a private mount namespace made by the test harness:

- "uid": ``setpriv --bounding-set`` Docker's default capability set (root without CAP_SYS_ADMIN and
  CAP_SYS_PTRACE: the grader reads the student's /proc/PID/maps as the sandbox's uid). The grader runs from a copy of the project whose virtualenv lives *inside* the
  project root (a venv whose site-packages point at this project's), and the course, the
  submissions and the output live in world-readable directories: only the grader's own protections
  (``sandbox.protect_paths``) keep the student's uid out.
- "rlimits": ``setpriv --reuid 65534`` (no root at all).

In both, the harness replaces /root by a private tmpfs (so the grader's changes to its home never touch
the real one) and /tmp by a private tmpfs (so what student code leaves there is checked, then thrown
away, without racing other tests), binding back over them what lives there and must stay: the Python
installation, this checkout and its virtualenv (``kept_through_wrap``: a checkout under /tmp or /root
works as well as one anywhere else).

Each mode grades the hostile corpus (tests/hostile/cases.py; the cases whose handling depends on the
mode: ``Case.every_mode``) in one grade-all batch and checks the scores, the messages, and the guarantees results.json reports; "namespaces" is covered by
tests/hostile/test_hostile.py. The kill tests SIGKILL a grader (and a grade-all) whose student is spinning
in a cell after spawning a detached, setsid'd grandchild, and check that within a few seconds no
process of that sandbox is alive.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import nbformat
import pytest

from autograder.isolation import cgroups
from autograder.isolation.sandbox import guarantees, isolation_mode
from tests.hostile.cases import CASES as ALL_CASES, _edit, network, read_secrets, search_disk
from tests.hostile.toy import make_course
from tests import ROOT

LIMITS = ["--cell-timeout", "6", "--call-timeout", "6", "--timeout", "150", "--memory-mb", "3000",
          "--total-memory-mb", "2500", "--disk-mb", "300"]
FAKE = '"score": 1000'

# a case the grader handles on its own side whatever the mode (a bad zip, a restored cell) is graded once,
# by tests/hostile/test_hostile.py
CASES = {name: case for name, case in ALL_CASES.items() if case.every_mode}


def _namespaces_missing():
    """Why "namespaces" mode (root with a working unshare) is not available here, or None."""
    if os.geteuid() != 0:
        return "not root"
    if isolation_mode() != "namespaces":
        return "root without a working unshare (no CAP_SYS_ADMIN)"
    return None


def _emulation_missing():
    """Why the harness cannot emulate "uid" / "rlimits" here (it needs a private mount namespace, setpriv)."""
    return _namespaces_missing() or (None if shutil.which("setpriv") else "setpriv is missing")


# Each test skips only for what it needs, and names the guarantees it checks (mark `isolation`): the
# terminal summary (tests/conftest.py) lists those that went untested on this machine, and why.
pytestmark = pytest.mark.slow(seconds=280)   # end to end (tests/__init__.py); seconds: its cost, measured
NAMESPACES = pytest.mark.skipif(_namespaces_missing() is not None, reason=f"{_namespaces_missing()}")
EMULATED = pytest.mark.skipif(_emulation_missing() is not None, reason=f"{_emulation_missing()}")
EVERY = ("network_closed", "secrets_unreadable", "separate_uid", "grader_unwritable", "processes_tied",
         "resource_limits", "total_memory", "total_processes", "disk_quota", "frameworks_absent")
MODES = {"namespaces": NAMESPACES, "uid": EMULATED, "rlimits": EMULATED}


def modes(*names):
    return [pytest.param(m, marks=MODES[m]) for m in names]


# Runs "$@" in a private mount namespace: /root = tmpfs, /tmp = tmpfs, with what must stay where it is
# bound back (KEEP, colon-separated: the Python installation, this checkout and its virtualenv, when
# they live under /root or /tmp); then as root without CAP_SYS_ADMIN ("uid") or as uid 65534 ("rlimits").
# With a LISTING path, it runs the command as a child and then lists the world-writable dirs.
WRAP = r"""
set -e
umask 022
MODE=$1; WHERE=$2; LISTING=$3; KEEP=$4; shift 4
# Docker's default capability set (no CAP_SYS_ADMIN, no CAP_SYS_PTRACE)
DOCKER_CAPS=-all,+chown,+dac_override,+fsetid,+fowner,+mknod,+net_raw,+setgid,+setuid,+setfcap,+setpcap,+net_bind_service,+sys_chroot,+kill,+audit_write
STASHED=""; ROOT_MODE=700
IFS=:
for P in $KEEP; do
  S=$(mktemp -d /var/tmp/ag-stash-XXXXXX)
  mount --rbind "$P" "$S"
  STASHED="$STASHED$P:$S:"
  # "rlimits" (uid 65534) must traverse /root to what is kept there; "uid" opens the way itself
  case "$P" in /root/*) if [ "$MODE" = rlimits ]; then ROOT_MODE=711; fi ;; esac
done
unset IFS
mount -t tmpfs -o mode=$ROOT_MODE tmpfs /root
mount -t tmpfs -o mode=1777 tmpfs /tmp
while [ -n "$STASHED" ]; do
  P=${STASHED%%:*}; STASHED=${STASHED#*:}; S=${STASHED%%:*}; STASHED=${STASHED#*:}
  mkdir -p "$P"
  mount --move "$S" "$P"
  rmdir "$S"
done
cd "$WHERE"
if [ "$MODE" = uid ]; then
  set -- setpriv --bounding-set "$DOCKER_CAPS" --inh-caps -all -- "$@"
else
  set -- setpriv --reuid 65534 --regid 65534 --clear-groups -- "$@"
fi
if [ -z "$LISTING" ]; then exec "$@"; fi
set +e
"$@"; rc=$?
ls -lnA /tmp /var/tmp /dev/shm > "$LISTING" 2>&1
exit $rc
"""
HIDDEN_BY_WRAP = ("/root", "/tmp")


def kept_through_wrap():
    """What the emulation binds back over its fresh /root and /tmp: the Python installation, this
    checkout (tests, the grader, and usually its .venv) and the virtualenv, wherever this checkout is."""
    paths = {os.path.realpath(p) for p in (sys.base_prefix, sys.prefix, ROOT)}
    under = [p for p in paths if any(p.startswith(h + "/") for h in HIDDEN_BY_WRAP)]
    return sorted(p for p in under if not any(p != q and p.startswith(q + "/") for q in under))


def wrapped(mode, cmd, where, listing=""):
    if mode == "namespaces":
        return cmd
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", WRAP, "wrap",
            mode, where, listing, ":".join(kept_through_wrap()), *cmd]


def _project_copy(base):
    """A copy of the grader whose virtualenv lives inside the project root (uid mode)."""
    proj = os.path.join(base, "p", "proj")
    shutil.copytree(os.path.join(ROOT, "autograder"), os.path.join(proj, "autograder"),
                    ignore=shutil.ignore_patterns("__pycache__"))
    venv = os.path.join(proj, ".venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True, timeout=120)
    site = [p for p in sys.path if p.endswith("site-packages") and p.startswith(sys.prefix)][0]
    (sp,) = [os.path.join(dp, d) for dp, ds, _ in os.walk(os.path.join(venv, "lib")) for d in ds
             if d == "site-packages"]
    with open(os.path.join(sp, "_course_kit_packages.pth"), "w") as f:
        f.write(f"import site; site.addsitedir({site!r})\n")
    return proj, os.path.join(venv, "bin", "python")


def _modes(*tops):
    """{path: st_mode} of every file and dir under ``tops`` (symlinks not followed)."""
    out = {}
    for top in tops:
        for dp, ds, fs in os.walk(top):
            for p in [dp] + [os.path.join(dp, n) for n in ds + fs]:
                try:
                    out[p] = os.lstat(p).st_mode
                except OSError:
                    pass
    return out


def _world_readable(path):
    for dp, _ds, fs in os.walk(path):
        os.chmod(dp, 0o755)
        for f in fs:
            os.chmod(os.path.join(dp, f), 0o644)


@pytest.fixture(scope="module")
def uid_project():
    base = tempfile.mkdtemp(prefix="ag-iso-proj-", dir="/var/tmp")
    os.chmod(base, 0o755)
    try:
        yield _project_copy(base)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _grader(mode, uid_project):
    """(project dir, python) the grader runs from: in uid mode the copy (its protections then
    change the copy's modes, never this checkout's)."""
    return uid_project if mode == "uid" else (ROOT, sys.executable)


@pytest.fixture(scope="module", params=modes("uid", "rlimits"))
def batch(request, uid_project):
    mode = request.param
    base = tempfile.mkdtemp(prefix=f"ag-iso-{mode}-", dir="/var/tmp")
    os.chmod(base, 0o755)
    try:
        proj, python = _grader(mode, uid_project)
        course = make_course(os.path.join(base, "course"))
        release = os.path.join(course, "assignments", "toy")
        subs = os.path.join(base, "subs")
        os.makedirs(subs)
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(5)
        listener.setblocking(False)
        secrets = [os.path.join(course, "solutions", "toy", "hidden_tests.py"),
                   os.path.join(course, "solutions", "toy", "toy.ipynb"),
                   os.path.join(course, "build", "grader", "toy", "hidden_tests.py"),   # the grader bundle
                   os.path.join(proj, "autograder", "grade.py")]
        # "rlimits" gives student code no process quota of its own (it runs as the grader's user) and no
        # cap on its total memory: a fork bomb starves whatever runs beside it until its cell's time limit
        # (documented in sandbox.py), so there the bombs are graded in a batch of their own, after the others
        alone = {"fork_bomb", "memory_fork_bomb"} if mode == "rlimits" else set()
        subs_alone = os.path.join(base, "subs_alone")
        os.makedirs(subs_alone)
        for name, case in CASES.items():
            where = os.path.join(subs_alone if name in alone else subs, name)
            if case.build is network:
                network(release, where, port=listener.getsockname()[1])
            elif case.build in (read_secrets, search_disk):
                case.build(release, where, secrets)
            else:
                case.build(release, where)
        _world_readable(base)
        out = os.path.join(base, "out")
        listing = os.path.join(base, "listing.txt")
        if mode == "rlimits":
            os.makedirs(out)
            subprocess.run(["chown", "-R", "65534:65534", base], check=True)
        cmd = [python, "-m", "autograder", "grade-all", subs, "--assignment", "toy", "--out", out,
               "--root", course, "--profile", "smoke", "--jobs", "2", *LIMITS]
        modes_before = _modes(base, proj)
        t0 = time.monotonic()
        proc = subprocess.run(wrapped(mode, cmd, proj, listing), capture_output=True, text=True,
                              env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"), timeout=600)
        seconds = time.monotonic() - t0
        if alone:
            out_alone = os.path.join(base, "out_alone")
            os.makedirs(out_alone)
            subprocess.run(["chown", "-R", "65534:65534", out_alone], check=True)
            cmd_alone = [a if a != subs else subs_alone for a in cmd]
            cmd_alone[cmd_alone.index(out)] = out_alone
            solo = subprocess.run(wrapped(mode, cmd_alone, proj), capture_output=True, text=True,
                                  env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"), timeout=600)
            assert solo.returncode == 0, solo.stderr[-3000:]
            for name in alone:
                shutil.copytree(os.path.join(out_alone, name), os.path.join(out, name))
        try:
            conn = listener.accept()
        except (BlockingIOError, OSError):
            conn = None
        listener.close()
        yield {"mode": mode, "proc": proc, "out": out, "base": base, "course": course, "proj": proj,
               "connected": conn, "secrets": secrets, "listing": listing, "seconds": seconds,
               "modes": (modes_before, _modes(base, proj))}
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _results(batch, name):
    with open(os.path.join(batch["out"], name, "results.json")) as f:
        return json.load(f)


def _outputs(batch, name):
    nb = nbformat.read(os.path.join(batch["out"], name, "toy.graded.ipynb"), as_version=4)
    return json.dumps([[o.get("text", ""), o.get("ename", ""), o.get("evalue", "")]
                       for c in nb.cells for o in c.get("outputs", [])])


def _text(res):
    return res["output"] + "\n" + "\n".join(t["output"] for t in res["tests"])


@pytest.mark.isolation("reported_guarantees")
def test_batch_ran_in_the_mode(batch):
    assert batch["proc"].returncode == 0, batch["proc"].stderr[-3000:]
    print(f"{batch['mode']}: the hostile batch took {batch['seconds']:.0f} s")
    for name in CASES:
        res = _results(batch, name)
        assert res["extra_data"]["isolation"] == batch["mode"], name
        assert res["extra_data"]["guarantees"] == guarantees(batch["mode"]), name


@pytest.mark.isolation(*EVERY)
def test_every_case_scores_its_honest_points(batch):
    wrong = {}
    for name, case in CASES.items():
        res = _results(batch, name)
        assert res["score"] == sum(t["score"] for t in res["tests"])
        honest, mention = case.expected(batch["mode"])
        scored = res["score"] <= case.honest if honest is None else res["score"] == honest
        if not scored or not re.search(mention, _text(res)):
            wrong[name] = (res["score"], honest, _text(res)[:600])
        assert os.path.isfile(os.path.join(batch["out"], name, "feedback.html"))
    assert not wrong, wrong


@pytest.mark.isolation("reported_guarantees")
def test_reported_guarantees(batch):
    res = _results(batch, "read_secrets")
    g, caps = res["extra_data"]["guarantees"], res["extra_data"]["caps"]
    if batch["mode"] == "uid":
        # a cgroup of its own where this (root) grader can make one: then its total memory is capped too
        cgroup = "memory" in cgroups.available()
        assert set(g["held"]) == {"secrets_unreadable", "separate_uid", "grader_unwritable", "processes_tied",
                                  "resource_limits", "total_processes", "frameworks_absent"} | \
            ({"total_memory"} if cgroup else set())
        assert g["best_effort"] == ["disk_quota", "network_closed"]
        assert g["not_held"] == ([] if cgroup else ["total_memory"])
        assert caps["memory"] == ("cgroup" if cgroup else "RLIMIT_AS per process only")
        assert (f"Sandbox: uid (not guaranteed: disk_quota, network_closed{'' if cgroup else ', total_memory'})."
                in res["output"])
    else:
        assert g["held"] == ["resource_limits"]
        assert set(g["not_held"]) == {"secrets_unreadable", "separate_uid", "grader_unwritable", "total_memory",
                                      "total_processes"}
        assert set(g["best_effort"]) == {"network_closed", "processes_tied", "disk_quota", "frameworks_absent"}
        assert caps == {"memory": "RLIMIT_AS per process only",
                        "processes": "RLIMIT_NPROC of the grader's user (shared)",
                        "disk": "grader-side watch of what it writes + RLIMIT_FSIZE per file"}
        assert "secrets_unreadable" in res["output"].split("not guaranteed:")[1]


@pytest.mark.isolation("network_closed")
def test_network_attack_refused(batch):
    # no network namespace in either mode: the socket guard refuses (best effort, as reported)
    assert batch["connected"] is None
    text = _outputs(batch, "network")
    assert "CONNECTED" not in text and "network access is disabled" in text


@pytest.mark.isolation("secrets_unreadable")
def test_secrets(batch):
    text = _outputs(batch, "read_secrets")
    if batch["mode"] == "rlimits":   # documented as not held (test_reported_guarantees): it reads them
        assert "LEAK" in text
        return
    for path in batch["secrets"]:
        assert f"cannot read {path} PermissionError" in text, text[:2000]
    assert "LEAK" not in text
    found = _outputs(batch, "search_disk")
    assert "FOUND" in found and batch["base"] not in found, found[:2000]
    for name in CASES:    # nothing of the hidden tests in what the student gets back
        res = json.dumps(_results(batch, name))
        assert "def hidden_square" not in res and "assert_close(student.call" not in res


@pytest.mark.isolation("grader_unwritable")
def test_grader_output_and_code(batch):
    res = _results(batch, "fake_results")
    assert res["score"] == 0            # whatever it wrote, the grader's results.json is the grader's
    text = _outputs(batch, "fake_results")
    if batch["mode"] == "rlimits":      # documented as not held: it runs as the grader's user
        assert "grader_unwritable" in res["extra_data"]["guarantees"]["not_held"]
        return
    assert "refused ../results.json PermissionError" in text
    assert "wrote /tmp/results.json" in text       # world-writable /tmp: allowed, then cleaned up
    listing = open(batch["listing"]).read()        # the private /tmp, /var/tmp, /dev/shm afterwards
    assert "results.json" not in listing, listing
    owners = {int(line.split()[2]) for line in listing.splitlines()
              if line[:1] in "-dlps" and len(line.split()) > 2 and line.split()[-1] not in (".", "..")}
    assert not {u for u in owners if u >= 1_000_000}, listing   # nothing of a sandbox uid is left


@pytest.mark.isolation("secrets_unreadable")
def test_host_modes_restored(batch):
    """uid mode takes group/other access away while its sandboxes run (test_secrets) and gives it back:
    after the batch every file and dir of the course, the submissions and the grader (with its venv)
    has the mode it had before (the last sandbox out restores, sandbox.unprotect)."""
    before, after = batch["modes"]
    changed = {p: (oct(m), oct(after.get(p, 0))) for p, m in before.items() if after.get(p) != m}
    assert not changed, list(changed.items())[:20]
    assert os.stat(batch["proj"]).st_mode & 0o777 == 0o755 and os.stat(batch["course"]).st_mode & 0o777 == 0o755


# -- nothing outlives the grader -------------------------------------------------------------
SPIN = ("def square(x):\n    return x * x\n"
        "import subprocess, sys\n"
        "subprocess.Popen([sys.executable, '-c', 'import os\\nif os.fork(): os._exit(0)\\nos.setsid()\\n"
        "while True: pass', '{token}'])\n"
        "while True:\n    pass")


def _procs():
    """{pid: (cmdline, uid, ppid, starttime, state)} of every process."""
    out = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/cmdline", "rb") as f:
                cmd = f.read()
            with open(f"/proc/{p}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
            out[int(p)] = (cmd, os.stat(f"/proc/{p}").st_uid, int(fields[1]), fields[19], fields[0])
        except (OSError, IndexError, ValueError):
            continue
    return out


def _descendants(procs, root):
    kids, todo, seen = {}, [root], set()
    for pid, info in procs.items():
        kids.setdefault(info[2], []).append(pid)
    while todo:
        p = todo.pop()
        if p not in seen:
            seen.add(p)
            todo.extend(kids.get(p, []))
    return seen


def _kill_and_watch(proc, tokens, timeout=180):
    """Wait until every token's process runs, SIGKILL ``proc`` (the grader), and return (seconds
    until none of the sandbox's processes was alive, what was still alive after 10 s)."""
    end = time.monotonic() + timeout
    while True:
        procs = _procs()
        spinning = {t: [p for p, i in procs.items() if t.encode() in i[0] and i[4] != b"Z"] for t in tokens}
        if all(spinning.values()):
            break
        assert proc.poll() is None, f"the grader ended early: {proc.communicate()[1][-2000:]}"
        assert time.monotonic() < end, "the student processes never started"
        time.sleep(0.5)
    uids = {procs[p][1] for ps in spinning.values() for p in ps if procs[p][1] >= 1_000_000}
    watched = {p: procs[p][3] for p in _descendants(procs, proc.pid) | {p for ps in spinning.values() for p in ps}}
    assert len(watched) >= 3
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    t0 = time.monotonic()
    while True:
        procs = _procs()
        alive = [(p, i[0][:120]) for p, i in procs.items() if i[4] != b"Z" and (
            watched.get(p) == i[3] or i[1] in uids or any(t.encode() in i[0] for t in tokens))]
        took = time.monotonic() - t0
        if not alive or took > 10:
            return took, alive
        time.sleep(0.2)


@pytest.fixture(scope="module")
def kill_course():
    base = tempfile.mkdtemp(prefix="ag-kill-", dir="/var/tmp")
    course = make_course(os.path.join(base, "course"))
    _world_readable(base)
    os.makedirs(os.path.join(base, "tmp"), mode=0o711)
    yield base, course
    shutil.rmtree(base, ignore_errors=True)


def _killed_env(base):
    """A killed grader cannot clean up its scratch: keep it (TMPDIR) under the test's base dir."""
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", TMPDIR=os.path.join(base, "tmp"))


def _spinner(base, course, name, token):
    sub = os.path.join(base, "subs", name)
    _edit(os.path.join(course, "assignments", "toy"), sub, {"square": SPIN.replace("{token}", token)})
    _world_readable(sub)
    return sub


def _framework_modes():
    """{path: (gid, mode)} of the forbidden frameworks' site-packages entries (uid mode changes them)."""
    from autograder.policy import DEFAULT_FORBIDDEN, framework_paths
    return {p: (os.stat(p).st_gid, os.stat(p).st_mode) for p, _ in framework_paths(DEFAULT_FORBIDDEN)}


def _framework_modes_restored(before, wait=10.0):
    """A killed uid-mode grader's share of the withheld frameworks ends with it (its sandbox's supervisor
    releases it): the host's own group and mode are back within ``wait`` s."""
    deadline = time.monotonic() + wait
    while _framework_modes() != before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _framework_modes() == before


@pytest.mark.isolation("processes_tied")
@pytest.mark.parametrize("mode", modes("namespaces", "uid", "rlimits"))
def test_killed_grader_leaves_no_process(kill_course, uid_project, mode):
    base, course = kill_course
    frameworks = _framework_modes()
    proj, python = _grader(mode, uid_project)
    token = f"agkill-{mode}-{os.getpid()}-{time.time_ns()}"
    sub = _spinner(base, course, mode, token)
    out = os.path.join(base, "out", mode)
    os.makedirs(out)
    if mode == "rlimits":
        subprocess.run(["chown", "-R", "65534:65534", base], check=True)
    cmd = [python, "-m", "autograder", "grade", sub, "--assignment", "toy", "--out", out,
           "--root", course, "--profile", "smoke", "--cell-timeout", "300", "--timeout", "600"]
    proc = subprocess.Popen(wrapped(mode, cmd, proj), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=proj, env=_killed_env(base))
    try:
        took, alive = _kill_and_watch(proc, [token])
    finally:
        if proc.poll() is None:
            proc.kill()
    print(f"{mode}: no student process left {took:.1f} s after SIGKILL of the grader")
    assert not alive, alive
    assert took < 5
    _framework_modes_restored(frameworks)


@pytest.mark.isolation("processes_tied")
@pytest.mark.parametrize("mode", modes("namespaces", "uid"))
def test_killed_grade_all_leaves_no_process(kill_course, uid_project, mode):
    base, course = kill_course
    proj, python = _grader(mode, uid_project)
    stamp = f"{os.getpid()}-{time.time_ns()}"
    tokens = [f"agkillall-{mode}-{i}-{stamp}" for i in range(2)]
    subs = os.path.join(base, f"batch-subs-{mode}")
    for i, t in enumerate(tokens):
        _spinner(base, course, f"{mode}{i}", t)
        shutil.move(os.path.join(base, "subs", f"{mode}{i}"), os.path.join(subs, f"s{i}"))
    cmd = [python, "-m", "autograder", "grade-all", subs, "--assignment", "toy",
           "--out", os.path.join(base, "out", f"all-{mode}"), "--root", course, "--profile", "smoke", "--jobs", "2",
           "--cell-timeout", "300", "--timeout", "600", "--no-gradebook"]
    proc = subprocess.Popen(wrapped(mode, cmd, proj), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=proj, env=_killed_env(base))
    try:
        took, alive = _kill_and_watch(proc, tokens)
    finally:
        if proc.poll() is None:
            proc.kill()
    print(f"{mode}: no grader or student process left {took:.1f} s after SIGKILL of grade-all")
    assert not alive, alive
    assert took < 5


def test_protect_paths_mirrors_hide_and_keep(tmp_path):
    """uid mode's on-disk rule: hidden dirs owner-only; on the way to a kept path traverse-only,
    everything else there owner-only; kept paths, symlinks' targets and shared dirs untouched."""
    from autograder.isolation.sandbox import protect_paths
    proj = tmp_path / "proj"
    for d in ("proj/.venv/bin", "proj/solutions", "proj/.git", "other/secret", "target"):
        (tmp_path / d).mkdir(parents=True)
    for f in ("proj/.venv/bin/python", "proj/solutions/hidden_tests.py", "proj/README.md", "other/secret/key"):
        (tmp_path / f).write_text("x")
    (proj / "link").symlink_to(tmp_path / "target")
    for p in tmp_path.rglob("*"):
        if not p.is_symlink():
            os.chmod(p, 0o755 if p.is_dir() else 0o644)
    changes = protect_paths([str(proj), str(tmp_path / "other"), "/tmp"], [str(proj / ".venv")])

    def mode(p):
        return os.stat(p).st_mode & 0o777
    assert mode(proj) == 0o711                                       # traverse only, to reach .venv
    assert mode(proj / ".venv") == 0o755 and mode(proj / ".venv" / "bin" / "python") == 0o644
    assert mode(proj / "solutions") == 0o700 and mode(proj / ".git") == 0o700
    assert mode(proj / "README.md") == 0o600
    assert mode(proj / "solutions" / "hidden_tests.py") == 0o644     # its dir is closed already
    assert mode(tmp_path / "other") == 0o700                         # no kept path inside: owner only
    assert mode(tmp_path / "target") == 0o755                        # a symlink is never followed
    assert mode("/tmp") == 0o1777 & 0o777 and os.stat("/tmp").st_mode & 0o1000
    assert {c[0] for c in changes} == {str(proj), str(proj / "solutions"), str(proj / ".git"),
                                       str(proj / "README.md"), str(tmp_path / "other")}


def test_protections_restored_by_the_last_one_out(tmp_path):
    """Concurrent sandboxes share uid mode's protections: the first one out restores nothing (another still
    needs them), the last one restores every mode; a grader killed while holding one leaves its changes
    to the next grader, which restores them once no live one holds any."""
    from autograder.isolation.sandbox import owner_token, protect, unprotect
    uids, proj = tmp_path / "uids", tmp_path / "proj"
    uids.mkdir()
    (proj / "solutions").mkdir(parents=True)
    (proj / "solutions" / "hidden_tests.py").write_text("x")
    for p in (proj, proj / "solutions"):
        os.chmod(p, 0o755)
    before = _modes(proj)
    me = owner_token()
    protect([str(proj)], [], f"{me}:a", str(uids))
    protect([str(proj)], [], f"{me}:b", str(uids))
    assert os.stat(proj).st_mode & 0o777 == 0o700
    unprotect(f"{me}:a", str(uids))
    assert os.stat(proj).st_mode & 0o777 == 0o700        # b still runs
    unprotect(f"{me}:b", str(uids))
    assert _modes(proj) == before
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time\n"
                               "from autograder.isolation.sandbox import owner_token, protect\n"
                               f"protect([{str(proj)!r}], [], owner_token() + ':c', {str(uids)!r})\n"
                               "print('held', flush=True)\ntime.sleep(60)"],
                              stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert os.stat(proj).st_mode & 0o777 == 0o700
        unprotect(None, str(uids))                        # its holder lives: nothing restored
        assert os.stat(proj).st_mode & 0o777 == 0o700
    finally:
        holder.kill()
        holder.wait()
    unprotect(None, str(uids))                            # the next grader: only dead holders left
    assert _modes(proj) == before


@pytest.mark.parametrize("pidfds", [True, False])
def test_supervisor_watch_sees_a_process_end(monkeypatch, pidfds):
    """The supervisor's watch on the grader / the student's process, with pidfds and with the
    polling fallback (kernels before 5.3): alive -> not gone; killed (even unreaped) -> gone."""
    import importlib.util
    import select
    spec = importlib.util.spec_from_file_location("_boot_under_test", os.path.join(ROOT, "autograder", "isolation", "_boot.py"))
    boot = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(boot)
    if not pidfds:
        monkeypatch.delattr(os, "pidfd_open")
    child = subprocess.Popen(["sleep", "30"])
    try:
        watch = boot._Watch(child.pid)
        assert (watch.fd is not None) == pidfds

        def ready():
            return select.select([watch.fd], [], [], 0.5)[0] if watch.fd is not None else ()
        assert not watch.gone(ready())
        os.kill(child.pid, signal.SIGKILL)
        time.sleep(0.5)                       # a zombie now: not reaped yet
        assert watch.gone(ready())
    finally:
        child.kill()
        child.wait()


@NAMESPACES
@pytest.mark.isolation("secrets_unreadable", mode="namespaces")
def test_namespaces_cover_every_top_level_dir_but_the_system(tmp_path):
    """A second copy of the course outside the project (another checkout in /srv, an old root file
    system, a mounted drive) is out of the student's reach in "namespaces" mode: every top-level
    directory but the system's is an empty tmpfs there, the kept paths excepted."""
    from autograder.isolation.sandbox import SYSTEM, Limits, Sandbox, outside_system
    top = next(d for d in ("/srv", "/opt", "/media", "/mnt") if os.path.isdir(d) and not os.path.islink(d))
    other = tempfile.mkdtemp(prefix="ag-second-checkout-", dir=top)
    try:
        with open(os.path.join(other, "hidden_tests.py"), "w") as f:
            f.write("SECRET = 'the answer'\n")
        sandbox = Sandbox(Limits())
        try:
            sandbox.prepare()
            payload = (
                "import json, os, sys\n"
                f"tops = {outside_system()!r}\n"
                "seen = {t: sorted(os.listdir(t)) if os.path.isdir(t) else None for t in tops}\n"
                f"print(json.dumps({{'second': os.path.exists({other!r}), 'seen': seen,\n"
                "                  'python': os.path.exists(sys.executable), 'cwd': os.getcwd()}))\n")
            argv = sandbox.command("worker", payload)
            proc = subprocess.run(argv, timeout=120, capture_output=True, text=True)
            log = sandbox.log_tail("worker")
            assert proc.returncode == 0, (proc.stderr, log)
            report = json.loads(log.strip().splitlines()[-1])
        finally:
            sandbox.cleanup()
    finally:
        shutil.rmtree(other)
    assert report["python"] and report["cwd"] == sandbox.work
    assert report["second"] is False and os.path.basename(top) not in SYSTEM
    keep_ways = {p.split("/")[1] for p in sandbox.keep}      # top-level dirs on the way to kept paths
    for t, entries in report["seen"].items():
        if os.path.basename(t) in keep_ways:
            assert entries is not None and len(entries) <= 3, (t, entries)   # only the way to what is kept
        else:   # /run/mount: util-linux's own mount table, written into the fresh tmpfs by mount(8)
            assert set(entries) <= ({"mount"} if t == "/run" else set()), (t, entries)


@pytest.mark.skipif(os.geteuid() != 0, reason="not root (kill_uid drops to another uid, as the uid mode's grader)")
@pytest.mark.isolation("separate_uid", mode="namespaces+uid")
def test_kill_uid_returns_once_the_uids_processes_are_reaped():
    """A killed fork bomb's processes hold the uid's RLIMIT_NPROC until reaped: kill_uid kills them and
    waits until /proc shows none of the uid (here a zombie the test reaps 0.5 s later)."""
    import threading

    from autograder.isolation.sandbox import _pids, _proc_uid, kill_uid
    uid = 61000 + os.getpid() % 1000
    r, w = os.pipe()
    child = os.fork()
    if child == 0:                            # the uid's process, with a child of its own
        os.setgid(uid)
        os.setuid(uid)
        if os.fork() == 0:
            time.sleep(60)
            os._exit(0)
        os.write(w, b"x")
        time.sleep(60)
        os._exit(0)
    os.read(r, 1)
    reaped = []

    def reap_later():                         # the test is the zombie's parent: it reaps late
        time.sleep(0.5)
        os.waitpid(child, 0)
        reaped.append(time.monotonic())
    reaper = threading.Thread(target=reap_later)
    reaper.start()
    kill_uid(uid, uid)
    returned = time.monotonic()
    reaper.join()
    assert reaped and returned >= reaped[0]
    assert not any(_proc_uid(p) == uid for p in _pids())


@EMULATED
@pytest.mark.isolation("secrets_unreadable", "separate_uid", mode="uid")
def test_uid_mode_grades_again_after_earlier_runs(uid_project):
    """uid mode changes file modes while its sandboxes run (protect_paths) and restores them after: two more
    batches in a row on one course with the same grader copy (already used by the other uid tests of this
    module) grade as the first did: the reference in full, the release and read_secrets 0, every secret still unreadable."""
    proj, python = uid_project
    from tests.hostile.toy import reference_submission
    base = tempfile.mkdtemp(prefix="ag-iso-again-", dir="/var/tmp")
    os.chmod(base, 0o755)
    try:
        course = make_course(os.path.join(base, "course"))
        release = os.path.join(course, "assignments", "toy")
        subs = os.path.join(base, "subs")
        secrets = [os.path.join(course, "solutions", "toy", "hidden_tests.py"),
                   os.path.join(course, "build", "grader", "toy", "hidden_tests.py")]
        reference_submission(course, os.path.join(subs, "reference"))
        shutil.copytree(release, os.path.join(subs, "release"))
        read_secrets(release, os.path.join(subs, "read_secrets"), secrets)
        _world_readable(base)
        for run in (1, 2):           # the second on the modes the first restored
            out = os.path.join(base, f"out{run}")
            cmd = [python, "-m", "autograder", "grade-all", subs, "--assignment", "toy", "--out", out,
                   "--root", course, "--profile", "smoke", "--jobs", "2", "--no-gradebook", *LIMITS]
            proc = subprocess.run(wrapped("uid", cmd, proj), capture_output=True, text=True,
                                  env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"), timeout=600)
            assert proc.returncode == 0, (run, proc.stdout[-2000:], proc.stderr[-3000:])
            got = {}
            for sid in ("reference", "release", "read_secrets"):
                with open(os.path.join(out, sid, "results.json")) as f:
                    res = json.load(f)
                assert res["extra_data"]["isolation"] == "uid", (run, sid, res["output"])
                got[sid] = res["score"]
            assert got == {"reference": 10, "release": 0, "read_secrets": 0}, (run, got)
            text = _outputs({"out": out}, "read_secrets")
            for path in secrets:
                assert f"cannot read {path} PermissionError" in text, (run, text[:2000])
            assert "LEAK" not in text, run
    finally:
        shutil.rmtree(base, ignore_errors=True)
