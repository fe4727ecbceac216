"""Check and package your submission: run ``python submit.py`` in this folder (or the notebook's last cell).

1. Checks that the notebook, as last saved, ran top to bottom: every code cell executed, in order.
   If it did not, it runs a copy top to bottom in a fresh kernel (nbclient; your file is not changed)
   and packages that copy. ``--no-run`` only reports.
2. Lists what is still unimplemented: functions and cells that still hold the ``raise
   NotImplementedError()`` stub (notebook solution cells and the package files you complete), and the
   test cells that fail.
3. Writes ``<assignment>-submission.zip`` (``--out`` to choose): the notebook, the package files you
   write, and any file you added yourself; exactly what the grader reads (it puts its own copy of
   every other file of the assignment in place). Its entries carry real dates (the notebook: now,
   the other files: when you last changed them): the grader may take the newest as the time you
   submitted.

Standard library only (nbformat and nbclient, from requirements.txt, to run the notebook).
Exit status 0 when the zip was written, 1 when it could not be.
"""
from __future__ import annotations

import argparse
import ast
import json
import os
import sys
import time
import zipfile
from pathlib import Path

# filled in by the course's release
ASSIGNMENT = "cnn_architectures"
STENCIL = None
STUDENT_FILES = []
RELEASE_FILES = [
    "README.md",
    "cnn_architectures.ipynb",
    "requirements.txt",
    "submit.py",
    "training.py",
]

SUBMIT_CELL = "course_submit"          # this step's own notebook cell (not part of the checks)
STUB = "raise NotImplementedError()"
MAX_FILE_BYTES = 20 * 2**20            # a larger file you added is left out (with a note)
SKIP = {"__pycache__", ".ipynb_checkpoints", ".git", ".venv", "venv", "node_modules"}
EXTENDED_TIMESTAMP = 0x5455              # the zip extra field holding an entry's UTC mtime (Info-ZIP, git archive)


def _source(cell):
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _nbgrader(cell):
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def _label(index, cell):
    gid = _nbgrader(cell).get("grade_id")
    return f"cell {index + 1}" + (f" ({gid})" if gid else "")


def _code_cells(nb):
    return [(i, c) for i, c in enumerate(nb.get("cells", [])) if c.get("cell_type") == "code"
            and _source(c).strip() and _nbgrader(c).get("grade_id") != SUBMIT_CELL]


def order_problems(nb):
    """Why the saved notebook does not show one top-to-bottom run ([] when it does)."""
    problems, last = [], 0
    for i, cell in _code_cells(nb):
        count = cell.get("execution_count")
        if count is None:
            problems.append(f"{_label(i, cell)} was not run")
        elif count <= last:
            problems.append(f"{_label(i, cell)} ran out of order (execution count {count} after {last})")
        else:
            last = count
    return problems


def errors(nb):
    """[(label, is a test cell, error name, message)] of the cells whose output is an error."""
    out = []
    for i, cell in _code_cells(nb):
        for o in cell.get("outputs", []):
            if o.get("output_type") == "error":
                out.append((_label(i, cell), bool(_nbgrader(cell).get("grade")), o.get("ename", "?"),
                            str(o.get("evalue", "")).splitlines()[0][:200] if o.get("evalue") else ""))
    return out


