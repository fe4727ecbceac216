"""The rules the grader applies are the rules the released notebooks state (autograder/authoring/rules.py).

For every assignment whose hidden tests define ``RULES``: each ``{{rule:KEY[:SPEC]}}`` placeholder of the source
notebook's markdown is located in the *released* notebook (the same cell, the text around it as anchors), the
value stated there is read back and compared with the value the hidden tests' module (imported, as the grader
imports it) holds; every top-level rule is stated somewhere; and the code cells that restate a rule (beras_cnn's
training cell and its visible tests) are parsed for their numbers. A constant changed without a re-release, a
rule dropped from the text, or a code cell that drifted fails here.
"""
import importlib.util
import re

import nbformat
import pytest

from autograder.authoring import rules
from tests import ROOT

NAMES = sorted(p.parent.name for p in (ROOT / "solutions").glob("*/hidden_tests.py") if rules.load(p.parent))

# Code cells that restate a rule: (cell id, pattern whose groups are the stated numbers, the rule keys they state)
CODE_STATEMENTS = {
    "beras_cnn": [
        ("train", r"set_random_seed\((\d+)\)\s*\n.*\n.*\n.*fit\(x_train, y_train, batch_size=(\d+), epochs=(\d+)",
         ("train_seed", "train_batch_size", "train_epochs")),
        ("test_training", r"assert accuracy >= ([0-9.]+),", ("min_test_accuracy",)),
        ("test_overfit", r"batch_size=20, epochs=(\d+),", ("overfit_steps",)),
        ("test_overfit", r"assert tiny_loss < ([0-9.]+),", ("overfit_loss",)),
    ],
}


def hidden_rules(name):
    """RULES as the grader sees it: the hidden tests' module, imported."""
    path = ROOT / "solutions" / name / "hidden_tests.py"
    spec = importlib.util.spec_from_file_location(f"hidden_tests_rules_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.RULES


def cells(path):
    return {c.get("id"): c for c in nbformat.read(str(path), as_version=4).cells}


def stated(source, released):
    """[(key, spec, text the released cell states in the placeholder's place)] for one markdown cell."""
    found = list(rules.PLACEHOLDER.finditer(source))
    anchors = rules.PLACEHOLDER.split(source)[::3]       # the literal text between placeholders
    pattern = "(.+?)".join(re.escape(a) for a in anchors)
    match = re.fullmatch(pattern, released, flags=re.S)
    assert match, f"the released cell does not read as its source with the placeholders filled:\n{released}"
    return [(m.group(1), m.group(2), match.group(i + 1)) for i, m in enumerate(found)]


def test_there_are_rules():
    assert set(NAMES) >= {"beras_cnn", "cnn_architectures", "training_deep_cnns"}


@pytest.mark.parametrize("name", NAMES)
def test_released_notebook_states_the_hidden_tests_rules(name):
    values = hidden_rules(name)
    assert values == rules.load(ROOT / "solutions" / name), "the release reads RULES as the module holds it"
    source = cells(ROOT / "solutions" / name / f"{name}.ipynb")
    released = cells(ROOT / "assignments" / name / f"{name}.ipynb")
    used = set()
    for cid, cell in source.items():
        if "{{rule:" not in cell.source:
            continue
        assert cell.cell_type == "markdown", f"{name}: cell {cid}: placeholders belong in markdown"
        assert "{{rule:" not in released[cid].source, f"{name}: cell {cid} released with a placeholder"
        for key, spec, text in stated(cell.source, released[cid].source):
            want = rules.render(rules.lookup(values, key), spec)
            assert text == want, f"{name}: cell {cid} states {key!r} as {text!r}; the hidden tests apply {want!r}"
            used.add(key.split(".")[0])
    assert used == set(values), f"{name}: rules the notebook never states: {sorted(set(values) - used)}"


@pytest.mark.parametrize("name", sorted(CODE_STATEMENTS))
def test_code_cells_restate_the_rules(name):
    values = hidden_rules(name)
    released = cells(ROOT / "assignments" / name / f"{name}.ipynb")
    for cid, pattern, keys in CODE_STATEMENTS[name]:
        match = re.search(pattern, released[cid].source)
        assert match, f"{name}: cell {cid} no longer states {keys} as {pattern!r}"
        for key, text in zip(keys, match.groups()):
            assert float(text) == float(values[key]), f"{name}: cell {cid} states {key} = {text}, the grader {values[key]}"


def test_fill_renders_and_refuses_unknown_rules():
    values = {"epochs": 6, "bar": 0.975, "points": [(0.9, 1.0), (0.8, 0.75)], "runs": {"sd": [(8, 16), None]}}
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(
        "{{rule:epochs}} epochs, ≥ {{rule:bar:.1%}}; {{rule:points:points}}; widths {{rule:runs.sd.0}}")])
    assert rules.fill(nb, values).cells[0].source == \
        "6 epochs, ≥ 97.5%; ≥ 90%: all the points, ≥ 80%: 75%; widths (8, 16)"
    for bad in ("{{rule:epoch}}", "{{rule:runs.sd.2}}", "{{rule:runs.cnn.0}}", "{{rule:bar:points}}"):
        with pytest.raises(rules.RuleError):
            rules.fill(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(bad)]), values)
    with pytest.raises(rules.RuleError, match="markdown"):
        rules.fill(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("# {{rule:epochs}}")]), values)
