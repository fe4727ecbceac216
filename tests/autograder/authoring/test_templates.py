"""The package's script and workflow templates (autograder/authoring/templates/, filled by
``package.render``): a placeholder without a value or a value without a placeholder is an error naming
it, and every template renders with no placeholder left."""
import os
import tomllib
from types import SimpleNamespace

import pytest

from autograder.authoring import package as pk
from autograder.errors import GraderError
from tests import ROOT


def _assignment(stencil=True):
    return SimpleNamespace(name="demo_hw", notebook="demo_hw.ipynb", has_stencil=stencil,
                           stencil="beras" if stencil else None, marked_files=["nn/ops.py"], root=str(ROOT))


def test_unknown_placeholder_is_an_error_naming_it(tmp_path, monkeypatch):
    (tmp_path / "t.sh").write_text('echo "${HOME:-x}" ${{ github.ref }} @NAME@ @MISSING_ONE@\n')
    monkeypatch.setattr(pk, "TEMPLATES", str(tmp_path))
    with pytest.raises(GraderError, match="t.sh: no value for @MISSING_ONE@"):
        pk.render("t.sh", NAME="x")
    with pytest.raises(GraderError, match="t.sh: no placeholder @EXTRA@"):
        pk.render("t.sh", NAME="x", MISSING_ONE="y", EXTRA="z")
    # one pass: bash's ${...} and GitHub's ${{ ... }} untouched, a value is never scanned again
    assert pk.render("t.sh", NAME="@MISSING_ONE@", MISSING_ONE="y") == \
        'echo "${HOME:-x}" ${{ github.ref }} @MISSING_ONE@ y\n'


def test_every_template_renders_with_no_placeholder_left(monkeypatch):
    used, render = [], pk.render

    def spy(template, **values):
        used.append(template)
        return render(template, **values)
    monkeypatch.setattr(pk, "render", spy)
    texts = [pk.setup_sh(), pk.run_autograder("demo_hw"), pk.student_workflow(_assignment()),
             pk.student_workflow(_assignment(stencil=False)), pk.instructor_workflow(_assignment(), 3)]
    assert set(used) == set(os.listdir(pk.TEMPLATES))
    for text in texts:
        assert not pk.PLACEHOLDER.search(text), pk.PLACEHOLDER.search(text)
    setup, run, student, _, instructor = texts
    assert f'--python "{pk.PYTHON_VERSION}"' in setup and f"uv {pk.UV_VERSION}" in setup
    assert "--assignment demo_hw" in run
    assert f'python-version: "{pk.PYTHON_VERSION}"' in student and '"beras/nn/ops.py"' in student
    assert instructor.count(f'python-version: "{pk.PYTHON_VERSION}"') == 2
    assert instructor.count("- name: Fetch the grader zip") == 2 and "shard: [1, 2, 3]" in instructor
    assert "${{ secrets.ROSTER_TOKEN }}" in instructor


def test_pins_come_from_pyproject():
    with open(ROOT / "pyproject.toml", "rb") as f:
        project = tomllib.load(f)["project"]
    runner = [d for d in project["dependencies"] if d.partition("==")[0] in pk.NOTEBOOK_RUNNER]
    assert len(runner) == len(pk.NOTEBOOK_RUNNER)
    assert f"-r requirements.txt {' '.join(runner)}\n" in pk.student_workflow(_assignment())
    assert f"uv=={pk.UV_VERSION}" in project["optional-dependencies"]["test"]
