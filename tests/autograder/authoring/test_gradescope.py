"""Gradescope, fully: the image's setup, run_autograder, and what students read in results.json.

- The lock (autograder/authoring/locks/requirements.txt, shipped as the zip's requirements.txt) pins every
  package, transitive ones included (uv itself with hashes), agrees with pyproject.toml's runtime pins, and
  regenerates byte for byte (uv pip compile against PyPI, cut at LOCK_EXCLUDE_NEWER); `package`
  refuses a stale lock.
- setup.sh, run in a temp dir standing for /autograder with shims on PATH that emulate Gradescope's
  base images (python3 is 3.10, pip refuses a system-wide install as under PEP 668, apt-get, uv):
  the path it takes and its messages, failing loudly at each step that can fail; once with the real
  uv making a real venv and installing a small locked set (Python 3.11 found on the machine, no
  download).
- run_autograder grades with the venv setup.sh made, and says so when it is missing.
- results.json: markdown per test (expected/got and details as code blocks), a test's training curve
  as an embedded PNG in that test's own output (so a hidden test's curve keeps its visibility and
  never reaches the top-level output), the leaderboard kept, plain text kept for tools.
"""
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from autograder.authoring import package as pk
from autograder.results import Results, TestResult, make_results, to_gradescope, to_html, to_summary_markdown
from autograder.results.render import md_escape
from autograder.errors import GraderError
from tests.hostile.toy import make_course
from tests.hostile.toy import reference_submission as toy_reference
from tests import ROOT

pytestmark = pytest.mark.slow(seconds=40)   # end to end (tests/__init__.py); seconds: its cost, measured (heaviest start first)

VENV_PY = Path(sys.executable)
BASE_311 = Path(os.path.realpath(sys.executable))     # a real CPython 3.11 (the venv's base, resolved)
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONDONTWRITEBYTECODE": "1"}


# ---------------------------------------------------------------------------------------------
# The lock
# ---------------------------------------------------------------------------------------------
def _entries(text):
    """[(name==version, [hashes])] of a requirements lock."""
    out = []
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        m = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*==\S+)", block)
        if m:
            out.append((m[1], re.findall(r"--hash=sha256:([0-9a-f]{64})", block)))
    return out


def test_lock_is_complete_and_matches_pyproject():
    text = Path(pk.LOCK_FILE).read_text()
    entries = _entries(text)
    assert len(entries) > 100                                       # TensorFlow's whole tree
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith(("#", "--hash"))]
    assert all("==" in ln for ln in lines), [ln for ln in lines if "==" not in ln]   # nothing unpinned
    assert pk.lock_mismatches(text, pk.runtime_requirements()) == []
    assert "copydetect" not in pk.lock_pins(text)                   # instructor-only: not for grading
    assert f"uv {pk.UV_VERSION}" in text.splitlines()[0] and f"Python {pk.PYTHON_VERSION}" in text.splitlines()[0]
    uv = _entries(Path(pk.UV_LOCK_FILE).read_text())
    assert len(uv) == 1 and uv[0][0] == f"uv=={pk.UV_VERSION}" and uv[0][1]
    # the uv that made the lock is the pinned one (pyproject's test extra)
    out = subprocess.run([str(VENV_PY.parent / "uv"), "--version"], capture_output=True, text=True).stdout
    assert out.split()[1] == pk.UV_VERSION


def test_a_stale_lock_is_caught(tmp_path):
    text = Path(pk.LOCK_FILE).read_text()
    pyproject = (ROOT / "pyproject.toml").read_text()
    numpy = pk.lock_pins(text)["numpy"]
    (tmp_path / "pyproject.toml").write_text(pyproject.replace(f'"numpy=={numpy}"', '"numpy==1.26.4"'))
    assert pk.lock_mismatches(text, pk.runtime_requirements(str(tmp_path))) == [f"numpy==1.26.4 (lock: {numpy})"]
    (tmp_path / "pyproject.toml").write_text(pyproject.replace(f'"numpy=={numpy}"', '"numpy>=2"'))
    with pytest.raises(GraderError, match="not pinned with =="):
        pk.runtime_requirements(str(tmp_path))


