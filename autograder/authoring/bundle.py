"""Solution-free grader bundles: everything grading needs from the instructor's sources, and no solution.

One folder per assignment, ``<course root>/build/grader/<name>/`` (instructor-only: never under
``assignments/``, never released; the sandbox hides the whole course root from student code)::

    bundle.json       {"format", "name", "digest", "stencil", "marked_files"}
    <name>.ipynb      the instructor notebook with every solution region cleared by nbgrader's own
                      ClearSolutions (the release's stub in its place); locked, grade and hidden-test
                      cells, cell ids and all metadata kept; outputs dropped; the release's setup and
                      submit cells added (autograder.authoring.student_kit)
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

from ..errors import BundleError
from .regions import (CODE_STUB, _files, clear_solutions, cleared_notebook, has_sources, marked_files, ownership,
                      solution_dir)

FORMAT = 1
BUNDLE_PARTS = ("build", "grader")
MANIFEST = "bundle.json"


def bundles_root(root):
    return os.path.join(root, *BUNDLE_PARTS)


def bundle_dir(root, name):
    return os.path.join(bundles_root(root), name)


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
# Inputs (the solution regions and their owners: regions.py)
# ---------------------------------------------------------------------------------------------
def digest(root, name):
    """Hash of everything a bundle is made from."""
    src = solution_dir(root, name)
    owned = ownership(root, name)           # the manifests, read once
    stencil, marked = marked_files(root, name, owned)
    _, keep, _ = owned
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
def write_bundle(root, name, dest):
    """Write the bundle of ``name`` (from ``<root>/solutions/<name>``) into the empty folder ``dest``."""
    import nbformat
    src = solution_dir(root, name)
    stencil, marked = marked_files(root, name)
    for rel in _files(src):
        p, target = os.path.join(src, rel), os.path.join(dest, rel)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if rel == f"{name}.ipynb":    # with the release's setup and submit cells (the grader restores them)
            from . import rules, student_kit     # the rules stated from the hidden tests' RULES, as released
            nb = rules.fill(cleared_notebook(p), rules.load(src))
            nbformat.write(student_kit.inject(nb, name), target)
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

