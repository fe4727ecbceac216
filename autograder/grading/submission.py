"""Submission steps: unpack a submission safely, assemble the scratch copy, scan the student's beras for
forbidden frameworks. (The assignment itself, :class:`Assignment` and :func:`find_assignment`, is
authoring's: autograder.authoring.spec; re-exported here for the pipeline's ``subm.`` names.)"""
from __future__ import annotations

import ast
import os
import shutil
import stat
import zipfile

from ..authoring.spec import Assignment, find_assignment, valid_assignments  # noqa: F401 - subm.find_assignment, ...
from ..errors import GraderError  # noqa: F401 - subm.GraderError
from ..policy import DEFAULT_FORBIDDEN

MAX_FILES = 2000
MAX_TOTAL_BYTES = 200 * 2**20
MAX_FILE_BYTES = 100 * 2**20


class SubmissionError(Exception):
    """The submission cannot be graded at all (corrupt zip, ...); reported in results.json."""


# ---------------------------------------------------------------------------------------------
# Unpacking
# ---------------------------------------------------------------------------------------------
def unpack(submission, dest):
    """Copy a directory or extract a zip into ``dest`` safely. Raises SubmissionError with a
    message for the student (absolute or ../ paths, symlinks, size caps, corrupt or empty zips)."""
    if os.path.isdir(submission):
        _copy_dir(submission, dest)
    elif os.path.isfile(submission):
        _extract_zip(submission, dest)
    else:
        raise SubmissionError(f"submission {submission} does not exist")
    # a single top-level folder (zip of the folder itself): descend into it
    entries = [e for e in os.listdir(dest) if e not in ("__MACOSX", ".DS_Store")]
    if not entries:
        raise SubmissionError("the submission is empty")
    return dest


def _copy_dir(src, dest):
    total, count = 0, 0
    for root, dirs, files in os.walk(src, followlinks=False):
        rel = os.path.relpath(root, src)
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(root, d)) and d not in (".git", "__pycache__")]
        os.makedirs(os.path.join(dest, rel), exist_ok=True)
        for f in files:
            p = os.path.join(root, f)
            st = os.lstat(p)
            if not stat.S_ISREG(st.st_mode):
                continue      # symlinks, devices, fifos: ignored
            count += 1
            total += st.st_size
            if count > MAX_FILES or st.st_size > MAX_FILE_BYTES or total > MAX_TOTAL_BYTES:
                raise SubmissionError(f"the submission is too large (limits: {MAX_FILES} files, "
                                      f"{MAX_FILE_BYTES >> 20} MB per file, {MAX_TOTAL_BYTES >> 20} MB in total)")
            shutil.copyfile(p, os.path.join(dest, rel, f))


def _extract_zip(path, dest):
    if os.path.getsize(path) == 0:
        raise SubmissionError("the submitted zip file is empty (0 bytes)")
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise SubmissionError(f"the submitted file is not a valid zip archive ({e})") from None
    with zf:
        infos = zf.infolist()
        if not infos:
            raise SubmissionError("the submitted zip archive contains no files")
        if len(infos) > MAX_FILES:
            raise SubmissionError(f"the submitted zip has too many files ({len(infos)} > {MAX_FILES})")
        total = 0
        for info in infos:
            name = info.filename
            parts = name.replace("\\", "/").split("/")
            if name.startswith(("/", "\\")) or ".." in parts or (len(name) > 1 and name[1] == ":"):
                raise SubmissionError(f"the zip contains an unsafe path {name!r} (absolute or with '..'); "
                                      "nothing was extracted")
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise SubmissionError(f"the zip contains a symbolic link {name!r}; nothing was extracted")
            total += info.file_size
            if info.file_size > MAX_FILE_BYTES or total > MAX_TOTAL_BYTES:
                raise SubmissionError(f"the zip is too large once extracted (limits: {MAX_FILE_BYTES >> 20} MB "
                                      f"per file, {MAX_TOTAL_BYTES >> 20} MB in total)")
        for info in infos:
            parts = [p for p in info.filename.replace("\\", "/").split("/") if p not in ("", ".")]
            if not parts or parts[0] == "__MACOSX":
                continue
            target = os.path.join(dest, *parts)
            if info.is_dir():
                os.makedirs(target, exist_ok=True)
                continue
            os.makedirs(os.path.dirname(target), exist_ok=True)
            try:
                with zf.open(info) as src, open(target, "wb") as out:
                    left = MAX_FILE_BYTES + 1
                    while True:
                        chunk = src.read(1 << 20)
                        if not chunk:
                            break
                        left -= len(chunk)
                        if left < 0:
                            raise SubmissionError("a file in the zip is larger than it claims")
                        out.write(chunk)
            except (zipfile.BadZipFile, OSError, EOFError, RuntimeError) as e:
                raise SubmissionError(f"the zip archive is corrupt ({e})") from None