def test_package_refuses_a_stale_lock(tmp_path):
    course = make_course(str(tmp_path / "course"))
    pyproject = Path(course) / "pyproject.toml"
    text = pyproject.read_text()
    text = re.sub(r'"psutil==[^"]*"', '"psutil==0.0.1"', text)
    pyproject.write_text(text)
    with pytest.raises(GraderError, match=r"psutil==0.0.1 \(lock: .*\).*--lock"):
        pk.package("toy", str(tmp_path / "toy.zip"), root=course, log=lambda *_: None)


def test_lock_regenerates_identically(tmp_path):
    """The same pyproject pins give the same lock, byte for byte (asks PyPI): regenerating keeps every
    pin the requirements still allow, so a pyproject pin the lock does not satisfy shows here."""
    out = pk.compile_lock(pk.runtime_requirements(), str(tmp_path / "requirements.txt"), hashes=False,
                          prefer=pk.LOCK_FILE)
    assert Path(out).read_text() == Path(pk.LOCK_FILE).read_text()
    out = pk.compile_lock([f"uv=={pk.UV_VERSION}"], str(tmp_path / "uv-requirements.txt"), prefer=pk.UV_LOCK_FILE)
    assert Path(out).read_text() == Path(pk.UV_LOCK_FILE).read_text()


def test_lock_follows_a_changed_pin(tmp_path):
    """The preference is no pin: a requirement the earlier lock does not satisfy moves the lock."""
    reqs = [r for r in pk.runtime_requirements() if not r.lower().startswith("fonttools")] + ["fonttools==4.68.0"]
    first = Path(pk.compile_lock(reqs, str(tmp_path / "a.txt"), hashes=False, prefer=pk.LOCK_FILE)).read_text()
    assert "fonttools==4.68.0" in first
    reqs[-1] = "fonttools!=4.68.0"
    moved = Path(pk.compile_lock(reqs, str(tmp_path / "b.txt"), hashes=False, prefer=str(tmp_path / "a.txt"))).read_text()
    assert "fonttools==4.68.0" not in moved and "fonttools==" in moved


# ---------------------------------------------------------------------------------------------
# setup.sh, emulated
# ---------------------------------------------------------------------------------------------
FAKE_PYTHON3 = r"""#!/bin/bash
# Ubuntu's python3 (3.10); its pip refuses a system-wide install (PEP 668) but allows --target
echo "python3 $*" >> "$LOG"
if [ "$1" = "-V" ] || [ "$1" = "--version" ]; then echo "Python 3.10.12"; exit 0; fi
if [ "$1 $2" = "-m pip" ]; then
  [ -n "${NO_PIP:-}" ] && { echo "/usr/bin/python3: No module named pip" >&2; exit 1; }
  [ "$3" = "--version" ] && { echo "pip 22.0.2 from /usr/lib/python3/dist-packages/pip (python 3.10)"; exit 0; }
  target=""; prev=""
  for a in "$@"; do [ "$prev" = "--target" ] && target="$a"; prev="$a"; done
  if [ -z "$target" ]; then
    echo "error: externally-managed-environment" >&2; exit 1
  fi
  mkdir -p "$target/bin" && cp "$FAKE_UV" "$target/bin/uv" && chmod +x "$target/bin/uv"
  exit 0
fi
echo "fake python3: unexpected $*" >&2; exit 3
"""

FAKE_UV = r"""#!/bin/bash
echo "uv $*" >> "$LOG"
case "$1" in
  --version) echo "uv ${FAKE_UV_VERSION:-0.0.0}";;
  venv)
    [ -n "${UV_VENV_FAILS:-}" ] && { echo "error: No interpreter found for Python 3.11 (downloads failed)" >&2; exit 2; }
    dir="${@: -1}"; mkdir -p "$dir/bin"; printf '#!/bin/sh\nexec "%s" "$@"\n' "$REAL_PY" > "$dir/bin/python"
    chmod +x "$dir/bin/python";;
  pip)
    [ "$2" = check ] && [ -n "${UV_CHECK_FAILS:-}" ] && { echo "keras 3.15.1 requires rich, which is not installed" >&2; exit 1; }
    [ "$2" = install ] && [ -n "${UV_PIP_FAILS:-}" ] && { echo "error: no version of numpy==9" >&2; exit 2; }
    exit 0;;
esac
"""

FAKE_APT = r"""#!/bin/bash
echo "apt-get $*" >> "$LOG"
case "$*" in *python3-pip*) [ -n "${APT_PIP_FAILS:-}" ] && exit 100;; esac
exit 0
"""


def _exe(path, text):
    path.write_text(text)
    path.chmod(0o755)
    return path


