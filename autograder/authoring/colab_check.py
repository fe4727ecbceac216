"""A Colab-like stack, checked by hand: ``python -m autograder.authoring.colab_check [NAME...]``.

The release's requirements.txt are ranges whose lower bounds are the versions Google Colab ships
(autograder.authoring.release.COLAB_VERSIONS). This builds a throwaway virtualenv (with ``uv``) holding exactly
those lower bounds (``--pin PKG==VERSION`` to try another, e.g. ``--pin tensorflow==2.20.0``), writes each
assignment's reference submission (``autograder reference``, with the release's setup and submit
cells), and runs its notebook top to bottom in that environment, from its folder, as a student would
(the setup cell runs; the submit cell is skipped). It reports every visible test cell, and exits 0 only
when all of them pass in every notebook.

Slow (it installs TensorFlow and trains the networks): run by hand, not in ``make test``.
``--dry-run`` prints the plan only; ``--keep DIR`` builds in DIR and keeps it.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..paths import PROJECT_ROOT

ROOT = Path(PROJECT_ROOT)

# runs inside the Colab-like venv: one notebook, top to bottom, errors allowed; a JSON line per cell
DRIVER = r"""
import json, sys, time
import nbformat
from nbclient import NotebookClient
path, timeout = sys.argv[1], int(sys.argv[2])
nb = nbformat.read(path, as_version=4)
start = time.time()
NotebookClient(nb, timeout=timeout, allow_errors=True, kernel_name="python3",
               resources={"metadata": {"path": sys.argv[3]}}).execute()
cells = []
for c in nb.cells:
    if c.cell_type != "code":
        continue
    meta = c.metadata.get("nbgrader", {})
    err = [f"{o.ename}: {str(o.evalue).splitlines()[0][:200] if o.evalue else ''}" for o in c.outputs
           if o.output_type == "error"]
    cells.append({"id": meta.get("grade_id") or c.get("id"), "grade": bool(meta.get("grade")), "error": err})
print("CELLS-JSON " + json.dumps({"seconds": round(time.time() - start, 1), "cells": cells}))
"""

VERSIONS = r"""
import importlib.metadata as m, json, sys
print(json.dumps({"python": sys.version.split()[0], **{n: m.version(n) for n in sys.argv[1:]}}))
"""


def parse_requirement(line):
    """``name>=a,<b`` / ``name==a`` -> (name, {op: version}); None for a blank or comment line."""
    line = line.split("#", 1)[0].strip()
    if not line:
        return None
    m = re.match(r"([A-Za-z0-9_.\-]+)\s*(.*)$", line)
    specs = dict(re.findall(r"(==|>=|<=|!=|~=|<|>)\s*([\w.]+)", m.group(2)))
    return m.group(1).lower(), specs


def plan(requirement_texts, pins=()):
    """The exact versions to install: each requirement's lower bound (``>=``) or exact pin (``==``),
    with ``pins`` (``PKG==VERSION``) taking precedence. A pin outside a requirement's range, or a
    requirement with neither bound, is an error."""
    chosen = {}
    for text in requirement_texts:
        for line in text.splitlines():
            req = parse_requirement(line)
            if req is None:
                continue
            name, specs = req
            version = specs.get("==") or specs.get(">=")
            if version is None:
                raise ValueError(f"{line.strip()!r}: no lower bound or exact version to install")
            if chosen.get(name, version) != version:
                raise ValueError(f"{name}: the requirements disagree ({chosen[name]} vs {version})")
            chosen[name] = version
    for pin in pins:
        name, sep, version = pin.partition("==")
        if not sep or not version:
            raise ValueError(f"--pin {pin!r}: expected PKG==VERSION")
        chosen[name.strip().lower()] = version.strip()
    return [f"{n}=={v}" for n, v in sorted(chosen.items())]


def in_range(version, specs):
    def key(v):
        return tuple(int(p) for p in re.findall(r"\d+", v)[:3]) + (0,) * 3
    ops = {"==": lambda a, b: a[:3] == b[:3], ">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b,
           ">": lambda a, b: a > b, "<": lambda a, b: a < b, "!=": lambda a, b: a[:3] != b[:3]}
    return all(ops[op](key(version)[:3], key(v)[:3]) for op, v in specs.items() if op in ops)


def check_pins_in_range(requirement_texts, pinned):
    """[messages] for each planned version outside an assignment's requirement range."""
    out = []
    versions = dict(p.split("==", 1) for p in pinned)
    for text in requirement_texts:
        for line in text.splitlines():
            req = parse_requirement(line)
            if req and req[0] in versions and not in_range(versions[req[0]], req[1]):
                out.append(f"{req[0]}=={versions[req[0]]} is outside {line.strip()!r}")
    return out


