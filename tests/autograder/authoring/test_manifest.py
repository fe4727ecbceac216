"""An assignment is data: solutions/NAME/assignment.toml drives release, grading, packaging and the demo.

- no code of the toolkit names an assignment (a grep over autograder/ and the Makefile);
- a manifest with an unknown key, visibility or profile says what is valid;
- the profile `auto` picks comes from the manifest (an assignment without a full profile never trains
  on a GPU recipe; one that needs CIFAR-10 says it is missing);
- a flattened (Gradescope multi-file) upload of the stencil files is put back in place.
"""
import os
import re

import pytest

from autograder.grading.grade import grade, profile_limits, resolve_profile
from autograder.authoring.manifest import ManifestError, check_published, parse
from autograder.isolation.sandbox import Limits
from autograder.authoring.spec import find_assignment
from autograder.errors import GraderError
from autograder.policy import DEFAULT_FORBIDDEN
from tests.hostile import cases
from tests.hostile.toy import BERAS_OPS, make_course
from tests import ROOT



def test_no_code_names_an_assignment():
    names = sorted(p.name for p in (ROOT / "solutions").iterdir() if (p / "assignment.toml").is_file())
    assert len(names) >= 2
    files = sorted((ROOT / "autograder").rglob("*.py")) + [ROOT / "Makefile"]
    found = [f"{f.relative_to(ROOT)}:{i}: {line.strip()}" for f in files
             for i, line in enumerate(f.read_text().splitlines(), 1)
             for n in names if re.search(rf"\b{n}\b", line)]
    assert not found, "\n".join(found)


def test_every_assignment_has_a_manifest():
    for p in (ROOT / "solutions").iterdir():
        if (p / f"{p.name}.ipynb").is_file():
            m = find_assignment(p.name).manifest
            assert m.title and "smoke" in m.profiles and m.visibility == "after_due_date"


def test_real_manifests():
    beras, arch = find_assignment("beras_cnn").manifest, find_assignment("cnn_architectures").manifest
    assert beras.stencil == "beras" and beras.forbidden == DEFAULT_FORBIDDEN and "full" not in beras.profiles
    assert arch.stencil is None and arch.profiles["full"].gpu and arch.profiles["full"].data == ("cifar10",)
    assert arch.profiles["full"].limits["memory_mb"] == 0


@pytest.mark.parametrize("text, message", [
    ("titel = 'x'", "unknown key(s) titel; valid keys: demo, demo_cost, hidden, profiles, publishes, requirements, "
                    "stencil, title"),
    ("publishes = 'a1'", "`publishes` must be a list of assignment names, got 'a1'"),
    ("publishes = ['x']", "`publishes` lists 'x' itself"),
    ("[hidden]\nvisibility = 'later'", "unknown visibility 'later'; valid: hidden, after_due_date"),
    ("[stencil]\nforbidden = ['torch']", "`package` (the folder of the course root students complete) is missing"),
    ("[profiles.smoke]\ncell_timout = 3", "unknown key(s) cell_timout; valid keys: call_timeout, cell_timeout"),
    ("title = ", "not valid TOML"),
    ("[stencil]\npackage = 'p'\nforbidden = ['tensorflow', 'pytorch', 'flax']",
     "unknown framework(s) flax, pytorch in `forbidden`; valid: tensorflow, keras, tf_keras, torch, jax, jaxlib"),
    ("[stencil]\npackage = 'p'\nforbidden = 'torch'", "`forbidden` must be a list of framework names"),
])
def test_bad_manifest_says_what_is_valid(text, message):
    with pytest.raises(ManifestError, match=re.escape(message)):
        parse("x", text)


def test_published_assignments_are_checked_and_announced():
    """`publishes` (and `[stencil] solved`) must name other assignments of the course (the error lists them);
    a release whose given code holds another assignment's answers tells the instructor, in its README, to
    publish it only after that due date."""
    m = parse("later", "publishes = ['first', 'frist']")
    assert m.published == ("first", "frist")
    with pytest.raises(ManifestError, match=re.escape("publishes names 'frist', which is not another assignment "
                                                      "of this course; valid assignment names: first, other")):
        check_published(m, ["first", "later", "other"])
    check_published(parse("later", "publishes = ['first']"), ["first", "later"])
    td = find_assignment("training_deep_cnns").manifest
    assert td.published == ("cnn_architectures", "beras_cnn")
    readme = (ROOT / "assignments" / "training_deep_cnns" / "README.md").read_text()
    assert "publish this release only after the due date of `cnn_architectures`, `beras_cnn`" in readme
    assert "publish this release" not in (ROOT / "assignments" / "cnn_architectures" / "README.md").read_text()