def _home(tmp_path, requirements, grader=None):
    """A temp dir standing for /autograder: source/ with setup.sh, the locks and an autograder/ package."""
    home = tmp_path / "autograder"
    src = home / "source"
    src.mkdir(parents=True)
    _exe(src / "setup.sh", pk.setup_sh())
    (src / "requirements.txt").write_text(requirements)
    (src / "uv-requirements.txt").write_text(Path(pk.UV_LOCK_FILE).read_text())
    if grader is None:
        shutil.copytree(ROOT / "autograder", src / "autograder", ignore=shutil.ignore_patterns("__pycache__"))
    else:
        (src / "autograder" / "grading").mkdir(parents=True)
        (src / "autograder" / "__init__.py").write_text("")
        (src / "autograder" / "grading" / "__init__.py").write_text("")
        (src / "autograder" / "grading" / "grade.py").write_text(grader)
    return home


def _shims(tmp_path, with_uv=None):
    shims = tmp_path / "shims"
    shims.mkdir()
    fake_uv = _exe(tmp_path / "fake-uv", FAKE_UV)
    _exe(shims / "python3", FAKE_PYTHON3)
    _exe(shims / "apt-get", FAKE_APT)
    if with_uv == "fake":
        shutil.copy(fake_uv, shims / "uv")
    elif with_uv:
        os.symlink(with_uv, shims / "uv")
    return shims, fake_uv


def _run_setup(tmp_path, home, shims, fake_uv, **env):
    log = tmp_path / "calls.log"
    log.touch()
    full = {"PATH": f"{shims}:/usr/bin:/bin", "HOME": str(tmp_path), "LOG": str(log), "FAKE_UV": str(fake_uv),
            "REAL_PY": str(VENV_PY), "AUTOGRADER_HOME": str(home), "FAKE_UV_VERSION": "0.0.0", **env}
    p = subprocess.run(["bash", str(home / "source" / "setup.sh")], capture_output=True, text=True, env=full,
                       cwd=tmp_path, timeout=300)
    return p, log.read_text().splitlines()


def _pins(*names):
    """A small lock whose pins are what the project's venv has installed (the emulated venv is it)."""
    from importlib.metadata import version
    return "".join(f"{n}=={version(n)} \\\n    --hash=sha256:{'0' * 64}\n" for n in names)


def test_setup_on_a_python_310_pep668_image(tmp_path):
    home = _home(tmp_path, _pins("numpy", "psutil"))
    shims, fake_uv = _shims(tmp_path)
    p, calls = _run_setup(tmp_path, home, shims, fake_uv)
    assert p.returncode == 0, (p.stdout, p.stderr)
    pip = [c for c in calls if c.startswith("python3 -m pip install")]
    assert len(pip) == 1 and f"--target {home}/uv" in pip[0] and "--require-hashes" in pip[0]
    assert pip[0].endswith(f"-r {home}/source/uv-requirements.txt")      # never a system-wide install
    assert f"uv venv --clear --python {pk.PYTHON_VERSION} {home}/venv" in calls
    assert f"uv pip install --python {home}/venv/bin/python --no-deps -r {home}/source/requirements.txt" in calls
    assert f"uv pip check --python {home}/venv/bin/python" in calls
    assert any(c.startswith("apt-get install -y -qq util-linux mount") for c in calls)
    out = p.stdout
    assert f"installing uv {pk.UV_VERSION} (hash-checked) into {home}/uv with pip --target" in out
    assert "(the base image has Python 3.10.12)" in out
    assert "setup.sh: 2 locked packages on Python 3.11" in out
    assert f"done: run_autograder grades with {home}/venv/bin/python" in out


def test_setup_uses_the_pinned_uv_on_path(tmp_path):
    home = _home(tmp_path, _pins("numpy"))
    shims, fake_uv = _shims(tmp_path, with_uv="fake")
    p, calls = _run_setup(tmp_path, home, shims, fake_uv, FAKE_UV_VERSION=pk.UV_VERSION)
    assert p.returncode == 0, (p.stdout, p.stderr)
    assert f"using uv {pk.UV_VERSION} found on PATH ({shims}/uv)" in p.stdout
    assert not [c for c in calls if "pip install" in c and c.startswith("python3")]


