"""No point without a trusted check, and the framework rule over a whole part.

- every notebook grade cell of every assignment is guarded by a grader-side ``trusted_check`` (so a new
  assignment cannot forget one), and every check guards a grade cell that exists;
- a grade cell that no check guards scores 0 even when it passes in the kernel, with a message;
- where the student's beras computes with TensorFlow, reached by a computed name, through
  ``sys.modules`` or handed in from the notebook, every point of that part is withheld (notebook
  cells included), observed from the grader (/proc/PID/maps), not from what student code reports;
- hidden results default to Gradescope's ``after_due_date``; the top-level output does not add them up.
"""
import importlib.util
import json
import os
import types

import nbformat
import pytest

from autograder.grading.grade import grade
from autograder.hidden import collect, guarded, hidden_test, trusted_check
from autograder.grading.notebook import grade_id, is_grade
from autograder.isolation.sandbox import Limits
from tests.hostile import cases
from tests.hostile.cases import SQUARE_OK
from tests.hostile.toy import BERAS_OPS, make_course, reference_submission
from tests import ROOT

FAST = Limits(cell_timeout=8, call_timeout=8, total_timeout=200, memory_mb=3000)
SLOW = Limits(cell_timeout=150, call_timeout=150, total_timeout=900, memory_mb=4000)