def locate_notebook(unpacked, assignment: Assignment):
    """The folder holding ``<name>.ipynb`` (or the only notebook) inside the unpacked submission, with a
    note for the student. A submission with no notebook but a zip (the submission zip uploaded as a file:
    ``<name>-submission.zip`` first, else the first zip by name) is graded from that zip, unpacked once
    (never a zip inside it) with the same safety checks, and the note says so."""
    root, nb_path, note = _locate(unpacked, assignment)
    if nb_path is not None:
        return root, nb_path, note
    inner = _inner_zip(unpacked, assignment)
    if inner is None:
        return root, nb_path, note
    shown = os.path.relpath(inner, unpacked)
    dest = os.path.join(unpacked, ".unzipped-" + os.path.basename(inner))
    try:
        os.makedirs(dest)
        _extract_zip(inner, dest)
    except (SubmissionError, OSError) as e:
        return root, nb_path, f"{note}; {shown} in your submission could not be unpacked: {e}"
    root, nb_path, inner_note = _locate(dest, assignment)
    if nb_path is None:
        return root, nb_path, f"{note}; nor in {shown}"
    return root, nb_path, (f"your submission held no notebook but {shown}: graded what that zip holds"
                           + (f" ({inner_note})" if inner_note else ""))


def _inner_zip(unpacked, assignment):
    zips = []
    for base, dirs, files in os.walk(unpacked):
        dirs[:] = sorted(d for d in dirs if d != "__MACOSX")
        zips += [os.path.join(base, f) for f in sorted(files) if f.lower().endswith(".zip") and not f.startswith(".")]
    preferred = [z for z in zips if os.path.basename(z) == f"{assignment.name}-submission.zip"]
    return (preferred or zips or [None])[0]


def _locate(unpacked, assignment):
    best = None
    for root, dirs, files in os.walk(unpacked):
        dirs.sort()
        depth = os.path.relpath(root, unpacked).count(os.sep)
        if assignment.notebook in files:
            return root, os.path.join(root, assignment.notebook), None
        nbs = sorted(f for f in files if f.endswith(".ipynb") and not f.startswith("."))
        if nbs and best is None and ".ipynb_checkpoints" not in root:
            best = (root, os.path.join(root, nbs[0]), depth)
    if best is not None:
        return best[0], best[1], f"no {assignment.notebook} found; graded {os.path.relpath(best[1], unpacked)} instead"
    # no notebook at all: the folder holding the stencil package (if any) is the submission root
    for root, dirs, _files in os.walk(unpacked):
        if assignment.stencil and assignment.stencil in dirs:
            return root, None, f"no notebook found (expected {assignment.notebook})"
    return unpacked, None, f"no notebook found (expected {assignment.notebook})"


# ---------------------------------------------------------------------------------------------
# Assembling the scratch copy
# ---------------------------------------------------------------------------------------------
def student_beras_files(assignment: Assignment):
    """Files of beras that students write (the grader bundle's list: the instructor's files with
    solution markers)."""
    return assignment.marked_files