def test_setup_another_uv_on_path_is_not_used(tmp_path):
    home = _home(tmp_path, _pins("numpy"))
    shims, fake_uv = _shims(tmp_path, with_uv="fake")
    p, calls = _run_setup(tmp_path, home, shims, fake_uv, FAKE_UV_VERSION="0.1.0")
    assert p.returncode == 0, (p.stdout, p.stderr)
    assert "found on PATH" not in p.stdout and any(c.startswith("python3 -m pip install") for c in calls)


@pytest.mark.parametrize("case, env, message", [
    ("no pip, apt fails", {"NO_PIP": "1", "APT_PIP_FAILS": "1"},
     "python3 has no pip and apt-get could not install python3-pip: cannot fetch uv"),
    ("no Python 3.11", {"UV_VENV_FAILS": "1"}, "uv could not provide Python 3.11 for"),
    ("install fails", {"UV_PIP_FAILS": "1"}, "uv could not install the locked requirements (requirements.txt)"),
    ("incomplete lock", {"UV_CHECK_FAILS": "1"}, "requirements.txt is not a complete set (uv pip check, above)"),
])
def test_setup_fails_loudly(tmp_path, case, env, message):
    home = _home(tmp_path, _pins("numpy"))
    shims, fake_uv = _shims(tmp_path)
    p, calls = _run_setup(tmp_path, home, shims, fake_uv, **env)
    assert p.returncode == 1, (case, p.stdout, p.stderr)
    assert f"setup.sh: ERROR: {message}" in p.stderr, p.stderr
    assert "the autograder is not installed" in p.stderr and "done:" not in p.stdout
    if "NO_PIP" in env:
        assert any("apt-get install -y -qq python3-pip" in c for c in calls)


def test_setup_no_pip_gets_it_from_apt(tmp_path):
    home = _home(tmp_path, _pins("numpy"))
    shims, fake_uv = _shims(tmp_path)
    # apt "installs" python3-pip but the fake python3 still has none: pip --target then fails, loudly
    p, calls = _run_setup(tmp_path, home, shims, fake_uv, NO_PIP="1")
    assert "python3 has no pip: installing python3-pip with apt-get" in p.stdout
    assert p.returncode == 1 and "pip could not install uv" in p.stderr


def test_setup_checks_the_venv_against_the_lock(tmp_path):
    home = _home(tmp_path, _pins("numpy") + "psutil==0.0.1 \\\n    --hash=sha256:" + "1" * 64 + "\n")
    shims, fake_uv = _shims(tmp_path)
    p, _ = _run_setup(tmp_path, home, shims, fake_uv)
    from importlib.metadata import version
    assert p.returncode == 1
    assert f"not as locked: psutil==0.0.1 (installed: {version('psutil')})" in p.stderr
    assert "the venv does not match requirements.txt" in p.stderr


def test_setup_with_the_real_uv(tmp_path):
    """The real uv on the emulated image: finds a CPython 3.11 (no download), makes the venv,
    installs a small locked set from PyPI, and setup.sh's checks (uv pip check included) pass."""
    lock = pk.compile_lock(["six==1.17.0"], str(tmp_path / "small.txt"), hashes=False)
    home = _home(tmp_path, Path(lock).read_text(), grader="import six\n")
    shims, fake_uv = _shims(tmp_path, with_uv=str(VENV_PY.parent / "uv"))
    os.symlink(BASE_311, shims / f"python{pk.PYTHON_VERSION}")
    tls = {k: v for k, v in os.environ.items() if k in ("SSL_CERT_FILE", "SSL_CERT_DIR")}   # this machine's CAs
    p, calls = _run_setup(tmp_path, home, shims, fake_uv, FAKE_UV_VERSION=pk.UV_VERSION,
                          UV_PYTHON_DOWNLOADS="never", UV_NO_CONFIG="1", **tls)
    assert p.returncode == 0, (p.stdout, p.stderr)
    assert f"using uv {pk.UV_VERSION} found on PATH" in p.stdout
    assert "setup.sh: 1 locked packages on Python 3.11" in p.stdout
    py = home / "venv" / "bin" / "python"
    out = subprocess.run([str(py), "-c", "import six, sys; print(six.__version__, sys.prefix)"],
                         capture_output=True, text=True, check=True).stdout.split()
    assert out == ["1.17.0", str(home / "venv")]


