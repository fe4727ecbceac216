"""Solution-free grader bundles: everything grading needs from the instructor's sources, and no solution.

One folder per assignment, ``<course root>/build/grader/<name>/`` (instructor-only: never under
``assignments/``, never released; the sandbox hides the whole course root from student code)::

    bundle.json       {"format", "name", "digest", "stencil", "marked_files"}
    <name>.ipynb      the instructor notebook with every solution region cleared by nbgrader's own
                      ClearSolutions (the release's stub in its place); locked, grade and hidden-test
                      cells, cell ids and all metadata kept; outputs dropped; the release's setup and
                      submit cells added (autograder.student_kit)
    hidden_tests.py   the trusted hidden tests
    ...               the other files of ``solutions/<name>/`` (e.g. ``training.py``); .py files pass
                      through ClearSolutions too

``marked_files`` lists the files of the stencil package (the manifest's, e.g. ``beras/``) that students write: those with
solution markers in the instructor's package. ``digest`` is a hash of every input (the solution
folder, the marked-file list, the stub, the bundle format), so a bundle is rebuilt exactly when its
sources changed.

``autograder release`` writes the bundles; :func:`ensure` (called by ``find_assignment``) rebuilds a
missing or stale one from ``solutions/``; a packaged course (no ``solutions/``) uses the bundle that
``autograder package`` shipped. Building is deterministic: same sources, same bytes. The bundle
folder is mode 0700 (only the grader's user may enter it).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile

FORMAT = 1
BUNDLE_PARTS = ("build", "grader")
MANIFEST = "bundle.json"
MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")
SKIP = {"__pycache__", ".ipynb_checkpoints"}
CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"   # nbgrader's stub, for notebooks and stencils


class BundleError(Exception):
    """A bundle cannot be built or found (raised as GraderError by find_assignment)."""


def bundles_root(root):
    return os.path.join(root, *BUNDLE_PARTS)


def bundle_dir(root, name):
    return os.path.join(bundles_root(root), name)


def solution_dir(root, name):
    return os.path.join(root, "solutions", name)


def has_sources(root, name):
    return os.path.isfile(os.path.join(solution_dir(root, name), f"{name}.ipynb"))


def bundle_names(root):
    """Assignments with a bundle under ``<root>/build/grader``."""
    base = bundles_root(root)
    if not os.path.isdir(base):
        return []
    return sorted(d for d in os.listdir(base) if os.path.isfile(os.path.join(base, d, MANIFEST)))


def read_manifest(root, name):
    with open(os.path.join(bundle_dir(root, name), MANIFEST)) as f:
        return json.load(f)


# ---------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------
def _files(folder):
    """Sorted relative paths of the regular files under ``folder`` (caches skipped)."""
    out = []
    for base, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in SKIP)
        for n in sorted(names):
            if n.endswith((".pyc", ".pyo")):
                continue
            out.append(os.path.relpath(os.path.join(base, n), folder).replace(os.sep, "/"))
    return sorted(out)


# Region ownership. A stencil package may serve several assignments: a region's marker line may name
# the assignment that owns it (the begin marker followed by its name, e.g. ``later_one``); an untagged region belongs to
# the package's first assignment (the one whose manifest lists no ``solved``). An assignment's stencil
# stubs every region except those owned by the assignments its manifest's ``[stencil] solved`` lists
# (their answers ship: release it after their due dates), so a later assignment's regions are stubbed
# in an earlier release too. Students write the files holding a region their assignment owns.
def region_owner(line):
    """The owner a ``### BEGIN SOLUTION`` line names (the rest of the line), or None (untagged)."""
    return line.split(MARKERS[0], 1)[1].strip() or None


def _regions(text):
    """[(owner, begin line index, end line index)] of the solution regions of ``text``."""
    out, begin = [], None
    for i, line in enumerate(text.split("\n")):
        if MARKERS[0] in line:
            begin = (region_owner(line), i)
        elif MARKERS[1] in line and begin is not None:
            out.append((begin[0], begin[1], i))
            begin = None
    return out


def unmark(text, keep):
    """``text`` with the marker lines of the regions owned by ``keep`` removed (their code stays, so
    clearing the rest leaves it solved). ``keep`` holds owners; None stands for untagged regions."""
    drop = {i for owner, b, e in _regions(text) if owner in keep for i in (b, e)}
    return "\n".join(line for i, line in enumerate(text.split("\n")) if i not in drop)


def ownership(root, name):
    """(stencil package or None, owners whose regions ship solved, owners whose regions students write)."""
    from .manifest import load
    manifest = load(solution_dir(root, name), name)
    if manifest.stencil is None:
        return None, set(), set()
    keep = set()
    for other in manifest.solved:
        if not has_sources(root, other):
            raise BundleError(f"{name}'s manifest lists {other!r} in [stencil] solved, but there is no "
                              f"assignment {other!r} under {os.path.join(root, 'solutions')}")
        theirs = load(solution_dir(root, other), other)
        if theirs.stencil != manifest.stencil:
            raise BundleError(f"{name}'s manifest lists {other!r} in [stencil] solved, but {other!r} does not "
                              f"complete the stencil {manifest.stencil!r} (its stencil: {theirs.stencil!r})")
        keep.add(other)
        if not theirs.solved:
            keep.add(None)
    owns = {name} if manifest.solved else {name, None}
    return manifest.stencil, keep, owns