def _module(path):
    spec = importlib.util.spec_from_file_location(f"_hidden_{abs(hash(path))}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _grade_ids(nb_path):
    nb = nbformat.read(nb_path, as_version=4)
    return {grade_id(c) for c in nb.cells if is_grade(c) and c.get("cell_type") == "code"}


def _assignments():
    sol = os.path.join(ROOT, "solutions")
    return sorted(d for d in os.listdir(sol) if os.path.isfile(os.path.join(sol, d, f"{d}.ipynb")))


@pytest.mark.parametrize("name", _assignments())
def test_every_grade_cell_has_a_trusted_check(name):
    folder = os.path.join(ROOT, "solutions", name)
    ids = _grade_ids(os.path.join(folder, f"{name}.ipynb"))
    assert ids, f"{name}: no grade cells found"
    tests = collect(_module(os.path.join(folder, "hidden_tests.py")))
    checks = guarded([t for t in tests if t.kind == "check"])
    assert not ids - set(checks), f"{name}: grade cells without a trusted check: {sorted(ids - set(checks))}"
    assert not set(guarded(tests)) - ids, f"{name}: checks guard unknown cells {sorted(set(guarded(tests)) - ids)}"
    assert all(t.points == 0 for t in tests if t.kind == "check")
    assert all(t.part for t in tests), "every test and check belongs to a part"


def test_toy_course_has_a_check_per_cell(tmp_path):
    course = make_course(str(tmp_path / "course"))
    ids = _grade_ids(os.path.join(course, "solutions", "toy", "toy.ipynb"))
    tests = collect(_module(os.path.join(course, "solutions", "toy", "hidden_tests.py")))
    assert set(guarded([t for t in tests if t.kind == "check"])) == ids


def test_visibility_defaults_and_overrides():
    mod = types.ModuleType("m")

    @hidden_test(points=1)
    def a(student):
        pass

    @hidden_test(points=1, visibility="visible")
    def b(student):
        pass

    @trusted_check("cell")
    def c(student):
        pass
    mod.a, mod.b, mod.c = a, b, c
    vis = {t.grade_id: t.visibility for t in collect(mod)}
    assert vis == {"hidden_a": "after_due_date", "hidden_b": "visible", "check_c": "visible"}

    def check_named(student):
        pass
    assert trusted_check("x")(check_named).hidden_test.grade_id == "check_named"   # no doubled prefix
    mod.VISIBILITY = "hidden"     # per-assignment override (tests that name their own keep it)
    a.hidden_test.visibility = None
    assert {t.grade_id: t.visibility for t in collect(mod)}["hidden_a"] == "hidden"
    mod.VISIBILITY = "sometimes"
    a.hidden_test.visibility = None
    with pytest.raises(ValueError, match="valid: hidden, after_due_date, after_published, visible"):
        collect(mod)
    with pytest.raises(ValueError, match="grade_id"):
        trusted_check()


def _sub(course, dest, ops=None, extra=(), square=True):
    release = os.path.join(course, "assignments", "toy")
    return cases._edit(release, dest, {"square": SQUARE_OK} if square else None, extra_cells=list(extra),
                       beras_ops=ops)


def _tests(res):
    return {t["name"]: t for t in res["tests"]}


def test_unguarded_cell_never_scores(tmp_path):
    course = make_course(str(tmp_path / "course"))
    hidden = os.path.join(course, "solutions", "toy", "hidden_tests.py")
    with open(hidden) as f:
        text = f.read()
    with open(hidden, "w") as f:     # the instructor forgot the check of test_cube
        f.write(text.replace('@trusted_check("test_cube")\ndef check_cube', 'def check_cube'))
    res = grade(reference_submission(course, str(tmp_path / "ref")), "toy", str(tmp_path / "out"), "smoke",
                FAST, root=course)
    t = _tests(res)
    assert t["notebook: test_cube"]["score"] == 0
    assert "no trusted check" in t["notebook: test_cube"]["output"]
    assert t["notebook: test_square"]["score"] == 2 and res["score"] == 8


# ---------------------------------------------------------------------------------------------
# The runtime rule follows the manifest's `forbidden` (autograder.policy: one table, one default)
# ---------------------------------------------------------------------------------------------
TF_MAPS = ("7f0000000000-7f0000001000 r-xp 00000000 08:01 42 "
           "/venv/lib/python3.11/site-packages/tensorflow/python/_pywrap_tensorflow_internal.so\n")
TORCH_MAPS = "7f0000000000-7f0000001000 r-xp 00000000 08:01 43 /venv/lib/python3.11/site-packages/torch/lib/libtorch_cpu.so\n"
JAX_MAPS = "7f0000000000-7f0000001000 r-xp 00000000 08:01 44 /venv/lib/python3.11/site-packages/jaxlib/xla_extension.so\n"
NUMPY_MAPS = ("7f0000000000-7f0000001000 r-xp 00000000 08:01 45 "
              "/venv/lib/python3.11/site-packages/numpy/core/_multiarray_umath.cpython-311-x86_64-linux-gnu.so\n")


def test_the_manifest_drives_the_maps_check():
    from autograder.grading.student import UNINSPECTABLE, frameworks_in_maps
    from autograder.policy import DEFAULT_FORBIDDEN
    every = {1: NUMPY_MAPS + TF_MAPS, 2: TORCH_MAPS, 3: JAX_MAPS}
    assert frameworks_in_maps(every, DEFAULT_FORBIDDEN) == ["JAX", "PyTorch", "TensorFlow"]   # the default: all
    assert frameworks_in_maps({1: NUMPY_MAPS + TF_MAPS}, ("torch",)) == []      # forbids PyTorch only: TF is fine
    assert frameworks_in_maps(every, ("torch",)) == ["PyTorch"]
    assert frameworks_in_maps(every, ("jaxlib",)) == frameworks_in_maps(every, ("jax",)) == ["JAX"]
    assert frameworks_in_maps(every, ("keras", "tf_keras")) == []     # no native code of its own (computes through them)
    assert frameworks_in_maps(every, ()) == []
    assert frameworks_in_maps({1: NUMPY_MAPS}, DEFAULT_FORBIDDEN) == []
    assert frameworks_in_maps({1: NUMPY_MAPS, 2: None}, ("torch",)) == [UNINSPECTABLE]
    with pytest.raises(ValueError, match="unknown framework.*pytorch; known: tensorflow, keras, tf_keras, torch"):
        frameworks_in_maps(every, ("pytorch",))


def test_a_workers_maps_are_judged_by_its_own_forbidden_list(tmp_path):
    """Through /proc/PID/maps of a real process that maps a file named like PyTorch's native library: a
    worker of a manifest forbidding torch sees it, one forbidding TensorFlow and Keras does not."""
    import subprocess
    import sys
    from autograder.grading.student import Worker
    lib = tmp_path / "torch" / "lib" / "libtorch_cpu.so"
    lib.parent.mkdir(parents=True)
    lib.write_bytes(b"\0" * 4096)
    proc = subprocess.Popen([sys.executable, "-c", "import mmap, sys\nf = open(sys.argv[1], 'rb')\n"
                             "m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)\nprint('mapped', flush=True)\n"
                             "sys.stdin.read()", str(lib)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "mapped"
        sandbox = types.SimpleNamespace(uid=None)
        seen = {}
        for forbidden in (("torch",), ("tensorflow", "keras")):
            w = Worker(sandbox, [], forbidden=forbidden)
            w.proc = proc
            seen[forbidden] = w.frameworks()
            w.proc = None
        assert seen == {("torch",): ["PyTorch"], ("tensorflow", "keras"): []}
    finally:
        proc.kill()
        proc.wait()


TF_COMPUTED = BERAS_OPS.replace(
    "    ### BEGIN SOLUTION\n    return np.asarray(x, dtype=float) * 2\n    ### END SOLUTION",
    "    import importlib\n    tf = importlib.import_module('tensor' + 'flow')\n"
    "    return tf.multiply(tf.constant(x, tf.float64), 2.0).numpy()")
TF_SYS_MODULES = BERAS_OPS.replace(
    "    ### BEGIN SOLUTION\n    return np.asarray(x, dtype=float) * 2\n    ### END SOLUTION",
    "    import sys\n    tf = sys.modules['tensorflow']\n    return tf.multiply(tf.constant(x, tf.float64), 2.0).numpy()")
IMPORT_TF = "import tensorflow as tf"
HAND_IN = "import beras, tensorflow as tf\nberas.double = lambda x: tf.multiply(tf.constant(x, tf.float64), 2.0).numpy()"


@pytest.fixture(scope="module")
def framework_cases(tmp_path_factory):
    base = tmp_path_factory.mktemp("framework")
    course = make_course(str(base / "course"))
    subs = {"computed_name": _sub(course, str(base / "computed_name"), TF_COMPUTED),
            "sys_modules": _sub(course, str(base / "sys_modules"), TF_SYS_MODULES, [IMPORT_TF]),
            "handed_in": _sub(course, str(base / "handed_in"), None, [HAND_IN])}
    return {k: grade(v, "toy", str(base / "out" / k), "smoke", SLOW, root=course) for k, v in subs.items()}


@pytest.mark.slow
@pytest.mark.parametrize("name", ["computed_name", "sys_modules", "handed_in"])
def test_tensorflow_in_beras_loses_the_whole_part(framework_cases, name):
    res = framework_cases[name]
    t = _tests(res)
    assert t["notebook: test_square"]["score"] == 2 and t["square on a matrix"]["score"] == 2
    assert t["notebook: test_double"]["score"] == 0 and t["beras.double on a vector"]["score"] == 0
    assert res["score"] == 4
    if name == "computed_name":   # TensorFlow reached by a computed name: absent where the stencil runs,
        assert "forbidden framework" in t["beras.double on a vector"]["output"]       # else watched
        assert "forbidden framework" in t["notebook: test_double"]["output"]
        if "frameworks_absent" in res["extra_data"]["guarantees"]["held"]:
            assert "not available to your beras while grading" in t["beras.double on a vector"]["output"]
        else:
            assert "TensorFlow was loaded" in res["output"]
    else:                          # the stencil alone (no notebook code) is what the checks run
        assert "grader's own check" in t["notebook: test_double"]["output"]


@pytest.mark.slow
def test_hidden_results_after_the_due_date(framework_cases):
    res = framework_cases["computed_name"]
    hidden = [t for t in res["tests"] if "hidden" in t["tags"]]
    assert hidden and all(t["visibility"] == "after_due_date" for t in hidden)
    assert all(t["visibility"] == "visible" for t in res["tests"] if "notebook" in t["tags"])
    first = res["output"].splitlines()[0]
    assert "2 / 5 points from the tests shown now" in first and "shown after the due date" in first
    json.dumps(res)


def test_beras_cnn_training_check_uses_the_notebooks_digits():
    """The grader has no instructor beras, so the training check loads the digits itself: the same arrays
    and split as ``beras.datasets.load_digits()``, which the notebook trains on."""
    import numpy as np

    import beras.datasets
    ours = _module(os.path.join(ROOT, "solutions", "beras_cnn", "hidden_tests.py"))._digits()
    theirs = beras.datasets.load_digits()
    for (a, b), (c, d) in zip(ours, theirs):
        assert a.dtype == c.dtype and b.dtype == d.dtype
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)


# ---------------------------------------------------------------------------------------------
# call_isolated: a notebook function run on its own, where no framework was imported
# ---------------------------------------------------------------------------------------------
def test_definitions_reads_a_function_its_helpers_and_imports_from_the_text():
    from autograder.grading.notebook.cells import definitions
    cells = [{"source": "import numpy as np\nimport tensorflow as tf\nimport os, sys\nSCALE = 3"},
             {"source": "def helper(x):\n    return np.asarray(x) * SCALE\n\ndef unused():\n    return tf.ones(1)"},
             {"source": "def f(x):\n    return helper(x) + 1"},
             {"source": "def f(x):   # redefined later: the last definition wins\n    return helper(x) - 1"},
             {"source": "this is not python ("}]
    src = definitions(cells, "f")
    assert "import numpy as np" in src and "SCALE = 3" in src and "def helper" in src
    assert "tensorflow" not in src and "def unused" not in src and "import os" not in src
    assert "- 1" in src and "+ 1" not in src
    scope = {}
    exec(src + "result = f(2)", scope)   # runs on its own: helpers and constants come before their users
    assert scope["result"] == 5
    assert definitions(cells, "missing") is None
    assert "import tensorflow as tf" in definitions(cells, "unused")


ISOLATED_HIDDEN = '''
import numpy as np
from autograder.hidden import assert_close, trusted_check

@trusted_check("test_square", part="square")
def check_square(student):
    assert_close(student.call_isolated("square", 3), 9, "square(3) on its own")

@trusted_check("test_cube")
def check_cube(student):
    assert_close(student.call("cube", 2), 8, "cube(2)")

@trusted_check("test_double", part="double")
def check_double(student):
    assert_close(student.call("beras.double", [1.0, 2.0]), [2.0, 4.0], "beras.double([1, 2])")
'''


@pytest.mark.slow
@pytest.mark.parametrize("square, points", [
    (SQUARE_OK, 2),                                                               # NumPy: kept
    ("import tensorflow as tf\n\ndef square(x):\n    return float(tf.square(tf.constant(x)).numpy())", 0),
    ("def square(x):\n    import importlib\n    tf = importlib.import_module('tensor' + 'flow')\n"
     "    return tf.square(x).numpy()", 0),                       # passes in the kernel: only the check withholds it
])
def test_call_isolated_watches_a_notebook_function_on_its_own(tmp_path, square, points):
    """A part computed in the notebook, whose checks import TensorFlow anyway: the grader reads the
    function from the notebook's text and runs it where nothing else ran; TensorFlow is absent there
    (where frameworks_absent holds), and loaded there it withholds the part, however it was reached."""
    course = make_course(str(tmp_path / "course"))
    with open(os.path.join(course, "solutions", "toy", "hidden_tests.py"), "w") as f:
        f.write(ISOLATED_HIDDEN)
    release = os.path.join(course, "assignments", "toy")
    sub = cases._edit(release, str(tmp_path / "sub"), {"square": square, "cube": cases.CUBE_OK})
    with open(os.path.join(sub, "beras", "ops.py"), "w") as f:
        f.write(BERAS_OPS)
    res = grade(sub, "toy", str(tmp_path / "out"), "smoke", SLOW, root=course)
    t = _tests(res)
    assert t["notebook: test_square"]["score"] == points, t["notebook: test_square"]["output"]
    assert t["notebook: test_cube"]["score"] == 2 and t["notebook: test_double"]["score"] == 1
    if not points and "frameworks_absent" in res["extra_data"]["guarantees"]["held"]:   # it cannot even import it
        said = res["output"] + t["notebook: test_square"]["output"]
        assert "not available to your beras while grading" in said, said
    elif not points:                                                                     # it is watched
        assert "tensorflow" in res["output"].lower() and "part square" in res["output"], res["output"]
