"""The one-command release: ``solutions/<name>/`` -> ``assignments/<name>/`` (``python -m autograder release``).

For every assignment folder under ``solutions/`` (or the ``names`` given):

1. the student notebook, made by nbgrader's own ``generate_assignment`` in a throwaway course
   directory (``source/<name>/`` -> ``release/<name>/``; the gradebook stays in the temp dir), with
   the markdown's ``{{rule:KEY}}`` placeholders filled from the hidden tests' ``RULES`` (autograder.authoring.rules);
2. the assets: every file of ``solutions/<name>/`` except the grader-only ``hidden_tests.py``,
   ``calibration.json`` (the reference's timings, autograder.grading.calibrate) and ``assignment.toml`` (the
   manifest, autograder.authoring.manifest), ``__pycache__`` and ``.ipynb_checkpoints``;
3. for an assignment whose manifest names a ``[stencil] package``: a stencil copy of that package in which every
   ``### BEGIN SOLUTION`` / ``### END SOLUTION`` region is replaced by nbgrader's own code stub
   (``ClearSolutions._replace_solution_region``, no second parser), except the regions of the earlier
   assignments the manifest's ``[stencil] solved`` lists (autograder.authoring.regions.ownership);
4. a student ``README.md`` (unless the solution folder ships its own) and ``requirements.txt``
   pinned exactly like ``pyproject.toml`` (minus the manifest's ``[requirements] exclude``);
5. the grader bundle ``build/grader/<name>/`` (instructor-only, see autograder.authoring.bundle): the notebook
   with its solution regions cleared by the same ClearSolutions, the hidden tests, the other assets
   and the list of files students write; grading reads it instead of ``solutions/`` and ``beras/``.

The output is deterministic: regenerating gives byte-identical files (nbgrader's checksums are
content-based, cell ids are fixed in the sources, and nothing time- or run-dependent is written).
"""
from __future__ import annotations

import functools
import logging
import re
import shutil
import sys
import tempfile
import tomllib
from pathlib import Path

import nbformat

from . import rules, student_kit
from .manifest import check_published
from .manifest import load as load_manifest
from .regions import CODE_STUB, _clearer, clear_solutions

# grader-only files of solutions/<name>/ (they go into the grader bundle, never to students)
GRADER_ONLY = {"hidden_tests.py", "calibration.json", "assignment.toml"}
NOTEBOOK_ASSETS_EXCLUDE = GRADER_ONLY | {"__pycache__", ".ipynb_checkpoints"}
STENCIL_EXCLUDE = {"__pycache__", ".ipynb_checkpoints"}
# Instructor-side packages students don't need in their environment.
NOT_FOR_STUDENTS = {"nbgrader", "psutil", "copydetect"}
# The versions Google Colab's runtime ships: the lower bound of the student's requirement (the upper
# bound is the next minor version after the course's own pin), so Colab's preinstalled stack is used as
# it is. `python -m autograder.authoring.colab_check` runs both notebooks' visible checks on exactly these.
# A package not listed here keeps the course's exact pin.
COLAB_VERSIONS = {
    "numpy": "2.0.2",
    "tensorflow": "2.19.0",
    "keras": "3.10.0",
    "tensorflow-datasets": "4.9.9",
    "matplotlib": "3.10.0",
    "scikit-learn": "1.6.1",
    "nbformat": "5.10.4",
    "nbclient": "0.10.2",
    "ipykernel": "6.17.1",
}


def release(names=None, root="."):
    """Regenerate ``<root>/assignments/<name>/`` for each assignment (all of ``solutions/`` by default).

    Returns the list of released folders.
    """
    root = Path(root).resolve()
    solutions = root / "solutions"
    available = sorted(p.name for p in solutions.iterdir() if (p / f"{p.name}.ipynb").is_file()) \
        if solutions.is_dir() else []
    names = available if names is None else list(names)
    unknown = [n for n in names if n not in available]
    if unknown:
        raise ValueError(f"unknown assignment(s) {unknown}; valid: {available}")
    out = []
    for name in names:
        out.append(release_one(name, root))
    return out


