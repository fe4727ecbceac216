"""The one-command release (autograder.authoring.release): deterministic, complete, and leak-free.

- releasing twice gives byte-identical folders, and the committed assignments/ equals a fresh
  release (so nobody forgets `make release`);
- nothing in assignments/ holds a solution marker, a hidden test, or the text of a solution region;
- the beras stencil imports, and every marked kernel raises NotImplementedError;
- the released notebook's setup cell (its first grader-namespace cell; the course's "where you work"
  cell comes before it) imports the released stencil, even with the full beras installed and already
  imported.
"""
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest

from autograder.authoring.regions import _regions, clear_solutions, marked_files, ownership, unmark
from autograder.authoring.release import make_stencil, release
from autograder.errors import BundleError
from tests import ROOT

SOLUTIONS = ROOT / "solutions"
ASSIGNMENTS = ROOT / "assignments"
NAMES = sorted(p.name for p in SOLUTIONS.iterdir() if (p / f"{p.name}.ipynb").is_file())
MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
KERNEL_FILES = ["nn/conv.py", "nn/pooling.py", "nn/normalization.py"]


def _excluded(name, rel):
    """Is ``rel`` (a path inside the stencil package) left out of ``name``'s release ([stencil] exclude)?"""
    from autograder.authoring.manifest import load
    return any(rel == e or rel.startswith(e.rstrip("/") + "/") for e in load(SOLUTIONS / name, name).stencil_exclude)
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONDONTWRITEBYTECODE": "1"}


def snapshot(folder):
    """{relative path: bytes} of every file under ``folder`` (caches excluded)."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(Path(folder).rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}


@pytest.fixture(scope="module")
def releases(tmp_path_factory):
    """Two independent releases of a copy of the course sources into temp roots."""
    out = []
    for i in range(2):
        root = tmp_path_factory.mktemp(f"release{i}")
        shutil.copytree(SOLUTIONS, root / "solutions", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        shutil.copytree(ROOT / "beras", root / "beras", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
        release(root=root)
        out.append(root / "assignments")
    return out


@pytest.mark.slow
def test_release_is_deterministic(releases):
    first, second = (snapshot(r) for r in releases)
    assert sorted(first) == sorted(second)
    differing = [f for f in first if first[f] != second[f]]
    assert not differing, f"releasing twice gave different bytes in {differing}"


@pytest.mark.slow
def test_committed_assignments_equal_a_fresh_release(releases):
    fresh, committed = snapshot(releases[0]), snapshot(ASSIGNMENTS)
    for name in NAMES:
        fresh_files = {f for f in fresh if f.startswith(name + "/")}
        committed_files = {f for f in committed if f.startswith(name + "/")}
        assert fresh_files == committed_files, (
            f"assignments/{name} is stale (run `make release`): missing {sorted(fresh_files - committed_files)}, "
            f"extra {sorted(committed_files - fresh_files)}")
        stale = sorted(f for f in fresh_files if fresh[f] != committed[f])
        assert not stale, f"assignments/{name} is stale (run `make release`): {stale} differ"


@pytest.mark.slow
def test_release_writes_the_grader_bundles(releases):
    """Each release also writes build/grader/NAME (outside assignments/): the same bytes twice, no
    solution marker, the notebook's grade cells and the hidden tests in it."""
    bundles = [snapshot(r.parent / "build" / "grader") for r in releases]
    assert bundles[0] == bundles[1]
    for name in NAMES:
        files = {f: b for f, b in bundles[0].items() if f.startswith(name + "/")}
        assert {f"{name}/{name}.ipynb", f"{name}/hidden_tests.py", f"{name}/bundle.json"} <= set(files)
        assert not any(b"BEGIN SOLUTION" in b or b"END SOLUTION" in b for b in files.values())
        assert files[f"{name}/hidden_tests.py"] == (SOLUTIONS / name / "hidden_tests.py").read_bytes()
    assert not any(f.startswith("build") for f in snapshot(releases[0]))


@pytest.mark.slow
def test_release_layout(releases):
    files = snapshot(releases[0])
    for name in NAMES:
        assert f"{name}/{name}.ipynb" in files
        assert f"{name}/README.md" in files and f"{name}/requirements.txt" in files
        assert f"{name}/hidden_tests.py" not in files
        reqs = files[f"{name}/requirements.txt"].decode()
        pins = [line for line in reqs.splitlines() if line and not line.startswith("#")]
        # exact pins, or ranges bounded on both sides (Colab's version .. the course's minor)
        assert pins and all("==" in line or (">=" in line and ",<" in line) for line in pins), \
            f"{name}/requirements.txt is not pinned: {pins}"
        assert not any(line.startswith(("nbgrader", "psutil")) for line in pins)
    assert "beras_cnn/beras/nn/conv.py" in files
    assert "beras_cnn/beras/testing.py" in files
    assert "gradebook.db" not in " ".join(files)