def test_profiles_come_from_the_manifest(monkeypatch):
    monkeypatch.setenv("TFDS_DATA_DIR", "/nonexistent")
    beras, arch = find_assignment("beras_cnn").manifest, find_assignment("cnn_architectures").manifest
    assert resolve_profile("auto", beras) == ("smoke", "smoke (auto: the assignment has no full profile)")
    with pytest.raises(GraderError, match="unknown profile 'full'; valid profiles: auto, smoke"):
        resolve_profile("full", beras)
    prof, why = resolve_profile("auto", arch)
    assert prof == "smoke" and "cifar10 not found in TFDS_DATA_DIR" in why
    assert resolve_profile("full", arch)[0] == "full"
    lim = profile_limits(find_assignment("cnn_architectures"), "full", {"cell_timeout": 7})
    assert isinstance(lim, Limits) and lim.cell_timeout == 7 and lim.memory_mb == 0 and lim.total_timeout == 14400


@pytest.mark.slow
def test_flattened_upload_is_put_back(tmp_path):
    course = make_course(str(tmp_path / "course"))
    sub = cases._edit(os.path.join(course, "assignments", "toy"), str(tmp_path / "flat"),
                      {"square": cases.SQUARE_OK, "cube": cases.CUBE_OK})
    import shutil
    shutil.rmtree(os.path.join(sub, "beras"))
    with open(os.path.join(sub, "ops.py"), "w") as f:      # Gradescope flattened beras/ops.py
        f.write(BERAS_OPS)
    res = grade(sub, "toy", str(tmp_path / "out"), "smoke",
                Limits(cell_timeout=30, call_timeout=30, total_timeout=200, memory_mb=3000), root=course)
    assert res["score"] == 10, [(t["name"], t["output"]) for t in res["tests"]]
    assert "ops.py -> beras/ops.py" in res["output"]


# ---------------------------------------------------------------------------------------------
# One trust policy (autograder/policy.py): one table of frameworks, one default list
# ---------------------------------------------------------------------------------------------
def test_forbidden_defaults_to_the_one_list(tmp_path):
    from autograder.authoring.manifest import Manifest
    from autograder.authoring.scaffold import new
    from autograder.policy import DEFAULT_FORBIDDEN, FRAMEWORKS
    assert DEFAULT_FORBIDDEN == tuple(FRAMEWORKS) and {"tensorflow", "keras", "tf_keras", "torch", "jax"} <= set(FRAMEWORKS)
    assert parse("x", "[stencil]\npackage = 'p'").forbidden == DEFAULT_FORBIDDEN == Manifest("x").forbidden
    assert parse("x", "[stencil]\npackage = 'p'\nforbidden = ['torch']").forbidden == ("torch",)
    assert parse("x", "[stencil]\npackage = 'p'\nforbidden = []").forbidden == ()
    new("hello", str(tmp_path), stencil="kit")      # `autograder new`: the default, spelled out
    with open(tmp_path / "solutions" / "hello" / "assignment.toml") as f:
        text = f.read()
    assert f"forbidden = [{', '.join(repr(m).replace(chr(39), chr(34)) for m in DEFAULT_FORBIDDEN)}]" in text
    assert parse("hello", text).forbidden == DEFAULT_FORBIDDEN


def test_one_home_for_the_framework_list():
    """No module but autograder/policy.py spells out a framework list: no literal list, tuple, set or dict
    keys made of framework names only (two or more), and no native-library pattern."""
    import ast
    from autograder.policy import FRAMEWORKS
    natives = ("_pywrap_tensorflow", "libtorch", "/jaxlib/")
    found = []
    for f in sorted((ROOT / "autograder").rglob("*.py")):
        if f == ROOT / "autograder" / "policy.py":
            continue
        text = f.read_text()
        for node in ast.walk(ast.parse(text)):
            items = node.keys if isinstance(node, ast.Dict) else \
                node.elts if isinstance(node, (ast.List, ast.Tuple, ast.Set)) else []
            names = [i.value for i in items if isinstance(i, ast.Constant) and i.value in FRAMEWORKS]
            if len(names) >= 2 and len(names) == len(items):
                found.append(f"{f.relative_to(ROOT)}:{node.lineno}: {names}")
        found += [f"{f.relative_to(ROOT)}: {n}" for n in natives if n in text]
    assert not found, "\n".join(found)