def release_one(name, root):
    root = Path(root).resolve()
    src = root / "solutions" / name
    dest = root / "assignments" / name
    with tempfile.TemporaryDirectory(prefix=f"release-{name}-") as tmp:
        course = Path(tmp)
        source = course / "source" / name
        copy_tree(src, source, NOTEBOOK_ASSETS_EXCLUDE)
        student_kit.inject_file(source / f"{name}.ipynb", name)    # the setup and submit cells
        rules.fill_file(source / f"{name}.ipynb", src)               # {{rule:KEY}} from hidden_tests.py's RULES
        manifest = load_manifest(src, name)
        check_published(manifest, [p.name for p in (root / "solutions").iterdir() if (p / f"{p.name}.ipynb").is_file()])
        from .regions import ownership
        package, keep, _ = ownership(root, name)
        if package:
            make_stencil(root / package, source / package, keep, manifest.stencil_exclude)
        generate_assignment(course, name)
        built = course / "release" / name
        normalize_notebooks(built)
        if not (built / "README.md").exists():
            from .regions import marked_files
            (built / "README.md").write_text(student_readme(name, built, package, marked_files(root, name)[1],
                                                            manifest.published))
        (built / "requirements.txt").write_text(requirements(root, name))
        write_submit_script(root, name, built, package)
        if dest.exists():
            shutil.rmtree(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(built, dest)
    from . import bundle
    bundle.build(root, name)
    return dest


# ---------------------------------------------------------------------------------------------
# nbgrader
# ---------------------------------------------------------------------------------------------
def nbgrader_config(course_root):
    """nbgrader's configuration, in code (no nbgrader_config.py is read)."""
    from traitlets.config import Config
    c = Config()
    c.CourseDirectory.root = str(course_root)
    c.CourseDirectory.course_id = "beras-course"
    c.CourseDirectory.db_url = f"sqlite:///{Path(course_root) / 'gradebook.db'}"
    c.ClearSolutions.code_stub = {"python": CODE_STUB}
    c.IncludeHeaderFooter.header = ""
    c.IncludeHeaderFooter.footer = ""
    return c


def generate_assignment(course_root, name):
    """Run nbgrader's generate_assignment on ``<course_root>/source/<name>``; raise on failure."""
    import nbgrader.api
    from nbgrader.apps import NbGraderAPI
    api = NbGraderAPI(config=nbgrader_config(course_root))
    api.log.setLevel(logging.CRITICAL + 1)
    # nbgrader's gradebook asks a `alembic heads` subprocess (found on PATH) for the schema version on
    # every open; answer it in-process (same value, no PATH dependence, seconds faster).
    original = nbgrader.api.get_alembic_version
    nbgrader.api.get_alembic_version = alembic_head
    try:
        result = api.generate_assignment(name, force=True, create=True)
    finally:
        nbgrader.api.get_alembic_version = original
    if not result["success"]:
        raise RuntimeError(f"nbgrader generate_assignment failed for {name}:\n{result.get('error')}\n"
                           f"{result.get('log')}")


@functools.lru_cache(maxsize=None)
def alembic_head():
    """The head revision of nbgrader's gradebook migrations (what ``alembic heads`` prints)."""
    import nbgrader
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(nbgrader.__file__).parent / "alembic"))
    return ScriptDirectory.from_config(cfg).get_heads()[0]


def normalize_notebooks(folder):
    """Rewrite every released notebook with nbformat's canonical layout (sorted keys, fixed indent)."""
    for path in sorted(Path(folder).rglob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        nb.metadata.pop("celltoolbar", None)
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        nbformat.write(nb, path)


# ---------------------------------------------------------------------------------------------
# The stencil: marked regions -> nbgrader's stub (regions.clear_solutions)
# ---------------------------------------------------------------------------------------------
def make_stencil(package_dir, dest, keep=(), exclude=()):
    """Copy ``package_dir`` to ``dest`` with every solution region of its .py files stubbed out, except
    the regions owned by ``keep`` (earlier assignments listed in the manifest's ``[stencil] solved``,
    see autograder.authoring.regions.ownership): those ship solved. ``exclude``: paths inside the package
    left out (the manifest's ``[stencil] exclude``, e.g. instructor demos)."""
    from .regions import unmark
    package_dir, dest = Path(package_dir), Path(dest)
    clearer = _clearer()
    for path in sorted(package_dir.rglob("*")):
        rel = path.relative_to(package_dir)
        if any(part in STENCIL_EXCLUDE for part in rel.parts) or path.suffix == ".pyc" or \
                any(rel.as_posix() == e.strip("/") or rel.as_posix().startswith(e.strip("/") + "/") for e in exclude):
            continue
        target = dest / rel
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".py":
            text, _ = clear_solutions(unmark(path.read_text(), keep), clearer)
            target.write_text(text)
        else:
            shutil.copyfile(path, target)


def copy_tree(src, dest, exclude):
    """Copy ``src`` into ``dest``, skipping names in ``exclude`` and compiled files, in sorted order."""
    src, dest = Path(src), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for path in sorted(src.rglob("*")):
        rel = path.relative_to(src)
        if any(part in exclude for part in rel.parts) or path.suffix == ".pyc":
            continue
        if path.is_dir():
            (dest / rel).mkdir(parents=True, exist_ok=True)
        else:
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest / rel)