def assignments(names=None, root=ROOT):
    """The released assignments (with a requirements.txt), or ``names`` (checked)."""
    found = sorted(p.parent.name for p in (Path(root) / "assignments").glob("*/requirements.txt"))
    if not names:
        return found
    unknown = [n for n in names if n not in found]
    if unknown:
        raise ValueError(f"unknown assignment(s) {unknown}; released: {found}")
    return list(names)


def _parser():
    p = argparse.ArgumentParser(prog="python -m autograder.authoring.colab_check", description=__doc__.split("\n\n")[0])
    p.add_argument("names", nargs="*", help="assignments (default: every released one)")
    p.add_argument("--pin", action="append", default=[], metavar="PKG==VERSION",
                   help="install this version instead of the requirement's lower bound (repeatable)")
    p.add_argument("--root", default=str(ROOT), help="course root (default: this repository)")
    p.add_argument("--keep", metavar="DIR", help="build in DIR and keep it (default: a temp dir, removed)")
    p.add_argument("--timeout", type=int, default=1800, help="seconds per notebook cell")
    p.add_argument("--dry-run", action="store_true", help="print the plan and stop")
    return p


def uv():
    exe = shutil.which("uv", path=os.path.dirname(sys.executable)) or shutil.which("uv")
    if exe is None:
        raise SystemExit("colab_check: uv not found (it is in the project's test extra)")
    return exe


def run_check(names, pins, work, timeout, root=ROOT):
    """Build the venv in ``work``, run every notebook; returns {name: report} (see DRIVER)."""
    env_dir = work / "venv"
    py = env_dir / "bin" / "python"
    subprocess.run([uv(), "venv", "-q", "--python", sys.executable, str(env_dir)], check=True)
    t = time.time()
    subprocess.run([uv(), "pip", "install", "-q", "--python", str(py), *pins], check=True)
    print(f"installed {len(pins)} pins (and their dependencies) in {time.time() - t:.0f} s", flush=True)
    versions = subprocess.run([str(py), "-c", VERSIONS, "tensorflow", "keras", "numpy"], check=True,
                              capture_output=True, text=True).stdout.strip()
    print("Colab-like stack:", versions, flush=True)
    env = {k: v for k, v in os.environ.items() if k not in ("NBGRADER_EXECUTION", "VIRTUAL_ENV", "PYTHONPATH")}
    env.update({"MPLBACKEND": "Agg", "TF_CPP_MIN_LOG_LEVEL": "3", "COURSE_SUBMIT_RUN": "1",
                "PATH": f"{env_dir / 'bin'}{os.pathsep}{env.get('PATH', '')}"})
    reports = {"stack": json.loads(versions)}
    for name in names:
        ref = work / f"reference-{name}"
        subprocess.run([sys.executable, "-m", "autograder", "reference", name, "--out", str(ref), "--root",
                        str(root)], check=True, cwd=ROOT, capture_output=True)
        t = time.time()
        run = subprocess.run([str(py), "-c", DRIVER, str(ref / f"{name}.ipynb"), str(timeout), str(ref)],
                             cwd=ref, env=env, capture_output=True, text=True)
        lines = [ln for ln in run.stdout.splitlines() if ln.startswith("CELLS-JSON ")]
        if run.returncode or not lines:
            reports[name] = {"failed": (run.stdout + run.stderr)[-3000:], "seconds": round(time.time() - t, 1)}
        else:
            reports[name] = json.loads(lines[-1][len("CELLS-JSON "):])
    return reports


def summarize(names, reports):
    """(text, ok) of the run."""
    lines, ok = [], True
    for name in names:
        r = reports[name]
        if "failed" in r:
            ok = False
            lines.append(f"{name}: the notebook could not be run:\n{r['failed']}")
            continue
        tests = [c for c in r["cells"] if c["grade"]]
        failing = [c for c in tests if c["error"]]
        others = [c for c in r["cells"] if not c["grade"] and c["error"]]
        ok = ok and not failing and not others and bool(tests)
        lines.append(f"{name}: {len(tests) - len(failing)}/{len(tests)} visible test cells pass, "
                     f"{len(others)} other cells raised ({r['seconds']:.0f} s)")
        lines += [f"  FAIL {c['id']}: {c['error'][0]}" for c in failing]
        lines += [f"  error in {c['id']}: {c['error'][0]}" for c in others]
    return "\n".join(lines), ok


def main(argv=None):
    args = _parser().parse_args(argv)
    root = Path(args.root).resolve()
    names = assignments(args.names, root)
    texts = [(root / "assignments" / n / "requirements.txt").read_text() for n in names]
    pins = plan(texts, args.pin)
    outside = check_pins_in_range(texts, pins)
    print("assignments:", " ".join(names))
    print("install:", " ".join(pins))
    for msg in outside:
        print("note (a --pin outside the release's range):", msg)
    if args.dry_run:
        return 0
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="colab-check-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        reports = run_check(names, pins, work, args.timeout, root)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    text, ok = summarize(names, reports)
    print(text)
    print("Colab-like check:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
