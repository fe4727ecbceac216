"""The assignment spec: an assignment of a course root (:class:`Assignment`: where its release, grader
bundle and instructor sources are) and finding one (:func:`find_assignment`, which builds a missing or
stale grader bundle)."""
from __future__ import annotations

import dataclasses
import os

from ..errors import GraderError
from ..paths import PROJECT_ROOT
from . import bundle


@dataclasses.dataclass
class Assignment:
    """An assignment of a course root. What grading reads comes from the release (``assignments/``)
    and the solution-free grader bundle (``build/grader/<name>/``, see autograder.authoring.bundle); the
    instructor-only paths (``solutions/``, the instructor's beras) are for making references and bundles."""
    name: str
    root: str

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

    @property
    def hidden_tests(self):
        return os.path.join(self.bundle_dir, "hidden_tests.py")

    @property
    def marked_files(self):
        """Files of the stencil package that students write (from the bundle's manifest)."""
        return list(bundle.read_manifest(self.root, self.name).get("marked_files", []))

    @property
    def manifest(self):
        """The assignment's manifest (autograder.authoring.manifest), from the bundle (or the sources)."""
        from .manifest import load
        folder = self.bundle_dir if os.path.isdir(self.bundle_dir) else self.source_dir
        return load(folder, self.name)

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
    a = Assignment(name, root)
    if not os.access(a.release_nb, os.R_OK):
        raise GraderError(f"cannot read the release {a.release_nb} (run `autograder release` first?)")
    try:
        bundle.ensure(root, name)
    except bundle.BundleError as e:
        raise GraderError(str(e)) from None
    for path in (a.source_nb, os.path.join(a.bundle_dir, bundle.MANIFEST)):
        if not os.access(path, os.R_OK):
            raise GraderError(f"cannot read the grader bundle file {path} (run `autograder release` first?)")
    return a