def released_text(name):
    """Everything students get for ``name``: file texts, notebooks as their cells' sources."""
    texts = {}
    for path in sorted((ASSIGNMENTS / name).rglob("*")):
        if not path.is_file() or path.suffix == ".pyc":
            continue
        if path.suffix == ".ipynb":
            texts[path] = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells)
        else:
            texts[path] = path.read_text(errors="replace")
    return texts


def solution_regions(text):
    """The bodies of the ### BEGIN SOLUTION ... ### END SOLUTION regions of ``text`` (stripped lines)."""
    return ["\n".join(line.strip() for line in body.strip("\n").splitlines() if line.strip())
            for body in re.findall(r"BEGIN SOLUTION[^\n]*\n(.*?)\n[^\n]*END SOLUTION", text, flags=re.S)]


def normalized(text):
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


@pytest.mark.parametrize("name", NAMES)
def test_nothing_secret_in_assignments(name):
    texts = released_text(name)
    assert not any(p.name == "hidden_tests.py" for p in texts), "hidden_tests.py was released"
    for path, text in texts.items():
        for marker in MARKERS:
            assert marker not in text, f"{path.relative_to(ROOT)} contains the marker {marker!r}"
    corpus = "\n".join(normalized(t) for t in texts.values())
    # the text of every solution region: notebook solution cells and the marked beras kernels
    sources = ["\n".join(c.source for c in nbformat.read(SOLUTIONS / name / f"{name}.ipynb", as_version=4).cells)]
    if name == "beras_cnn":
        sources += [(ROOT / "beras" / f).read_text() for f in KERNEL_FILES]
    regions = [r for s in sources for r in solution_regions(s)]
    assert regions, "found no solution regions to check"
    for region in regions:
        assert region not in corpus, f"a solution region was released:\n{region}"
    # hidden tests: neither a hidden test's code nor its name nor the module's probe strings
    hidden = SOLUTIONS / name / "hidden_tests.py"
    if hidden.exists():
        for secret in hidden_secrets(hidden.read_text()):
            assert secret not in corpus, f"hidden_tests.py text appears in assignments/{name}:\n{secret[:300]}"


def hidden_secrets(source):
    """Normalized code of each @hidden_test function, its visible name, and module-level strings (probes)."""
    import ast
    tree = ast.parse(source)
    out = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and any("hidden_test" in ast.unparse(d) for d in node.decorator_list):
            body = ast.get_source_segment(source, node).split("\n", 1)[1]   # without the def line
            out.append(normalized(body))
            for d in node.decorator_list:
                out += [kw.value.value for kw in getattr(d, "keywords", []) if kw.arg == "name"]
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            out.append(normalized(node.value.value))
    assert out, "found no hidden tests to check"
    return [s for s in out if s]


def test_stencil_is_made_by_nbgraders_clear_solutions():
    """Every marked region of the kernel files becomes nbgrader's stub; the rest is copied verbatim."""
    for rel in KERNEL_FILES:
        source = (ROOT / "beras" / rel).read_text()
        released = (ASSIGNMENTS / "beras_cnn" / "beras" / rel).read_text()
        assert released == clear_solutions(source)[0]
        assert released.count("raise NotImplementedError()") == source.count("### BEGIN SOLUTION") > 0
    # every other module reaches beras_cnn's students unchanged, but for the regions of later assignments
    for path in sorted((ROOT / "beras").rglob("*.py")):
        rel = path.relative_to(ROOT / "beras").as_posix()
        if _excluded("beras_cnn", rel):
            assert not (ASSIGNMENTS / "beras_cnn" / "beras" / rel).exists(), f"beras/{rel} is excluded, yet released"
        elif rel not in KERNEL_FILES:
            source = path.read_text()
            assert all(owner not in (None, "beras_cnn") for owner, _, _ in _regions(source)), \
                f"beras/{rel} has beras_cnn solution markers: list it in KERNEL_FILES"
            assert (ASSIGNMENTS / "beras_cnn" / "beras" / rel).read_text() == clear_solutions(source)[0]


def _stencil_releases():
    for name in NAMES:
        package, keep, owns = ownership(ROOT, name)
        if package:
            yield name, package, keep, owns


