"""The autograder's architecture (autograder/README.md, "Architecture"): its modules live in rooms stacked in
layers; a module imports only from its own room and the rooms below, and no import cycle exists.

The import graph is read from the source with ``ast`` (nothing is imported): absolute and relative
imports, at module level and inside functions. ``from P import name`` is an edge to ``P.name`` when that
is a module, else to ``P``. Importing ``a.b.c`` also runs ``a/__init__.py`` and ``a/b/__init__.py``;
those implicit edges are not counted (a package's ``__init__`` sits in the same room or lower, and a
package re-exporting its own submodules is not a cycle).
"""
from __future__ import annotations

import ast
import os
import re
from pathlib import Path
from tests import ROOT


# The layer rule, lowest first (the same table as autograder/README.md). A room is a package (every module
# under it) or a list of top-level modules. A module may import its own room and the rooms above it in
# this list, never one below it.
LAYERS = [
    ("basics", ["autograder", "autograder.hidden", "autograder.wire", "autograder.calls", "autograder.errors",
                "autograder.paths", "autograder.policy"]),
    ("isolation", ["autograder.isolation.*"]),
    ("results", ["autograder.results.*"]),
    ("authoring", ["autograder.authoring.*"]),
    ("grading", ["autograder.grading.*"]),
    ("cli", ["autograder.__main__", "autograder.demo"]),
]
# Sent as source into the sandbox's worker (grading/student.py), where the package is not importable.
SELF_CONTAINED = ["autograder.wire", "autograder.calls", "autograder.isolation.worker"]


