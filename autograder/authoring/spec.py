"""The assignment spec: an assignment of a course root (:class:`Assignment`: where its release, grader
bundle and instructor sources are, and what grading reads of them, read once) and finding one
(:func:`find_assignment`, which builds a missing or stale grader bundle)."""
from __future__ import annotations

import copy
import dataclasses
import os

from ..errors import GraderError
from ..paths import PROJECT_ROOT
from . import bundle
from .manifest import Manifest, ManifestError, load


@dataclasses.dataclass(frozen=True)
class Assignment:
    """An assignment of a course root, immutable and read once (by :func:`find_assignment`): made once
    per grading, once per batch, and passed forward. What grading reads comes from the release
    (``assignments/``) and the solution-free grader bundle (``build/grader/<name>/``, see
    autograder.authoring.bundle): the parsed manifest, the marked files and the two notebooks are read
    when the spec is made, never again; the instructor-only paths (``solutions/``, the instructor's
    beras) are for making references and bundles."""
    name: str
    root: str
    manifest: Manifest = dataclasses.field(compare=False, repr=False)
    marked: tuple = dataclasses.field(default=(), compare=False, repr=False)
    _source_nb: object = dataclasses.field(default=None, compare=False, repr=False)
    _release_nb: object = dataclasses.field(default=None, compare=False, repr=False)

    @property
    def release_dir(self):
        return os.path.join(self.root, "assignments", self.name)

    @property
    def bundle_dir(self):
        return bundle.bundle_dir(self.root, self.name)

    @property
    def notebook(self):
        return f"{self.name}.ipynb"

    @property
    def source_nb(self):
        """The instructor notebook with every solution region cleared (locked/grade cells, metadata)."""
        return os.path.join(self.bundle_dir, self.notebook)

    @property
    def release_nb(self):
        return os.path.join(self.release_dir, self.notebook)

    def source_notebook(self):
        """The notebook at :attr:`source_nb`, parsed when the spec was made: a copy of its own for the
        caller (who may change it; the spec never changes)."""
        return copy.deepcopy(self._source_nb)

    def release_notebook(self):
        """The notebook at :attr:`release_nb`, parsed when the spec was made (a copy, as :meth:`source_notebook`)."""
        return copy.deepcopy(self._release_nb)

    @property
    def hidden_tests(self):
        return os.path.join(self.bundle_dir, "hidden_tests.py")

    @property
    def marked_files(self):
        """Files of the stencil package that students write (from the bundle's bundle.json)."""
        return list(self.marked)

    @property
    def stencil(self):
        """The package students complete (e.g. "beras"), or None."""
        return self.manifest.stencil

    @property
    def has_stencil(self):
        return self.stencil is not None

    # instructor-only (never read while grading)
    @property
    def source_dir(self):
        return bundle.solution_dir(self.root, self.name)

    @property
    def solution_nb(self):
        return os.path.join(self.source_dir, self.notebook)

    @property
    def instructor_beras(self):
        """The instructor's complete stencil package (e.g. <root>/beras), or None without a stencil."""
        return os.path.join(self.root, self.stencil) if self.stencil else None


def valid_assignments(root=None):
    """Assignments of the course root: a source under solutions/ or a shipped grader bundle."""
    root = root or default_root()
    sol = os.path.join(root, "solutions")
    names = set(bundle.bundle_names(root))
    if os.path.isdir(sol):
        names |= {d for d in os.listdir(sol) if os.path.isfile(os.path.join(sol, d, f"{d}.ipynb"))}
    return sorted(names)


def default_root():
    return os.environ.get("AUTOGRADER_ROOT") or PROJECT_ROOT


def find_assignment(name, root=None) -> Assignment:
    """The assignment ``name`` of the course root, with its grader bundle built (or rebuilt when its
    sources changed) from solutions/, or the shipped one when the course has no solutions/."""
    root = os.path.abspath(root or default_root())
    valid = valid_assignments(root)
    if name not in valid:
        raise GraderError(f"unknown assignment {name!r}; valid assignments: {', '.join(valid) or '(none found)'}"
                          f" (under {os.path.join(root, 'solutions')} or {bundle.bundles_root(root)})")
    release_nb = os.path.join(root, "assignments", name, f"{name}.ipynb")
    if not os.access(release_nb, os.R_OK):
        raise GraderError(f"cannot read the release {release_nb} (run `autograder release` first?)")
    try:
        folder = bundle.ensure(root, name)
        manifest = load(folder, name)
    except (bundle.BundleError, ManifestError) as e:    # the instructor's sources: the grader cannot run
        raise GraderError(str(e)) from None
    source_nb = os.path.join(folder, f"{name}.ipynb")
    for path in (source_nb, os.path.join(folder, bundle.MANIFEST)):
        if not os.access(path, os.R_OK):
            raise GraderError(f"cannot read the grader bundle file {path} (run `autograder release` first?)")
    import nbformat
    try:
        marked = tuple(bundle.read_manifest(root, name).get("marked_files", []))
        notebooks = [nbformat.read(p, as_version=4) for p in (source_nb, release_nb)]
    except Exception as e:  # noqa: BLE001 - unreadable JSON, an invalid notebook (nbformat's ValidationError)
        raise GraderError(f"cannot read the assignment {name}: {type(e).__name__}: {e}") from None
    return Assignment(name, root, manifest, marked, *notebooks)