def test_each_release_ships_only_the_answers_its_manifest_declares_solved():
    """A package shared by assignments: each release's copy of every file is the instructor's with the
    regions of the assignments its manifest lists in [stencil] solved unmarked (their code ships) and
    every other region (its own, and a later assignment's) replaced by nbgrader's stub; no body of a
    region it does not own solved appears anywhere in the file."""
    seen_owners = set()
    for name, package, keep, _ in _stencil_releases():
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT / package).as_posix()
            if _excluded(name, rel):
                assert not (ASSIGNMENTS / name / package / rel).exists(), f"{name}: {package}/{rel} is excluded"
                continue
            source = path.read_text()
            released = (ASSIGNMENTS / name / package / rel).read_text()
            assert released == clear_solutions(unmark(source, keep))[0], f"{name}: {package}/{rel}"
            lines = source.split("\n")
            for owner, begin, end in _regions(source):
                seen_owners.add(owner)
                body = "\n".join(lines[begin + 1:end])
                if owner in keep:
                    assert body in released, f"{name}: {package}/{rel} should ship {owner}'s region solved"
                else:
                    assert body not in released, f"{name}: {package}/{rel} ships a region of {owner or 'its package'}"
    assert len(seen_owners) >= 2, f"no package is shared by assignments with their own regions: {seen_owners}"


def test_region_ownership_is_checked(tmp_path):
    """[stencil] solved must name assignments completing the same package; students write the files
    with regions their assignment owns."""
    def course(solved_name="first", package_of_first="kit"):
        root = tmp_path / f"c-{solved_name}-{package_of_first}"
        (root / "kit").mkdir(parents=True)
        (root / "kit" / "a.py").write_text("def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\n")
        (root / "kit" / "b.py").write_text("def g():\n    ### BEGIN SOLUTION second\n    return 2\n    ### END SOLUTION\n")
        for n, table in (("first", f'[stencil]\npackage = "{package_of_first}"\n'),
                         ("second", f'[stencil]\npackage = "kit"\nsolved = ["{solved_name}"]\n')):
            (root / "solutions" / n).mkdir(parents=True)
            (root / "solutions" / n / f"{n}.ipynb").write_text("{}")
            (root / "solutions" / n / "assignment.toml").write_text(table)
        return root
    root = course()
    assert marked_files(root, "first") == ("kit", ["a.py"])
    assert marked_files(root, "second") == ("kit", ["b.py"])
    assert ownership(root, "second")[1] == {"first", None}
    dest = tmp_path / "stencil"
    make_stencil(root / "kit", dest, ownership(root, "second")[1])
    assert "return 1" in (dest / "a.py").read_text() and "BEGIN" not in (dest / "a.py").read_text()
    assert "return 2" not in (dest / "b.py").read_text()
    make_stencil(root / "kit", tmp_path / "first", ownership(root, "first")[1])
    assert "return 1" not in (tmp_path / "first" / "a.py").read_text()
    assert "return 2" not in (tmp_path / "first" / "b.py").read_text()
    with pytest.raises(BundleError, match="no assignment 'nope'"):
        ownership(course("nope"), "second")
    with pytest.raises(BundleError, match="does not complete the stencil 'kit'"):
        ownership(course("first", "other"), "second")


STENCIL_PROBE = textwrap.dedent("""
    import sys, numpy as np
    sys.path.insert(0, ".")
    import beras
    from beras.nn import conv, pooling, normalization
    assert beras.__file__.startswith(sys.argv[1]), beras.__file__
    x, w = np.ones((1, 4, 4, 2)), np.ones((3, 3, 2, 3))
    pads, s, d = ((1, 1), (1, 1)), (1, 1), (1, 1)
    calls = {
        "conv2d_forward": lambda: conv.conv2d_forward(x, w, s, pads, d),
        "conv2d_backward": lambda: conv.conv2d_backward(np.ones((1, 4, 4, 3)), x, w, s, pads, d),
        "bias_add_forward": lambda: conv.bias_add_forward(x, np.ones(2), 3),
        "bias_add_backward": lambda: conv.bias_add_backward(x, 3),
        "max_pool_forward": lambda: pooling.max_pool_forward(x, (2, 2), (2, 2), ((0, 0), (0, 0)), (2, 2)),
        "max_pool_backward": lambda: pooling.max_pool_backward(np.ones((1, 2, 2, 2)), x, np.ones((1, 2, 2, 2)),
                                                               (2, 2), (2, 2), ((0, 0), (0, 0))),
        "avg_pool_forward": lambda: pooling.avg_pool_forward(x, (2, 2), (2, 2), ((0, 0), (0, 0)), (2, 2)),
        "avg_pool_backward": lambda: pooling.avg_pool_backward(np.ones((1, 2, 2, 2)), x.shape, (2, 2), (2, 2),
                                                               ((0, 0), (0, 0))),
        "moments_forward": lambda: normalization.moments_forward(x, (0, 1, 2)),
        "moments_backward": lambda: normalization.moments_backward(x, x, x, x, (0, 1, 2)),
        "batch_norm_forward": lambda: normalization.batch_norm_forward(x, 0.0, 1.0, 0.0, 1.0, 1e-3),
        "batch_norm_backward": lambda: normalization.batch_norm_backward(x, None),
        "public conv2d": lambda: beras.nn.conv2d(x, w, 1, "SAME"),
    }
    for name, call in calls.items():
        try:
            call()
        except NotImplementedError:
            continue
        raise SystemExit(f"{name} did not raise NotImplementedError")
    # the complete parts work
    print(beras.nn.relu(beras.constant([-1.0, 2.0])).numpy().tolist(), beras.layers.Dense(3)(np.ones((2, 4))).shape)
""")