# ---------------------------------------------------------------------------------------------
# The checker
# ---------------------------------------------------------------------------------------------
def modules(base, package):
    """{dotted module name: file} of every .py file of ``package`` under the folder ``base``."""
    out = {}
    for path in sorted((Path(base) / package).rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        parts = list(path.relative_to(base).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _resolve(name, known):
    """The longest prefix of the dotted ``name`` that is a known module (or None)."""
    parts = name.split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in known:
            return ".".join(parts[:n])
    return None


def imports(mod, path, known, top=None):
    """([(imported module, line)], [(missing module, line)]) of ``mod`` (a file at ``path``): the edges to
    ``known`` modules, and the imports of a module of the same top-level package that does not exist."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    is_package = path.name == "__init__.py"
    top = top or mod.split(".")[0]
    out, missing = [], []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
            targets = [_resolve(n, known) for n in names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                pkg = mod.split(".") if is_package else mod.split(".")[:-1]
                pkg = pkg[:len(pkg) - (node.level - 1)]
                base = ".".join(pkg + ([node.module] if node.module else []))
            else:
                base = node.module
            names = [base]
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else _resolve(base, known)
                       for a in node.names]
        else:
            continue
        missing += [(n, node.lineno) for n in names if n.split(".")[0] == top and n not in known]
        out += [(t, node.lineno) for t in targets if t is not None and t != mod]
    return out, missing


def bound_names(path):
    """The names a module binds at its top level (defs, classes, assignments, imports, also inside
    if / try / with / for blocks) and those its functions declare ``global``."""
    names = set()

    def targets(node):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, (ast.Tuple, ast.List)):
            for e in node.elts:
                targets(e)
        elif isinstance(node, ast.Starred):
            targets(node.value)

    def walk(body):
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Assign):
                for tgt in node.targets:
                    targets(tgt)
            elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
                targets(node.target)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names.update((a.asname or a.name).split(".")[0] for a in node.names)
            for field in ("body", "orelse", "finalbody", "handlers"):
                if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    walk(getattr(node, field, []) or [])

    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    walk(tree.body)
    names.update(n for node in ast.walk(tree) if isinstance(node, ast.Global) for n in node.names)
    return names


def unknown_names(mod, path, files, top=None):
    """[(module.name, line)]: names ``mod`` takes from a module of the package (``from M import name``, or
    ``alias.name`` after ``import M as alias`` / ``from P import M as alias``) that M neither binds nor has
    as a submodule."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    is_package = path.name == "__init__.py"
    top = top or mod.split(".")[0]
    bound, aliases, out = {}, {}, []

    def has(target, name):
        if target not in bound:
            bound[target] = bound_names(files[target])
        return name in bound[target] or f"{target}.{name}" in files or name.startswith("__")   # __file__, ...

    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                pkg = mod.split(".") if is_package else mod.split(".")[:-1]
                base = ".".join(pkg[:len(pkg) - (node.level - 1)] + ([node.module] if node.module else []))
            else:
                base = node.module
            if base in files and base.split(".")[0] == top:
                for a in node.names:
                    if f"{base}.{a.name}" in files:
                        aliases[a.asname or a.name] = f"{base}.{a.name}"
                    elif a.name != "*" and not has(base, a.name):
                        out.append((f"{base}.{a.name}", node.lineno))
        elif isinstance(node, ast.Import):
            aliases.update({a.asname: a.name for a in node.names if a.asname and a.name in files})
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
            target = aliases[node.value.id]
            if not has(target, node.attr):
                out.append((f"{target}.{node.attr}", node.lineno))
    return out


def room_of(mod, layers):
    """(index, name) of the room of ``mod`` in ``layers``, or None when no room holds it."""
    for i, (room, members) in enumerate(layers):
        for m in members:
            if mod == m or (m.endswith(".*") and (mod == m[:-2] or mod.startswith(m[:-1]))):
                return i, room
    return None


def graph(base, package):
    """{module: [(imported module, line)]} of ``package``, and {module: file}."""
    files = modules(base, package)
    return {m: imports(m, p, files)[0] for m, p in files.items()}, files


def cycles(edges):
    """The import cycles of ``edges`` ({module: [(module, line)]}): one [m1, m2, ..., m1] per strongly
    connected component of more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w, _ in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(_cycle_path(sorted(comp), edges))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def _cycle_path(comp, edges):
    """A closed path through the component, from its first module, each step ``a (line n) -> b``."""
    inside, start = set(comp), comp[0]
    path, seen, v = [start], {start}, start
    while True:
        w, line = next((w, line) for w, line in sorted(edges[v]) if w in inside and (w == start or w not in seen))
        path[-1] = f"{path[-1]} (line {line})"
        path.append(w)
        if w == start:
            return path
        seen.add(w)
        v = w


def problems(base, package, layers, self_contained=()):
    """Every violation of the architecture of ``package`` (a folder under ``base``), as readable lines."""
    edges, files = graph(base, package)
    out = []
    for mod in sorted(files):
        if room_of(mod, layers) is None:
            out.append(f"{files[mod]}: module {mod} is in no room (add it to the layer table)")
        for name, line in imports(mod, files[mod], files)[1]:
            out.append(f"{files[mod]}:{line}: {mod} imports {name}, which does not exist")
        for name, line in unknown_names(mod, files[mod], files):
            out.append(f"{files[mod]}:{line}: {mod} uses {name}, which does not exist")
    for mod, targets in sorted(edges.items()):
        mine = room_of(mod, layers)
        for target, line in targets:
            theirs = room_of(target, layers)
            if mine and theirs and theirs[0] > mine[0]:
                out.append(f"{files[mod]}:{line}: {mod} ({mine[1]}) imports {target} ({theirs[1]}), a higher room")
            if mod in self_contained:
                out.append(f"{files[mod]}:{line}: {mod} is sent into the sandbox as source but imports {target}")
    for cycle in cycles(edges):
        out.append("import cycle: " + " -> ".join(cycle))
    return out


# ---------------------------------------------------------------------------------------------
# The autograder
# ---------------------------------------------------------------------------------------------
def test_the_autograder_keeps_its_layers_and_has_no_import_cycle():
    assert problems(ROOT, "autograder", LAYERS, SELF_CONTAINED) == []


def test_the_graph_sees_every_kind_of_import():
    """The real graph holds module-level, function-level, relative and absolute edges (so an empty
    problem list above is not an empty graph)."""
    edges, _ = graph(ROOT, "autograder")
    flat = {(m, t) for m, ts in edges.items() for t, _ in ts}
    assert ("autograder.authoring.bundle", "autograder.authoring.regions") in flat          # from .regions import
    assert ("autograder.authoring.release", "autograder.authoring.bundle") in flat           # from . import bundle, in a function
    assert ("autograder.grading.grade", "autograder.results") in flat                        # from ..results import, in a function
    assert ("autograder.grading.grade", "autograder.grading.submission") in flat             # from . import submission as subm
    assert ("autograder.__main__", "autograder.grading.grade") in flat
    assert ("autograder.authoring.bundle", "autograder.authoring.release") not in flat       # the old cycle


def test_the_tests_benchmarks_and_hidden_tests_import_only_modules_that_exist():
    """Their imports of ``autograder.*`` (inside test functions too, which collection does not import)."""
    known = modules(ROOT, "autograder")
    files = [*ROOT.glob("tests/**/*.py"), *ROOT.glob("benchmarks/**/*.py"), *ROOT.glob("solutions/*/*.py")]
    stale = [f"{p.relative_to(ROOT)}:{line}: {name}" for p in files
             for name, line in [*imports("tests.x", p, known, top="autograder")[1],
                                *unknown_names("tests.x", p, known, top="autograder")]]
    assert len(files) > 40 and stale == []


def test_the_readme_states_the_same_layers():
    """autograder/README.md's Architecture table lists the rooms in this order."""
    text = (ROOT / "autograder" / "README.md").read_text()
    section = text.split("## Architecture", 1)[1].split("\n## ", 1)[0]
    rows = [r.split("|")[2].strip(" `*") for r in section.splitlines() if re.match(r"\|\s*\d+\s*\|", r)]
    assert rows == [room for room, _ in LAYERS]


# ---------------------------------------------------------------------------------------------
# The checker on planted violations
# ---------------------------------------------------------------------------------------------
FAKE_LAYERS = [("basics", ["fake", "fake.base"]), ("low", ["fake.low.*"]), ("high", ["fake.high.*"])]


def _write(base, files):
    for rel, text in files.items():
        p = base / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)


def test_the_checker_passes_a_clean_package(tmp_path):
    _write(tmp_path, {"fake/__init__.py": "", "fake/base.py": "import os\n",
                      "fake/low/__init__.py": "from .a import f  # noqa\n",
                      "fake/low/a.py": "from ..base import os\ndef f():\n    from fake import base\n",
                      "fake/high/__init__.py": "", "fake/high/b.py": "from ..low import a\nfrom fake.low.a import f\n"})
    assert problems(tmp_path, "fake", FAKE_LAYERS) == []


def test_the_checker_names_an_upward_import_inside_a_function(tmp_path):
    _write(tmp_path, {"fake/__init__.py": "", "fake/base.py": "",
                      "fake/low/__init__.py": "", "fake/low/a.py": "import os\n\n\ndef f():\n    from ..high import b\n",
                      "fake/high/__init__.py": "", "fake/high/b.py": "X = 1\n"})
    found = problems(tmp_path, "fake", FAKE_LAYERS)
    assert len(found) == 1
    assert found[0].endswith("a.py:5: fake.low.a (low) imports fake.high.b (high), a higher room")


def test_the_checker_names_an_absolute_upward_import_and_basics_importing_a_room(tmp_path):
    _write(tmp_path, {"fake/__init__.py": "", "fake/base.py": "import fake.low.a\n",
                      "fake/low/__init__.py": "", "fake/low/a.py": "from fake.high import b as _\n",
                      "fake/high/__init__.py": "", "fake/high/b.py": ""})
    found = problems(tmp_path, "fake", FAKE_LAYERS)
    assert [f.split(": ", 1)[1] for f in found] == ["fake.base (basics) imports fake.low.a (low), a higher room",
                                                    "fake.low.a (low) imports fake.high.b (high), a higher room"]
    assert found[0].split(": ")[0].endswith("base.py:1")


def test_the_checker_finds_a_cycle_through_a_function_level_import(tmp_path):
    _write(tmp_path, {"fake/__init__.py": "", "fake/base.py": "",
                      "fake/high/__init__.py": "",
                      "fake/high/c.py": "from . import d\n",
                      "fake/high/d.py": "def g():\n    from .e import h\n",
                      "fake/high/e.py": "import fake.high.c\nh = 1\n"})
    assert problems(tmp_path, "fake", FAKE_LAYERS) == [
        "import cycle: fake.high.c (line 1) -> fake.high.d (line 2) -> fake.high.e (line 1) -> fake.high.c"]


def test_the_checker_names_an_import_of_a_module_that_does_not_exist(tmp_path):
    """A stale path (e.g. left behind by a move) in a function, where importing the module does not catch it."""
    _write(tmp_path, {"fake/__init__.py": "", "fake/base.py": "def f():\n    from .gone import x\n    import fake.old\n"})
    found = problems(tmp_path, "fake", FAKE_LAYERS)
    assert [f.split(": ", 1)[1] for f in found] == ["fake.base imports fake.gone, which does not exist",
                                                    "fake.base imports fake.old, which does not exist"]


def test_the_checker_names_a_name_a_module_does_not_have(tmp_path):
    """A function or constant moved to another module, taken by name or as an attribute."""
    _write(tmp_path, {"fake/__init__.py": "", "fake/c.py": "X = 1\n",
                      "fake/base.py": "from .low import a as mod\nX = mod.f\nY = mod.gone\n",
                      "fake/low/__init__.py": "",
                      "fake/low/a.py": "import os\nif os.sep:\n    def f():\n        from fake.c import X, Z\n"})
    found = problems(tmp_path, "fake", [("basics", ["fake", "fake.c"]), ("low", ["fake.low.*"]), ("high", ["fake.base"])])
    assert [f.split(": ", 1)[1] for f in found] == ["fake.base uses fake.low.a.gone, which does not exist",
                                                    "fake.low.a uses fake.c.Z, which does not exist"]


def test_the_checker_names_an_unplaced_module_and_a_self_contained_one_that_imports(tmp_path):
    _write(tmp_path, {"fake/__init__.py": "", "fake/base.py": "from . import wire\n", "fake/wire.py": "",
                      "fake/stray.py": ""})
    layers = [("basics", ["fake", "fake.base", "fake.wire"])]
    found = problems(tmp_path, "fake", layers, self_contained=["fake.base"])
    assert [f.split(": ", 1)[1] for f in found] == [
        "module fake.stray is in no room (add it to the layer table)",
        "fake.base is sent into the sandbox as source but imports fake.wire"]
    assert os.path.basename(found[1].split(":")[0]) == "base.py"