def assemble(sub_root, assignment: Assignment, work):
    """Fill ``work`` (the scratch copy): the student's extra files, then every release asset on top
    (nbgrader overwrites non-notebook files from the source too), then for a stencil assignment the
    release's stencil with the student's versions of the files students write. Nothing of the
    instructor's (no solution, no complete package) is ever copied here. Returns notes.

    Gradescope's multi-file upload flattens folders: stencil files uploaded beside the notebook
    (``conv.py``, ``pooling.py``, ...) are mapped back to their place by name, with a note."""
    notes = []
    package = assignment.stencil
    marked = student_beras_files(assignment) if package else []
    flat = _flattened(sub_root, package, marked)
    for entry in os.listdir(sub_root):
        if entry in (package, assignment.notebook) or entry.endswith(".ipynb") or entry in flat:
            continue
        src = os.path.join(sub_root, entry)
        dst = os.path.join(work, entry)
        if os.path.isdir(src):
            shutil.copytree(src, dst, symlinks=False, dirs_exist_ok=True)
        else:
            shutil.copyfile(src, dst)
    for entry in os.listdir(assignment.release_dir):
        if entry in (package, assignment.notebook, "__pycache__") or entry.endswith(".ipynb"):
            continue
        src = os.path.join(assignment.release_dir, entry)
        dst = os.path.join(work, entry)
        if os.path.isdir(src):
            shutil.copytree(src, dst, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copyfile(src, dst)
    if not package:
        return notes
    shutil.copytree(os.path.join(assignment.release_dir, package), os.path.join(work, package), dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__"))
    theirs = os.path.join(sub_root, package)
    sources = {rel: os.path.join(theirs, rel) for rel in marked if os.path.isfile(os.path.join(theirs, rel))}
    for name, rel in flat.items():
        if rel not in sources:
            sources[rel] = os.path.join(sub_root, name)
    if flat:
        notes.append("files uploaded without their folders were put back in place: " +
                     ", ".join(f"{name} -> {package}/{rel}" for name, rel in sorted(flat.items())))
    if not sources:
        notes.append(f"no {package}/ folder in the submission: the untouched stencil was graded")
        return notes
    for rel, src in sources.items():
        shutil.copyfile(src, os.path.join(work, package, rel))
    missing = sorted(set(marked) - set(sources))
    if missing:
        notes.append(f"missing from your {package}/ (the stencil version was used): {', '.join(missing)}")
    return notes


def _flattened(sub_root, package, marked):
    """{file name at the submission's top level: the stencil file it stands for} for a flattened upload
    (only names that are unique among the files students write)."""
    if not package:
        return {}
    by_name = {}
    for rel in marked:
        by_name.setdefault(os.path.basename(rel), []).append(rel)
    return {name: rels[0] for name, rels in by_name.items()
            if len(rels) == 1 and os.path.isfile(os.path.join(sub_root, name))}


def scan_forbidden(beras_dir, files=None, forbidden=DEFAULT_FORBIDDEN):
    """Static scan: [(relative file, line, module)] for imports of the ``forbidden`` frameworks (module
    names of autograder.policy.FRAMEWORKS: the manifest's) in ``beras_dir`` (import statements,
    __import__/import_module with a literal name)."""
    hits = []
    if not os.path.isdir(beras_dir):
        return hits
    for root, _dirs, names in os.walk(beras_dir):
        for n in names:
            if not n.endswith(".py"):
                continue
            p = os.path.join(root, n)
            rel = os.path.relpath(p, os.path.dirname(beras_dir))
            if files is not None and os.path.relpath(p, beras_dir) not in files:
                continue
            try:
                tree = ast.parse(open(p, encoding="utf-8", errors="replace").read())
            except SyntaxError:
                continue
            for node in ast.walk(tree):
                mods = []
                if isinstance(node, ast.Import):
                    mods = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    mods = [node.module]
                elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                        and isinstance(node.args[0].value, str):
                    fn = node.func
                    fname = fn.id if isinstance(fn, ast.Name) else fn.attr if isinstance(fn, ast.Attribute) else ""
                    if fname in ("__import__", "import_module"):
                        mods = [node.args[0].value]
                for m in mods:
                    if m.split(".")[0] in forbidden:
                        hits.append((rel, node.lineno, m.split(".")[0]))
    return sorted(set(hits))