def test_stencil_imports_and_kernels_raise():
    folder = ASSIGNMENTS / "beras_cnn"
    run = subprocess.run([sys.executable, "-c", STENCIL_PROBE, str(folder / "beras")], cwd=folder, env=ENV,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "[0.0, 2.0] (2, 3)" in run.stdout


FIRST_CELL_PROBE = textwrap.dedent("""
    import json, os, sys, nbformat
    import beras                                   # the full, installed beras is imported first
    installed = beras.__file__
    os.chdir(os.path.dirname(sys.argv[1]))         # then run the first cell from the notebook's folder
    nb = nbformat.read(sys.argv[1], as_version=4)
    first = next(c for c in nb.cells if c.cell_type == "code" and "grader-namespace" in c.metadata.get("tags", []))
    ns = {}
    exec(compile(first.source, "<first cell>", "exec"), ns)
    print(json.dumps({"installed": installed, "notebook": ns["beras"].__file__,
                      "modules": sys.modules["beras.nn.conv"].__file__,
                      "tags": first.metadata.get("tags", []), "locked": first.metadata["nbgrader"]["locked"]}))
""")


def test_released_notebook_imports_the_stencil_not_the_installed_beras():
    import json
    folder = ASSIGNMENTS / "beras_cnn"
    run = subprocess.run([sys.executable, "-c", FIRST_CELL_PROBE, str(folder / "beras_cnn.ipynb")], cwd=ROOT,
                         env=ENV, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    info = json.loads(run.stdout.strip().splitlines()[-1])
    assert Path(info["installed"]).resolve().parent == (ROOT / "beras").resolve()
    assert Path(info["notebook"]).resolve().parent == (folder / "beras").resolve(), info
    assert Path(info["modules"]).resolve().parent == (folder / "beras" / "nn").resolve(), info
    assert "grader-namespace" in info["tags"] and info["locked"]
    # and the instructor's notebook (no local beras/) uses the installed beras
    run = subprocess.run([sys.executable, "-c", FIRST_CELL_PROBE, str(SOLUTIONS / "beras_cnn" / "beras_cnn.ipynb")],
                         cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    info = json.loads(run.stdout.strip().splitlines()[-1])
    assert Path(info["notebook"]).resolve().parent == (ROOT / "beras").resolve(), info


def test_unknown_assignment_is_a_clear_error(tmp_path):
    (tmp_path / "solutions").mkdir()
    with pytest.raises(ValueError, match="unknown assignment"):
        release(["nope"], root=tmp_path)


def test_grader_only_files_go_to_the_bundle_not_the_release(tmp_path):
    """hidden_tests.py and calibration.json (the reference's timings) are grader-only: in the bundle
    that release writes, never in assignments/."""
    from tests.hostile.toy import make_course
    root = Path(make_course(str(tmp_path / "course")))
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    (root / "solutions" / "toy" / "calibration.json").write_text('{"tests": {"square on a matrix": 0.1}}\n')
    release(["toy"], root=root)
    released = {p.name for p in (root / "assignments" / "toy").rglob("*")}
    assert "toy.ipynb" in released and "data.txt" in released
    assert not released & {"calibration.json", "hidden_tests.py"}
    grader = root / "build" / "grader" / "toy"
    assert {"calibration.json", "hidden_tests.py", "data.txt", "toy.ipynb"} <= {p.name for p in grader.iterdir()}