def stubs(source):
    """Where ``source`` still holds the release's stub: the enclosing function names (or "top level")."""
    lines = source.splitlines()
    hits = [n for n, line in enumerate(lines, 1) if line.strip() == STUB
            and next((p.strip() for p in reversed(lines[:n - 1]) if p.strip()), "") == "# YOUR CODE HERE"]
    if not hits:
        return []
    try:   # IPython magics and shell lines are not Python: blank them out for the parser
        tree = ast.parse("\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in lines))
    except SyntaxError:
        return ["(the code does not parse)"]
    defs = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    names = []
    for line in hits:
        inner = [d for d in defs if d.lineno <= line <= d.end_lineno]
        name = max(inner, key=lambda d: d.lineno).name if inner else "top level"
        if name not in names:
            names.append(name)
    return names


def unimplemented(folder, nb):
    """What still holds the stub: notebook solution cells, then the package files students write."""
    out = []
    for i, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") == "code" and _nbgrader(cell).get("solution"):
            names = stubs(_source(cell))
            if names:
                out.append(f"{ASSIGNMENT}.ipynb {_label(i, cell)}: {', '.join(names)}")
    for rel in STUDENT_FILES:
        path = folder / STENCIL / rel
        if path.is_file():
            names = stubs(path.read_text(encoding="utf-8", errors="replace"))
            if names:
                out.append(f"{STENCIL}/{rel}: {', '.join(names)}")
    return out


def run_notebook(nb_path, timeout):
    """A copy of the notebook run top to bottom in a fresh kernel, from its folder (errors recorded)."""
    import nbformat
    from nbclient import NotebookClient
    nb = nbformat.read(str(nb_path), as_version=4)
    os.environ["COURSE_SUBMIT_RUN"] = "1"      # the notebook's submit cell does nothing in this run
    client = NotebookClient(nb, timeout=timeout, allow_errors=True, kernel_name="python3",
                            resources={"metadata": {"path": str(nb_path.parent)}})
    client.execute()
    return json.loads(nbformat.writes(nb))


def _files_under(path):
    if path.is_file():
        yield path
        return
    for base, dirs, names in os.walk(path):
        dirs[:] = sorted(d for d in dirs if d not in SKIP and not os.path.islink(os.path.join(base, d)))
        for n in sorted(names):
            p = Path(base) / n
            if p.is_file() and not p.is_symlink() and not n.endswith((".pyc", ".pyo")):
                yield p


def contents(folder):
    """([(path inside the zip, file)], notes): the package files students write and every file the
    student added at the top of the folder. Release files are left out: the grader uses its own."""
    release_top = {f.split("/")[0] for f in RELEASE_FILES}
    entries, notes = [], []
    for rel in STUDENT_FILES:
        if (folder / STENCIL / rel).is_file():
            entries.append((f"{STENCIL}/{rel}", folder / STENCIL / rel))
        else:
            notes.append(f"{STENCIL}/{rel} is missing: the grader will use the untouched version")
    if STENCIL and (folder / STENCIL).is_dir():
        known = {f for f in RELEASE_FILES if f.startswith(STENCIL + "/")} | {f"{STENCIL}/{r}" for r in STUDENT_FILES}
        for p in _files_under(folder / STENCIL):
            rel = p.relative_to(folder).as_posix()
            if rel not in known:
                notes.append(f"{rel} is not graded: the grader reads only the {STENCIL}/ files you complete "
                             f"({', '.join(STUDENT_FILES)}); put your code in those")
    for entry in sorted(os.listdir(folder)):
        p = folder / entry
        if entry in release_top or entry == STENCIL or entry in SKIP or entry.startswith(".") \
                or entry.endswith((".ipynb", ".zip")) or p.is_symlink() or (p / "pyvenv.cfg").exists():
            continue
        for f in _files_under(p):
            if f.stat().st_size > MAX_FILE_BYTES:
                notes.append(f"{f.relative_to(folder).as_posix()} left out: larger than {MAX_FILE_BYTES >> 20} MB")
            else:
                entries.append((f.relative_to(folder).as_posix(), f))
    return entries, notes


def zip_info(name, when):
    """A zip entry dated ``when`` (seconds since the epoch): its DOS date/time in UTC and the extended
    timestamp field with the exact UTC time, which the grader reads as the submission's time (its
    newest entry) when no other timestamp is given."""
    when = max(int(when), 315532800)           # zip dates start at 1980-01-01
    info = zipfile.ZipInfo(name, date_time=time.gmtime(when)[:6])
    info.extra = EXTENDED_TIMESTAMP.to_bytes(2, "little") + (5).to_bytes(2, "little") + b"\x01" + \
        (when & 0xFFFFFFFF).to_bytes(4, "little")
    return info


def write_zip(out, notebook_bytes, entries, now=None):
    """The notebook is dated now (this packaging: the submission's time), every other file by its mtime."""
    now = time.time() if now is None else now
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data, when in [(f"{ASSIGNMENT}.ipynb", notebook_bytes, now)] + \
                [(n, p.read_bytes(), p.stat().st_mtime) for n, p in entries]:
            info = zip_info(name, min(when, now))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python submit.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", help=f"the zip to write (default: {ASSIGNMENT}-submission.zip in this folder)")
    ap.add_argument("--no-run", action="store_true", help="never run the notebook; only report")
    ap.add_argument("--timeout", type=int, default=1800, help="seconds per cell when it runs the notebook")
    args = ap.parse_args(argv)
    folder = Path(__file__).resolve().parent
    nb_path = folder / f"{ASSIGNMENT}.ipynb"
    try:
        data = nb_path.read_bytes()
        nb = json.loads(data)
    except (OSError, ValueError) as e:
        print(f"cannot read {nb_path.name} ({type(e).__name__}: {e}): nothing written")
        return 1
    print(f"== {ASSIGNMENT}: checking {nb_path.name} (as last saved)")
    problems = order_problems(nb)
    ran = not problems
    if not problems:
        print("ran top to bottom: yes")
    else:
        print("ran top to bottom: no")
        for p in problems[:8]:
            print("  -", p)
        if len(problems) > 8:
            print(f"  - ... and {len(problems) - 8} more")
        if args.no_run:
            print("not run here: Kernel > Restart & Run All, save (File > Save), and run this again, or run "
                  "`python submit.py` in a terminal in this folder (it runs a copy for you)")
        else:
            print("running a copy top to bottom in a fresh kernel (your file is not changed) ...", flush=True)
            try:
                nb = run_notebook(nb_path, args.timeout)
                data = (json.dumps(nb, indent=1, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")
                ran = True
                print("ran top to bottom: yes (the zip holds this run)")
            except Exception as e:   # noqa: BLE001 - no Jupyter here, a dead kernel, ...: report, still package
                print(f"could not run it ({type(e).__name__}: {str(e)[:300]}); the saved version is packaged")
    todo = unimplemented(folder, nb)
    print("\n== still unimplemented (the stub `raise NotImplementedError()` is still there)")
    print("\n".join(f"  - {t}" for t in todo) if todo else "  nothing: every part is written")
    failed = errors(nb)
    print("\n== cells that raised an error")
    for label, test, name, msg in failed:
        print(f"  - {'test ' if test else ''}{label}: {name}: {msg}")
    if not failed:
        print("  none")
    entries, notes = contents(folder)
    out = Path(args.out) if args.out else folder / f"{ASSIGNMENT}-submission.zip"
    write_zip(out, data, entries)
    print(f"\n== wrote {out} ({out.stat().st_size // 1024} KB): {ASSIGNMENT}.ipynb"
          + "".join(f", {n}" for n, _ in entries))
    for n in notes:
        print("  note:", n)
    missing = ([] if ran else ["the notebook has not run top to bottom"]) + \
        ([f"{len(todo)} part(s) still unimplemented"] if todo else []) + \
        ([f"{len(failed)} cell(s) raised an error"] if failed else [])
    print("ready to hand in" if not missing else "you can hand this in, but: " + "; ".join(missing))
    return 0


if __name__ == "__main__":
    sys.exit(main())