def write_submit_script(root, name, built, package):
    """``submit.py`` in the release folder (autograder/authoring/student_kit/submit.py, filled in): it knows the
    files students write (the grader bundle's list) and every file of the release."""
    from .regions import marked_files
    _, marked = marked_files(root, name) if package else (None, [])
    files = {p.relative_to(built).as_posix() for p in Path(built).rglob("*")
             if p.is_file() and "__pycache__" not in p.parts} | {"submit.py"}
    (Path(built) / "submit.py").write_text(student_kit.submit_script(name, package, marked, files))


# ---------------------------------------------------------------------------------------------
# README and requirements
# ---------------------------------------------------------------------------------------------
def student_requirement(pin, colab=None):
    """``name==X.Y.Z`` -> ``name>=<Colab's version>,<X.(Y+1)`` for a package of ``colab`` (default
    COLAB_VERSIONS), else the pin unchanged."""
    colab = COLAB_VERSIONS if colab is None else colab
    name, _, version = pin.partition("==")
    name = name.strip()
    floor = colab.get(name.lower())
    if floor is None or not version:
        return pin
    major, minor = (int(p) for p in version.strip().split(".")[:2])
    if tuple(int(p) for p in floor.split(".")[:2]) > (major, minor):
        raise ValueError(f"{name}: Colab's {floor} is newer than the course's pin {version}")
    return f"{name}>={floor},<{major}.{minor + 1}"


def requirements(root, name):
    """The student's requirements.txt: the project's runtime dependencies minus instructor tools, as
    ranges from Colab's version to the course's pinned minor (:func:`student_requirement`)."""
    meta = tomllib.loads((Path(root) / "pyproject.toml").read_text())
    pins = [d for d in meta["project"]["dependencies"]
            if d.split("==")[0].strip().lower() not in NOT_FOR_STUDENTS]
    exclude = load_manifest(Path(root) / "solutions" / name, name).exclude_requirements
    pins = [d for d in pins if re.split(r"[=<>!~\[ ;]", d, maxsplit=1)[0].strip().lower() not in exclude]
    header = (f"# {name}: the Python packages this assignment needs. A range runs from the version Google Colab\n"
              "# ships to the course's own (pyproject.toml); the rest are exact pins.\n")
    return header + "".join(student_requirement(p) + "\n" for p in pins)


def _title(folder, name):
    nb = Path(folder) / f"{name}.ipynb"
    if nb.exists():
        for cell in nbformat.read(nb, as_version=4).cells:
            if cell.cell_type == "markdown":
                for line in cell.source.splitlines():
                    if line.startswith("# "):
                        return line[2:].strip()
    return name


STENCIL_TEXT = """
## What you implement

1. The solution cells of `{name}.ipynb` (they contain `raise NotImplementedError()`).
2. The functions of the `{package}/` copy in this folder that this assignment asks for: every function body
   that says `# YOUR CODE HERE` / `raise NotImplementedError()` in
{files}
   The rest of `{package}/` is given; don't change it.{later} Don't import TensorFlow or
   PyTorch inside `{package}/` (plain NumPy only); the notebook's checks use TensorFlow as the reference.

The notebook's setup cell puts this folder first on `sys.path`, so `import {package}` loads *your*
copy; it prints the path it imported. If it shows another path, restart the kernel and run the
notebook from this folder.
"""

PLAIN_TEXT = """
## What you implement

The solution cells of `{name}.ipynb`: every cell that contains `raise NotImplementedError()`.
Keep the function names and signatures: the grader calls them by name.
"""

BERAS_NOTE = """
This assignment also uses `beras`, the course's NumPy library (for example for the offline digits data).
It is not on PyPI: install it from the course repository (`pip install -e <course repo>`), or copy its
`beras/` folder next to this notebook; the notebook's first cell prints which beras it uses.
"""


def uses_beras(folder):
    """Does any released notebook or Python file of ``folder`` import beras?"""
    for path in sorted(Path(folder).rglob("*")):
        if path.suffix == ".py":
            text = path.read_text()
        elif path.suffix == ".ipynb":
            text = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells)
        else:
            continue
        if "import beras" in text or "from beras" in text:
            return True
    return False


