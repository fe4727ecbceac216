"""Solution regions (``### BEGIN SOLUTION`` .. ``### END SOLUTION``) of an assignment's instructor sources,
in one place for the release and the grader bundle (both import it; it imports neither):

- where the sources are (``solutions/<name>/``) and their files;
- who owns a region (:func:`ownership`) and which stencil files students write (:func:`marked_files`);
- clearing: a text (:func:`clear_solutions`, the stencil and the bundle's .py files) or a notebook
  (:func:`cleared_notebook`), by nbgrader's own ClearSolutions with the release's stub :data:`CODE_STUB`.
"""
from __future__ import annotations

import os

import nbformat

from ..errors import BundleError

MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")
SKIP = {"__pycache__", ".ipynb_checkpoints"}
CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"   # nbgrader's stub, for notebooks and stencils


# ---------------------------------------------------------------------------------------------
# Inputs: the instructor sources
# ---------------------------------------------------------------------------------------------
def solution_dir(root, name):
    return os.path.join(root, "solutions", name)


def has_sources(root, name):
    return os.path.isfile(os.path.join(solution_dir(root, name), f"{name}.ipynb"))


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


def marked_files(root, name, owned=None):
    """(stencil package or None, [files of it that students write]) for the assignment.

    The stencil package comes from the assignment's manifest (``[stencil] package``); the files
    students write are the instructor package's .py files with a ``### BEGIN SOLUTION`` region the
    assignment owns (see :func:`ownership`; ``owned``: its result when the caller has it already)."""
    package, _, owns = owned or ownership(root, name)
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


# ---------------------------------------------------------------------------------------------
# Clearing
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


# marked regions -> nbgrader's stub, via nbgrader's own ClearSolutions (the stencil and the notebooks alike)
def _clearer():
    from nbgrader.preprocessors import ClearSolutions
    return ClearSolutions(code_stub={"python": CODE_STUB})


def clear_solutions(text, clearer=None):
    """``text`` with each ``### BEGIN SOLUTION``..``### END SOLUTION`` region replaced by the stub.

    Returns ``(new_text, replaced)``. Uses nbgrader's ``ClearSolutions._replace_solution_region`` on a
    code cell made from the text, so the stencil and the notebooks are cleared by the same code.
    """
    clearer = clearer or _clearer()
    cell = nbformat.v4.new_code_cell(text)
    replaced = clearer._replace_solution_region(cell, "python")
    return cell.source, replaced