def marked_files(root, name):
    """(stencil package or None, [files of it that students write]) for the assignment.

    The stencil package comes from the assignment's manifest (``[stencil] package``); the files
    students write are the instructor package's .py files with a ``### BEGIN SOLUTION`` region the
    assignment owns (see :func:`ownership`)."""
    package, _, owns = ownership(root, name)
    if package is None:
        return None, []
    instructor = os.path.join(root, package)
    if not os.path.isdir(instructor):
        raise BundleError(f"{name}'s manifest names the stencil package {package!r} but the instructor's "
                          f"{instructor} is missing: cannot tell which files students write")
    files = []
    for rel in _files(instructor):
        if rel.endswith(".py"):
            with open(os.path.join(instructor, rel), encoding="utf-8", errors="replace") as f:
                if any(owner in owns for owner, _, _ in _regions(f.read())):
                    files.append(rel)
    return package, files


def digest(root, name):
    """Hash of everything a bundle is made from."""
    src = solution_dir(root, name)
    stencil, marked = marked_files(root, name)
    _, keep, _ = ownership(root, name)
    h = hashlib.sha256()
    from . import student_kit
    h.update(json.dumps({"format": FORMAT, "name": name, "stub": CODE_STUB, "stencil": stencil,
                         "marked_files": marked, "solved": sorted(keep, key=str), "student_kit": student_kit.fingerprint()}, sort_keys=True).encode())
    for rel in _files(src):
        with open(os.path.join(src, rel), "rb") as f:
            data = f.read()
        h.update(f"\0{rel}\0{len(data)}\0".encode())
        h.update(data)
    return h.hexdigest()


# ---------------------------------------------------------------------------------------------
# Building
# ---------------------------------------------------------------------------------------------
def cleared_notebook(path):
    """The notebook at ``path`` with every solution region cleared by nbgrader's ClearSolutions
    (same stub as the release), outputs and execution counts dropped."""
    import nbformat
    from nbgrader.preprocessors import ClearSolutions
    nb = nbformat.read(path, as_version=4)
    try:
        nb, _ = ClearSolutions(code_stub={"python": CODE_STUB}).preprocess(nb, {})
    except (RuntimeError, ValueError) as e:
        raise BundleError(f"cannot clear the solutions of {path}: {e}") from None
    nb.metadata.pop("celltoolbar", None)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb


def write_bundle(root, name, dest):
    """Write the bundle of ``name`` (from ``<root>/solutions/<name>``) into the empty folder ``dest``."""
    import nbformat
    from .release import clear_solutions
    src = solution_dir(root, name)
    stencil, marked = marked_files(root, name)
    for rel in _files(src):
        p, target = os.path.join(src, rel), os.path.join(dest, rel)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if rel == f"{name}.ipynb":    # with the release's setup and submit cells (the grader restores them)
            from . import student_kit
            nbformat.write(student_kit.inject(cleared_notebook(p), name), target)
        elif rel.endswith(".ipynb"):
            nbformat.write(cleared_notebook(p), target)
        elif rel.endswith(".py"):
            with open(p, encoding="utf-8") as f:
                text, _ = clear_solutions(f.read())
            with open(target, "w", encoding="utf-8") as f:
                f.write(text)
        else:
            shutil.copyfile(p, target)
    manifest = {"format": FORMAT, "name": name, "digest": digest(root, name), "stencil": stencil,
                "marked_files": marked}
    with open(os.path.join(dest, MANIFEST), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
        f.write("\n")


@contextlib.contextmanager
def _lock(root):
    """An exclusive lock on the course's bundle folder (concurrent graders rebuild once)."""
    import fcntl
    base = bundles_root(root)
    os.makedirs(base, exist_ok=True)
    with open(os.path.join(base, ".lock"), "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def is_fresh(root, name):
    try:
        return read_manifest(root, name).get("digest") == digest(root, name)
    except (OSError, ValueError):
        return False


def build(root, name, only_if_stale=False):
    """(Re)build ``<root>/build/grader/<name>`` from the sources; atomic (built aside, then swapped in).
    ``only_if_stale``: do nothing when the bundle is fresh (checked under the lock, so concurrent
    graders rebuild it once)."""
    root = os.path.abspath(root)
    if not has_sources(root, name):
        raise BundleError(f"no instructor source {os.path.join(solution_dir(root, name), name + '.ipynb')}")
    dest = bundle_dir(root, name)
    try:
        with _lock(root):
            if only_if_stale and is_fresh(root, name):
                return dest
            tmp = tempfile.mkdtemp(prefix=f".{name}-", dir=bundles_root(root))   # mode 0700
            try:
                write_bundle(root, name, tmp)
                old = None
                if os.path.exists(dest):
                    old = tempfile.mkdtemp(prefix=f".{name}-old-", dir=bundles_root(root))
                    os.rename(dest, os.path.join(old, name))
                os.rename(tmp, dest)
                if old:
                    shutil.rmtree(old, ignore_errors=True)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
    except OSError as e:
        raise BundleError(f"cannot write the grader bundle {dest}: {e}") from None
    return dest


def ensure(root, name):
    """The bundle folder of ``name``: rebuilt from ``solutions/`` when missing or stale; a course
    without ``solutions/<name>`` (a packaged one) must ship it."""
    root = os.path.abspath(root)
    dest = bundle_dir(root, name)
    if has_sources(root, name):
        if not is_fresh(root, name):
            build(root, name, only_if_stale=True)
        return dest
    if not os.path.isfile(os.path.join(dest, MANIFEST)):
        raise BundleError(f"no grader bundle {dest} and no instructor source to build it from "
                          f"({solution_dir(root, name)})")
    try:   # an unzipped package: only the grader's user may enter the bundle (as a built one)
        os.chmod(dest, 0o700)
    except OSError:
        pass
    return dest