README = """# {title}

Assignment `{name}`. Everything you need is in this folder.
{published}{what}
## Where to work

The notebook's first cell ("where you work") prints where it runs and which requirements are missing;
its last cell makes your submission (below). Keep the folder's layout: the notebook finds its files
next to it.

### On your computer (Jupyter)

1. Unzip the folder and open a terminal in it.
2. Make an environment and install the requirements (Python 3.11 or newer):
   ```bash
   python -m venv .venv && . .venv/bin/activate        # Windows: .venv\\Scripts\\activate
   pip install -r requirements.txt jupyterlab
   ```
3. `jupyter lab {name}.ipynb`, then *Kernel > Restart Kernel and Run All Cells*.

### On JupyterHub

1. Upload the zip of the folder (or the folder) in the file browser; unzip it in a terminal
   (`unzip {name}.zip`) if you uploaded a zip.
2. Open a terminal in the folder and run `pip install --user -r requirements.txt`; the first cell
   lists anything still missing.
3. Open `{name}.ipynb` from inside the folder, so that it runs there.

### On Google Colab

1. Put the whole folder in your Google Drive (for example `MyDrive/{name}/`, at most three levels
   below MyDrive), then open `{name}.ipynb` from Drive with Colab. Or keep the zip of the folder.
2. Run the first cell. It finds the folder in your Drive (allow the Drive access it asks for), or, if you
   uploaded a zip of the folder in the Files pane (or upload it when the cell asks), unzips it; then it
   makes that folder the working folder and installs what Colab lacks from `requirements.txt`. If it
   says so, restart the session (*Runtime > Restart session*) and run the notebook from the top.
3. Edit the folder's files in Colab's Files pane (double-click a `.py` file). Files outside Drive
   vanish when the session ends: download the submission zip before you leave.

## How to check your work

Run the notebook top to bottom (Kernel > Restart & Run All). Each task is followed by a locked test
cell: it prints what it checked, and when something is wrong it says which case failed and what was
expected versus what you returned. Passing the visible tests is necessary but not sufficient: the
grader also runs hidden tests (other sizes, strides, dtypes and random cases) worth the remaining points.

Don't edit, delete or copy the locked cells (the grader restores them) and keep the cells tagged
`grader-namespace` fast: only definitions, no training. The notebook must run top to bottom in a few
minutes on a CPU without errors.

## How to submit

Run the whole notebook, save it (File > Save), then run its last cell; or, in a terminal in this folder:

```bash
python submit.py
```

Both check that the saved notebook ran top to bottom (the command, when it did not, runs a copy in a
fresh kernel: your file is not changed), list what is still unimplemented (functions still raising
`NotImplementedError`, failing test cells), and write `{name}-submission.zip`: {submit_what}, and any
file you added yourself. Hand in that zip. The grader reads exactly these files and uses its own copy of
everything else in this folder, so don't rename files.
"""


PUBLISHED_TEXT = """
> **Instructor: publish this release only after the due date of {names}.** What it gives (locked cells,
> helper files, the solved stencil) holds answers to graded parts of {those}, which this assignment builds
> on (declared in its `assignment.toml`: `publishes`, `[stencil] solved`).
"""


def published_note(published):
    """The release README's warning to the instructor (empty when the release hands out no other answers)."""
    if not published:
        return ""
    return PUBLISHED_TEXT.format(names=", ".join(f"`{n}`" for n in published),
                                 those="that assignment" if len(published) == 1 else "those assignments")


def student_readme(name, folder, package=None, marked=(), published=()):
    """The release's README; ``marked``: the stencil files students write (autograder.authoring.regions.marked_files);
    ``published``: the assignments whose answers the release hands out (the manifest's ``published``)."""
    folder = Path(folder)
    if package:
        stubbed = {p.relative_to(folder / package).as_posix() for p in (folder / package).rglob("*.py")
                   if "raise NotImplementedError()" in p.read_text() and "YOUR CODE HERE" in p.read_text()}
        files = "\n".join(f"   - `{package}/{f}`" for f in sorted(marked)) or "   (none)"
        others = sorted(stubbed - set(marked))
        later = (" Stubs in " + ", ".join(f"`{package}/{f}`" for f in others) +
                 " belong to a later assignment: this one does not use them.") if others else ""
        what = STENCIL_TEXT.format(name=name, package=package, files=files, later=later)
        submit_what = f"the notebook and the `{package}/` files you complete"
    else:
        what = PLAIN_TEXT.format(name=name)
        if uses_beras(folder):
            what += BERAS_NOTE
        submit_what = "the notebook (with its outputs)"
    return README.format(title=_title(folder, name), name=name, what=what, submit_what=submit_what,
                         published=published_note(published))


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    root = "."
    if "--root" in argv:
        i = argv.index("--root")
        root = argv[i + 1]
        argv = argv[:i] + argv[i + 2:]
    for dest in release(argv or None, root=root):
        print(f"released {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