# ---------------------------------------------------------------------------------------------
# run_autograder, emulated (its /autograder paths moved into a temp dir)
# ---------------------------------------------------------------------------------------------
def _run_autograder(tmp_path, zpath, venv_python=None, submission=None):
    home = tmp_path / "ag"
    with zipfile.ZipFile(zpath) as z:
        z.extractall(home / "source")
        script = z.read("run_autograder").decode().replace("/autograder", str(home))
    if venv_python:
        (home / "venv" / "bin").mkdir(parents=True)
        _exe(home / "venv" / "bin" / "python", f'#!/bin/sh\nexec "{venv_python}" "$@"\n')
    if submission:
        shutil.copytree(submission, home / "submission")
    _exe(home / "run_autograder", script)
    p = subprocess.run([str(home / "run_autograder")], capture_output=True, text=True, env=ENV, timeout=900)
    assert p.returncode == 0, p.stderr[-2000:]
    return json.loads((home / "results" / "results.json").read_text()), p


@pytest.fixture(scope="module")
def toy_zip(tmp_path_factory):
    base = tmp_path_factory.mktemp("toy")
    course = make_course(str(base / "course"))
    zpath, _, _ = pk.package("toy", str(base / "toy.zip"), root=course, log=lambda *_: None)
    return dict(course=course, zip=zpath, base=base)


def test_zip_ships_the_locks_and_the_venv_scripts(toy_zip):
    with zipfile.ZipFile(toy_zip["zip"]) as z:
        assert z.read("requirements.txt").decode() == Path(pk.LOCK_FILE).read_text()
        assert z.read("uv-requirements.txt").decode() == Path(pk.UV_LOCK_FILE).read_text()
        assert z.read("setup.sh").decode() == pk.setup_sh() and "@UV@" not in pk.setup_sh()
        assert not [n for n in z.namelist() if n.startswith("autograder/authoring/locks/")]
        assert 'PY=/autograder/venv/bin/python' in z.read("run_autograder").decode()
        # the lock adds little to a zip (no wheel hashes): under 4 KB compressed
        assert z.getinfo("requirements.txt").compress_size < 4096


def test_run_autograder_without_setup_says_so(tmp_path, toy_zip):
    res, p = _run_autograder(tmp_path, toy_zip["zip"])
    assert res["score"] == 0 and res["tests"] == []
    assert "setup.sh did not complete" in res["output"] and "setup.sh did not complete" in p.stderr


def test_run_autograder_grades_with_the_venv(tmp_path, toy_zip):
    """A student's wrong square() graded through run_autograder: markdown messages with expected/got."""
    import nbformat
    sub = toy_reference(toy_zip["course"], str(tmp_path / "sub"))
    nb = nbformat.read(f"{sub}/toy.ipynb", as_version=4)
    for c in nb.cells:
        if c.source.startswith("def square"):
            c.source = "def square(x):\n    return x + x"
    nbformat.write(nb, f"{sub}/toy.ipynb")
    res, _ = _run_autograder(tmp_path, toy_zip["zip"], venv_python=str(VENV_PY), submission=sub)
    tests = {t["name"]: t for t in res["tests"]}
    assert res["output_format"] == "md" and all(t["output_format"] == "md" for t in res["tests"])
    square = tests["notebook: test_square"]
    assert square["score"] == 0
    assert square["output"] == ("AssertionError: square(3): expected 9, got 6\n\n"
                                "```\nexpected: 9\ngot:      6\n```")
    assert square["extra_data"]["text"] == "AssertionError: square(3): expected 9, got 6"
    assert tests["notebook: test_cube"]["output"] == "passed"
    assert res["output"].splitlines()[0].startswith("Assignment toy: 3 / 5 points from the tests shown now")


# ---------------------------------------------------------------------------------------------
# What students read: results.json in Gradescope's formats
# ---------------------------------------------------------------------------------------------
def _results():
    return {"score": 9.0, "output": "Assignment a: 1 / 2 points from the tests shown now; 1 hidden test(s) worth "
                                    "8 points are shown after the due date.\nProfile: smoke. Sandbox: uid.",
            "tests": [{"name": "visible one", "score": 1.0, "max_score": 2.0, "status": "failed",
                       "visibility": "visible", "extra_data": {"grade_id": "v"},
                       "output": "AssertionError: \nNot equal\n ACTUAL: array([3., 6.])\n DESIRED: array([2., 4.])"},
                      {"name": "training check", "score": 8.0, "max_score": 8.0, "status": "passed",
                       "visibility": "after_due_date", "extra_data": {"grade_id": ""},
                       "output": "smoke profile: ResNet-8 reached 61.0% test accuracy after 3 epochs"}],
            "leaderboard": [{"name": "test accuracy", "value": 0.61}],
            "extra_data": {"assignment": "a", "max_score": 10}}


CURVES = {"training check: accuracy": [0.3, 0.5, 0.61], "training check: val_accuracy": [0.28, 0.47, 0.6]}


def _made(res, curves=None, notes=None):
    """``res`` (results.json-like, plain-text outputs) as the Results the grader would make."""
    r = Results.from_json(res)
    return make_results(r.score, r.tests, r.output_text.splitlines() if notes is None else notes, r.extra_data,
                        r.leaderboard, curves=curves)


def test_hidden_curve_stays_with_its_test():
    res = to_gradescope(_made(_results(), CURVES, notes=["Assignment a: 1 / 2 points ...", "two\nlines"]))
    hidden, visible = res["tests"][1], res["tests"][0]
    m = re.search(r"!\[Training curve\]\(data:image/png;base64,([A-Za-z0-9+/=]+)\)", hidden["output"])
    assert m and base64.b64decode(m[1]).startswith(b"\x89PNG\r\n\x1a\n")
    assert "| epoch | accuracy | val_accuracy |" in hidden["output"] and "| 3 | 0.61 | 0.6 |" in hidden["output"]
    assert hidden["visibility"] == "after_due_date"
    assert "data:image" not in res["output"] and "data:image" not in visible["output"]   # nothing of it before
    assert "accuracy" not in res["output"]
    assert res["output"] == "Assignment a: 1 / 2 points ...\n\ntwo\n\n```\nlines\n```"
    assert res["output_format"] == "md" and res["leaderboard"] == [{"name": "test accuracy", "value": 0.61}]
    assert visible["output"] == ("AssertionError: \n\n```\nNot equal\n ACTUAL: array([3., 6.])\n"
                                 " DESIRED: array([2., 4.])\n```")
    assert res["extra_data"]["output_text"].startswith("Assignment a: 1 / 2")
    assert visible["extra_data"]["text"].startswith("AssertionError: \nNot equal")


def test_total_takes_the_hidden_tests_visibility():
    """The top-level score sums every test (the grade of record): while a test is not shown, the whole result
    takes the most restrictive hidden visibility and each visible test says "visible" (Gradescope: a test's
    own visibility overrides the top level), so the total never tells a hidden result early."""
    res = to_gradescope(_made(_results()))
    assert res["score"] == 9.0 and res["visibility"] == "after_due_date"
    assert [t["visibility"] for t in res["tests"]] == ["visible", "after_due_date"]
    data = _results()
    data["tests"].append({**data["tests"][1], "name": "never", "visibility": "hidden"})
    assert to_gradescope(_made(data))["visibility"] == "hidden"
    data["tests"] = data["tests"][:1]
    assert to_gradescope(_made(data))["visibility"] == "visible"


def test_markdown_escapes_only_what_markdown_would_act_on():
    assert md_escape("ops.py -> beras/ops.py (network_closed)") == "ops.py -> beras/ops.py (network_closed)"
    assert md_escape("__init__.py *x* [a] <b> `c`") == "\\_\\_init\\_\\_.py \\*x\\* \\[a\\] \\<b> \\`c\\`"
    assert md_escape("# h") == "\\# h" and md_escape("3. y") == "3\\. y" and md_escape("- x") == "\\- x"
    res = to_gradescope(make_results(0.0, [TestResult("t", "1", "a\n```\nb", 0.0, 1.0)], [], {}))
    assert res["tests"][0]["output"] == "a\n\n````\n```\nb\n````"        # a fence the text cannot close


def test_feedback_html_shows_plain_text_and_every_curve():
    page = to_html(_made(_results(), CURVES))
    assert "```" not in page and "ACTUAL: array([3., 6.])" in page and "data:image/png;base64," in page
    assert "Profile: smoke. Sandbox: uid." in page


def test_ci_summary_reads_the_plain_text():
    made = _made(_results(), CURVES)
    text = to_summary_markdown(to_gradescope(made))      # as `autograder summary` reads results.json
    assert text == to_summary_markdown(made)
    assert "data:image" not in text and "```\nAssignment a: 1 / 2" in text
    assert "| visible one | 1 / 2 | AssertionError:  Not equal  ACTUAL" in text
