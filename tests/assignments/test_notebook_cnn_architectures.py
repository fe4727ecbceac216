"""cnn_architectures: the solution notebook runs (smoke profile, <= 5 min) with every grade cell
passing; the untouched release runs with errors allowed and each unimplemented part fails its
own tests with a clear message; the hidden tests and the trusted checks of the grade cells pass against
the reference solution (LocalStudent), fail on broken variants (and the checks on the untouched release's
stubs), and their formulas equal the reference models' exact parameter counts."""
import json
import os
import shutil
import sys
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient

from autograder.hidden import HiddenTestFailure, LocalStudent, Score, collect, guarded
from tests import ROOT

pytestmark = pytest.mark.slow(seconds=60)   # end to end (tests/__init__.py); seconds: its cost without the real batch (heaviest start first)

NAME = "cnn_architectures"
SOLUTION = ROOT / "solutions" / NAME
NOTEBOOK_CAP_SECONDS = 300
ENV = {"TF_CPP_MIN_LOG_LEVEL": "3", "TF_ENABLE_ONEDNN_OPTS": "0", "KERAS_BACKEND": "tensorflow"}


def nbg(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


def run_notebook(folder, allow_errors):
    """Execute ``folder/NAME.ipynb`` in place (cwd = folder) and return (notebook, seconds)."""
    path = Path(folder) / f"{NAME}.ipynb"
    nb = nbformat.read(path, as_version=4)
    old = {k: os.environ.get(k) for k in ENV}
    os.environ.update(ENV)
    try:
        start = time.perf_counter()
        NotebookClient(nb, timeout=NOTEBOOK_CAP_SECONDS, kernel_name="python3", allow_errors=allow_errors,
                       resources={"metadata": {"path": str(folder)}}).execute()
        return nb, time.perf_counter() - start
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def errors(cell):
    return [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]


def stderr_text(cell):
    return "".join(o.get("text", "") for o in cell.get("outputs", [])
                   if o.get("output_type") == "stream" and o.get("name") == "stderr")


# ---------------------------------------------------------------------------------------------
# Structure
# ---------------------------------------------------------------------------------------------
def test_points_add_up_to_100_and_structure():
    import importlib.util
    nb = nbformat.read(SOLUTION / f"{NAME}.ipynb", as_version=4)
    written = [c for c in nb.cells if nbg(c).get("grade") and c.cell_type == "markdown"]   # graded by hand
    assert written and all(nbg(c)["solution"] and not nbg(c)["locked"] and nbg(c)["points"] for c in written)
    visible = sum(nbg(c).get("points", 0) for c in nb.cells if nbg(c).get("grade") and c.cell_type == "code")
    spec = importlib.util.spec_from_file_location("cnn_arch_hidden_structure", SOLUTION / "hidden_tests.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    tests = collect(module)
    hidden = sum(t.points for t in tests if t.kind == "hidden")
    assert (visible, hidden, visible + hidden) == (59, 41, 100)
    assert all(t.points == 0 for t in tests if t.kind == "check")
    ids = [nbg(c)["grade_id"] for c in nb.cells if nbg(c)]
    assert len(ids) == len(set(ids)), "grade_ids must be unique"
    # every grade cell is guarded by exactly one trusted check (an unguarded cell never scores), and each
    # check shares its part with the hidden test of the same function
    graded = {nbg(c)["grade_id"] for c in nb.cells if nbg(c).get("grade") and c.cell_type == "code"}
    guards = guarded(tests)
    assert set(guards) == graded and len(graded) == 9
    assert all(len(g) == 1 and g[0].kind == "check" for g in guards.values()), guards
    hidden_parts = [t.part for t in tests if t.kind == "hidden"]
    for t in tests:
        if t.kind == "check":
            assert hidden_parts.count(t.part) == 1, (t.name, t.part)
    first_code = next(c for c in nb.cells if c.cell_type == "code")
    assert nbg(first_code)["locked"] and "grader-namespace" in first_code.metadata.get("tags", [])
    for cell in nb.cells:
        if nbg(cell).get("grade") and cell.cell_type == "code":
            assert nbg(cell)["locked"] and not nbg(cell)["solution"], nbg(cell)["grade_id"]
        if nbg(cell).get("solution") and cell.cell_type == "code":
            assert "### BEGIN SOLUTION" in cell.source and "grader-namespace" in cell.metadata.get("tags", [])
        if "grader-namespace" in cell.metadata.get("tags", []):   # definitions only: no training there
            assert "fit(" not in cell.source and "train(" not in cell.source
    defined = "\n".join(c.source for c in nb.cells if "grader-namespace" in c.metadata.get("tags", []))
    for fn in ("def vgg_block(x, filters, num_convs)",
               "def inception_module(x, f1, f3_reduce, f3, f5_reduce, f5, pool_proj)",
               "def resnet_basic_block(x, filters, stride=1)", "def resnet_bottleneck_block(x, filters, stride=1)",
               "def build_resnet(depth, num_classes, input_shape)", "def dense_block(x, num_layers, growth_rate)",
               "class StochasticDepth(layers.Layer)", "def survival_probabilities(num_blocks, p_L=0.5)",
               "def gap_head(x, num_classes)"):
        assert fn in defined, fn


# ---------------------------------------------------------------------------------------------
# The solution notebook, top to bottom, smoke profile
# ---------------------------------------------------------------------------------------------
def test_solution_notebook_runs_and_every_grade_cell_passes(real):
    """The reference notebook as the grader ran it (the session's real batch, in the sandbox, smoke
    profile): within the cap, every grade cell printing its ok lines and nothing on stderr."""
    base, done = real
    assert done["a"][0] == 0, done["a"][2][-2000:]
    out = base / f"out_{NAME}" / "reference"
    nb = nbformat.read(out / f"{NAME}.graded.ipynb", as_version=4)
    with open(out / "results.json") as f:
        res = json.load(f)
    seconds = sum(res["extra_data"]["cell_seconds"].values())
    print(f"solution notebook: {seconds:.0f} s in the grader's sandbox")
    assert seconds <= NOTEBOOK_CAP_SECONDS, f"solution notebook took {seconds:.0f} s (cap {NOTEBOOK_CAP_SECONDS} s)"
    graded = [c for c in nb.cells if nbg(c).get("grade") and c.cell_type == "code"]   # written answers: by hand
    assert len(graded) == 9
    for cell in graded:
        assert not errors(cell), nbg(cell)["grade_id"]
        assert stderr_text(cell) == "", f"{nbg(cell)['grade_id']} wrote to stderr (nbgrader would score it 0)"
        assert "ok  " in "".join(o.get("text", "") for o in cell.outputs)
    text = "\n".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert "Using the smoke profile because the grader runs this notebook" in text
    accuracy = float(text.split("ResNet-20: test accuracy ")[1].split()[0])
    assert accuracy >= 0.90, f"smoke training of the reference ResNet-20 reached only {accuracy}"
    pngs = sum(1 for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {}))
    assert pngs >= 5, f"expected the figures (bottleneck bars, decay rule, augmentation, 2 curve plots), got {pngs}"


# ---------------------------------------------------------------------------------------------
# The untouched release, run as the grader runs it (errors allowed)
# ---------------------------------------------------------------------------------------------
def released_folder(tmp_path):
    """assignments/NAME when released, else a fresh release (autograder.authoring.release) in a temp root."""
    released = ROOT / "assignments" / NAME
    if (released / f"{NAME}.ipynb").exists():
        dest = tmp_path / "release"
        shutil.copytree(released, dest)
        return dest
    from autograder.authoring.release import release_one
    root = tmp_path / "root"
    shutil.copytree(SOLUTION, root / "solutions" / NAME, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    return release_one(NAME, root)


def test_untouched_release_fails_each_part_with_a_clear_message(tmp_path):
    folder = released_folder(tmp_path)
    assert not (folder / "hidden_tests.py").exists()
    assert (folder / "training.py").exists()
    source = (folder / f"{NAME}.ipynb").read_text()
    assert "BEGIN SOLUTION" not in source and "keras.random.uniform(mask_shape" not in source
    nb, seconds = run_notebook(folder, allow_errors=True)
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    assert code_cells[-1].get("execution_count"), "the kernel did not reach the last cell"
    setup = [c for c in code_cells if nbg(c).get("grade_id") in ("course_setup", "setup")]
    assert [nbg(c)["grade_id"] for c in setup] == ["course_setup", "setup"]   # the kit's, then the assignment's
    assert not any(errors(c) for c in setup), "the setup cells must run in the release"
    expected = {"test_vgg_block": "vgg_block", "test_inception_module": "inception_module",
                "test_resnet_basic_block": "resnet_basic_block",
                "test_resnet_bottleneck_block": "resnet_bottleneck_block", "test_gap_head": "gap_head",
                "test_build_resnet": "build_resnet", "test_dense_block": "dense_block",
                "test_stochastic_depth": "StochasticDepth", "test_survival_probabilities": "survival_probabilities"}
    for cell in nb.cells:
        gid = nbg(cell).get("grade_id")
        if gid in expected:
            errs = errors(cell)
            assert errs, f"{gid} passed on the untouched release"
            message = f"{errs[0]['ename']}: {errs[0]['evalue']}"
            assert errs[0]["ename"] == "AssertionError", message
            assert expected[gid] in message and "not implemented yet" in message, message
    assert seconds < 120, f"the untouched release took {seconds:.0f} s"


# ---------------------------------------------------------------------------------------------
# Hidden tests against the reference solution (in-process LocalStudent)
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def hidden():
    import importlib.util
    spec = importlib.util.spec_from_file_location("cnn_arch_hidden", SOLUTION / "hidden_tests.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def reference_namespace():
    """Run the solution notebook's grader-namespace cells (setup + definitions), cwd = solution folder."""
    nb = nbformat.read(SOLUTION / f"{NAME}.ipynb", as_version=4)
    cwd, path = os.getcwd(), list(sys.path)
    os.chdir(SOLUTION)
    namespace = {"__name__": "__student__"}
    try:
        for cell in nb.cells:
            if "grader-namespace" in cell.metadata.get("tags", []):
                exec(compile(cell.source, f"<cell {cell.get('id')}>", "exec"), namespace)  # noqa: S102
    finally:
        os.chdir(cwd)
        sys.path[:] = path
        sys.modules.pop("training", None)
    return namespace


def test_namespace_cells_are_fast(reference_namespace):
    nb = nbformat.read(SOLUTION / f"{NAME}.ipynb", as_version=4)
    start = time.perf_counter()
    scope = dict(reference_namespace)
    for cell in nb.cells:
        if "grader-namespace" in cell.metadata.get("tags", []) and nbg(cell).get("grade_id") != "setup":
            exec(compile(cell.source, "<cell>", "exec"), scope)  # noqa: S102
    assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize("test_name", ["vgg_other_sizes", "inception_other_configs", "basic_block_other",
                                       "bottleneck_other", "gap_other", "resnet_family", "dense_other",
                                       "stochastic_depth", "survival_other"])
def test_hidden_tests_pass_on_the_reference(hidden, reference_namespace, test_name):
    assert getattr(hidden, test_name)(LocalStudent(reference_namespace)) in (None, True)


CHECKS = ["vgg_block_visible_cases", "inception_module_visible_cases", "resnet_basic_block_visible_cases",
          "resnet_bottleneck_block_visible_cases", "gap_head_visible_cases", "build_resnet_visible_cases",
          "dense_block_visible_cases", "stochastic_depth_visible_cases", "survival_probabilities_visible_cases"]


def test_every_check_is_listed_here(hidden):
    assert sorted(CHECKS) == sorted(t.fn.__name__ for t in collect(hidden) if t.kind == "check")


@pytest.mark.parametrize("check_name", CHECKS)
def test_trusted_checks_pass_on_the_reference(hidden, reference_namespace, check_name):
    start = time.perf_counter()
    assert getattr(hidden, check_name)(LocalStudent(reference_namespace)) in (None, True)
    seconds = time.perf_counter() - start
    assert seconds < 60, f"{check_name} took {seconds:.0f} s (it runs in every grading)"


@pytest.fixture(scope="module")
def release_namespace(reference_namespace, tmp_path_factory):
    """The reference setup, then the untouched release's definition cells (the stubs)."""
    folder = ROOT / "assignments" / NAME
    if not (folder / f"{NAME}.ipynb").exists():
        folder = released_folder(tmp_path_factory.mktemp("release"))
    nb = nbformat.read(folder / f"{NAME}.ipynb", as_version=4)
    namespace = dict(reference_namespace)
    for cell in nb.cells:
        if "grader-namespace" in cell.metadata.get("tags", []) and nbg(cell).get("grade_id") != "setup":
            exec(compile(cell.source, f"<release cell {cell.get('id')}>", "exec"), namespace)  # noqa: S102
    assert "raise NotImplementedError" in "\n".join(c.source for c in nb.cells)
    return namespace


@pytest.mark.parametrize("check_name", CHECKS)
def test_trusted_checks_fail_on_the_untouched_release(hidden, release_namespace, check_name):
    with pytest.raises((NotImplementedError, HiddenTestFailure)):
        getattr(hidden, check_name)(LocalStudent(release_namespace))


def test_hidden_training_check_smoke_full_credit(hidden, reference_namespace, monkeypatch):
    monkeypatch.setenv("AUTOGRADER_PROFILE", "smoke")
    score = hidden.training_check(LocalStudent(reference_namespace))
    assert isinstance(score, Score)
    assert score.fraction == 1.0, score.message
    assert 0.90 <= score.leaderboard["test accuracy"] <= 1.0
    assert len(score.curves["accuracy"]) >= 1 and "val_accuracy" not in score.curves   # no test labels in training
    assert "smoke profile (digits)" in score.message


def test_hidden_training_check_grades_the_predictions_in_the_grader(hidden, reference_namespace, monkeypatch):
    """A model that predicts one class gets ~10% accuracy and no credit: the accuracy is computed here."""
    class Constant(LocalStudent):
        def probe(self, code, timeout=None, **inputs):
            if "course.fit" not in code:
                return super().probe(code, timeout, **inputs)
            return {"predictions": np.zeros(360, np.int64), "history": {"loss": [1.0], "accuracy": [0.1],
                                                                          "val_accuracy": [0.1]}, "seconds": 1.0}
    score = hidden.training_check(Constant(reference_namespace))
    assert score.fraction == 0.0 and score.leaderboard["test accuracy"] < 0.15, score.message
    assert [hidden.grade_accuracy(a, "smoke") for a in (0.95, 0.85, 0.7, 0.4, 0.1)] == [1.0, 0.75, 0.5, 0.25, 0.0]
    assert [hidden.grade_accuracy(a, "full") for a in (0.92, 0.87, 0.8, 0.6, 0.2)] == [1.0, 0.75, 0.5, 0.25, 0.0]


def broken(namespace, name, source):
    scope = dict(namespace)
    exec(source, scope)  # noqa: S102
    return LocalStudent(scope), scope[name]


@pytest.mark.parametrize("test_name,name,source,needle", [
    ("basic_block_other", "resnet_basic_block", """
def resnet_basic_block(x, filters, stride=1):   # no ReLU after the add
    shortcut = x
    if stride != 1 or x.shape[-1] != filters:
        shortcut = conv_bn(x, filters, 1, stride, relu=False)
    y = conv_bn(conv_bn(x, filters, 3, stride), filters, 3, 1, relu=False)
    return layers.Add()([shortcut, y])
""", "ReLU(x)"),
    ("basic_block_other", "resnet_basic_block", """
def resnet_basic_block(x, filters, stride=1):   # projection only when the stride changes
    shortcut = conv_bn(x, filters, 1, stride, relu=False) if stride != 1 else x
    y = conv_bn(conv_bn(x, filters, 3, stride), filters, 3, 1, relu=False)
    return layers.ReLU()(layers.Add()([shortcut, y]))
""", "incompatible shapes"),   # the student's own error: the grader reports it against this test
    ("resnet_family", "build_resnet", """
_good = build_resnet
def build_resnet(depth, num_classes, input_shape):   # accepts any depth
    return _good(max(8, depth - (depth - 2) % 6), num_classes, input_shape)
""", "not 6n+2"),
    ("stochastic_depth", "StochasticDepth", """
class StochasticDepth(layers.Layer):   # drops single elements (dropout), not whole samples
    def __init__(self, survival_probability=0.5, seed=None, **kw):
        super().__init__(**kw); self.p = survival_probability; self.g = keras.random.SeedGenerator(seed)
    def call(self, x, training=None):
        if not training:
            return x * self.p
        return x * keras.ops.cast(keras.random.uniform(keras.ops.shape(x), seed=self.g) < self.p, x.dtype)
""", "kept whole or dropped whole"),
    ("stochastic_depth", "StochasticDepth", """
class StochasticDepth(layers.Layer):   # static batch size: breaks when traced with an unknown batch (fit)
    def __init__(self, survival_probability=0.5, seed=None, **kw):
        super().__init__(**kw); self.p = survival_probability; self.g = keras.random.SeedGenerator(seed)
    def call(self, x, training=None):
        if not training:
            return x * self.p
        shape = (x.shape[0],) + (1,) * (len(x.shape) - 1)
        return x * keras.ops.cast(keras.random.uniform(shape, seed=self.g) < self.p, x.dtype)
""", "None"),
    ("survival_other", "survival_probabilities", """
def survival_probabilities(num_blocks, p_L=0.5):   # off by one: l = 0 .. L-1
    return [1.0 - l / num_blocks * (1.0 - p_L) for l in range(num_blocks)]
""", "survival_probabilities"),
    ("dense_other", "dense_block", """
def dense_block(x, num_layers, growth_rate):   # forgets to concatenate the input
    for _ in range(num_layers):
        x = layers.Conv2D(growth_rate, 3, padding="same", use_bias=False)(layers.ReLU()(layers.BatchNormalization()(x)))
    return x
""", "dense_block"),
])
def test_hidden_tests_fail_broken_variants_with_a_message(hidden, reference_namespace, test_name, name, source,
                                                          needle):
    student, _ = broken(reference_namespace, name, source)
    with pytest.raises(HiddenTestFailure if needle not in ("incompatible shapes", "None") else Exception) as info:
        getattr(hidden, test_name)(student)
    assert needle in str(info.value), str(info.value)


def test_formulas_match_the_reference_models_exactly(hidden, reference_namespace):
    import keras
    ns = reference_namespace

    def count(fn, shape, *args, **kwargs):
        x = keras.Input(shape)
        return keras.Model(x, ns[fn](x, *args, **kwargs)).count_params()

    assert count("vgg_block", (32, 32, 3), 64, 2) == hidden.vgg_params(3, 64, 2) == 38720
    assert count("inception_module", (28, 28, 192), 64, 96, 128, 16, 32, 32) == hidden.inception_params(
        192, 64, 96, 128, 16, 32, 32) == 163696
    assert count("resnet_basic_block", (8, 8, 16), 32, stride=2) == hidden.basic_params(16, 32, 2) == 14720
    assert count("resnet_bottleneck_block", (8, 8, 64), 16) == hidden.bottleneck_params(64, 16) == 4736
    assert count("dense_block", (8, 8, 16), 4, 12) == hidden.dense_params(16, 4, 12) == 15232
    expected = {8: 78714, 14: 176378, 20: 274042, 32: 469370, 44: 664698, 56: 860026, 110: 1739002}
    for depth, total in expected.items():
        assert hidden.resnet_params(depth, 3, 10) == total, depth
    for depth in (8, 20, 56):
        m = ns["build_resnet"](depth, 10, (32, 32, 3))
        trainable = int(sum(np.prod(w.shape) for w in m.trainable_weights))
        assert (m.count_params(), trainable) == (expected[depth], hidden.resnet_trainable(depth, 3, 10))
    assert hidden.resnet_trainable(20, 3, 10) == 272474        # option B; option A (paper): 269,722


@pytest.mark.parametrize("check_name,name,source,needle", [
    ("vgg_block_visible_cases", "vgg_block", """
def vgg_block(x, filters, num_convs):   # wrong pool: stride 1, the size is not halved
    for _ in range(num_convs):
        x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
    return layers.MaxPooling2D(2, strides=1, padding="same")(x)
""", "output shape"),
    ("vgg_block_visible_cases", "vgg_block", """
def vgg_block(x, filters, num_convs):   # no ReLU
    for _ in range(num_convs):
        x = layers.Conv2D(filters, 3, padding="same")(x)
    return layers.MaxPooling2D(2, strides=2)(x)
""", ">= 0"),
    ("inception_module_visible_cases", "inception_module", """
def inception_module(x, f1, f3_reduce, f3, f5_reduce, f5, pool_proj):   # no max pool in the pool branch
    conv = lambda t, f, k: layers.Conv2D(f, k, padding="same", activation="relu")(t)
    return layers.Concatenate()([conv(x, f1, 1), conv(conv(x, f3_reduce, 1), f3, 3),
                                 conv(conv(x, f5_reduce, 1), f5, 5), conv(x, pool_proj, 1)])
""", "MaxPooling2D"),
    ("inception_module_visible_cases", "inception_module", """
def inception_module(x, f1, f3_reduce, f3, f5_reduce, f5, pool_proj):   # 3x3 instead of 5x5 in the 5x5 branch
    conv = lambda t, f, k: layers.Conv2D(f, k, padding="same", activation="relu")(t)
    pool = layers.MaxPooling2D(3, strides=1, padding="same")(x)
    return layers.Concatenate()([conv(x, f1, 1), conv(conv(x, f3_reduce, 1), f3, 3),
                                 conv(conv(x, f5_reduce, 1), f5, 3), conv(pool, pool_proj, 1)])
""", "parameter count"),
    ("resnet_basic_block_visible_cases", "resnet_basic_block", """
def resnet_basic_block(x, filters, stride=1):   # no ReLU after the add
    shortcut = x
    if stride != 1 or x.shape[-1] != filters:
        shortcut = conv_bn(x, filters, 1, stride, relu=False)
    y = conv_bn(conv_bn(x, filters, 3, stride), filters, 3, 1, relu=False)
    return layers.Add()([shortcut, y])
""", "ReLU(x)"),
    ("resnet_basic_block_visible_cases", "resnet_basic_block", """
def resnet_basic_block(x, filters, stride=1):   # always a projection shortcut
    shortcut = conv_bn(x, filters, 1, stride, relu=False)
    y = conv_bn(conv_bn(x, filters, 3, stride), filters, 3, 1, relu=False)
    return layers.ReLU()(layers.Add()([shortcut, y]))
""", "parameter count"),
    ("resnet_basic_block_visible_cases", "resnet_basic_block", """
def resnet_basic_block(x, filters, stride=1):   # never a projection shortcut
    y = conv_bn(conv_bn(x, filters, 3, stride), filters, 3, 1, relu=False)
    return layers.ReLU()(layers.Add()([x, y]))
""", "incompatible shapes"),   # the student's own error (Keras refuses the add)
    ("resnet_bottleneck_block_visible_cases", "resnet_bottleneck_block", """
def resnet_bottleneck_block(x, filters, stride=1):   # projection shortcut without its BN
    shortcut = x
    if stride != 1 or x.shape[-1] != 4 * filters:
        shortcut = layers.Conv2D(4 * filters, 1, strides=stride, use_bias=False)(x)
    y = conv_bn(conv_bn(conv_bn(x, filters, 1), filters, 3, stride), 4 * filters, 1, relu=False)
    return layers.ReLU()(layers.Add()([shortcut, y]))
""", "parameter count"),
    ("gap_head_visible_cases", "gap_head", """
def gap_head(x, num_classes):   # logits, no softmax
    return layers.Dense(num_classes)(layers.GlobalAveragePooling2D()(x))
""", "rows sum to 1"),
    ("gap_head_visible_cases", "gap_head", """
def gap_head(x, num_classes):   # flatten instead of global average pooling
    return layers.Dense(num_classes, activation="softmax")(layers.Flatten()(x))
""", "parameter count"),
    ("build_resnet_visible_cases", "build_resnet", """
_good = build_resnet
def build_resnet(depth, num_classes, input_shape):   # accepts any depth
    return _good(max(8, depth - (depth - 2) % 6), num_classes, input_shape)
""", "not 6n+2"),
    ("build_resnet_visible_cases", "build_resnet", """
def build_resnet(depth, num_classes, input_shape):   # stem conv with a bias
    if depth < 8 or (depth - 2) % 6:
        raise ValueError(depth)
    inputs = keras.Input(input_shape)
    x = layers.ReLU()(layers.BatchNormalization()(layers.Conv2D(16, 3, padding="same")(inputs)))
    for stage, filters in enumerate((16, 32, 64)):
        for i in range((depth - 2) // 6):
            x = resnet_basic_block(x, filters, stride=2 if stage > 0 and i == 0 else 1)
    return keras.Model(inputs, gap_head(x, num_classes))
""", "parameters incl. BN"),
    ("dense_block_visible_cases", "dense_block", """
def dense_block(x, num_layers, growth_rate):   # new features first: the input is not the first channels
    for _ in range(num_layers):
        y = layers.Conv2D(growth_rate, 3, padding="same", use_bias=False)(layers.ReLU()(layers.BatchNormalization()(x)))
        x = layers.Concatenate()([y, x])
    return x
""", "first 16 output channels"),
    ("dense_block_visible_cases", "dense_block", """
def dense_block(x, num_layers, growth_rate):   # forgets to concatenate the input
    for _ in range(num_layers):
        x = layers.Conv2D(growth_rate, 3, padding="same", use_bias=False)(layers.ReLU()(layers.BatchNormalization()(x)))
    return x
""", "output shape"),
    ("stochastic_depth_visible_cases", "StochasticDepth", """
class StochasticDepth(layers.Layer):   # scales in training (inverted dropout), identity at inference
    def __init__(self, survival_probability=0.5, seed=None, **kw):
        super().__init__(**kw); self.p = survival_probability; self.g = keras.random.SeedGenerator(seed)
    def call(self, x, training=None):
        if not training:
            return x
        shape = (keras.ops.shape(x)[0],) + (1,) * (len(x.shape) - 1)
        return x * keras.ops.cast(keras.random.uniform(shape, seed=self.g) < self.p, x.dtype) / self.p
""", "at inference"),
    ("stochastic_depth_visible_cases", "StochasticDepth", """
class StochasticDepth(layers.Layer):   # drops single elements (dropout), not whole samples
    def __init__(self, survival_probability=0.5, seed=None, **kw):
        super().__init__(**kw); self.p = survival_probability; self.g = keras.random.SeedGenerator(seed)
    def call(self, x, training=None):
        if not training:
            return x * self.p
        return x * keras.ops.cast(keras.random.uniform(keras.ops.shape(x), seed=self.g) < self.p, x.dtype)
""", "kept whole"),
    ("stochastic_depth_visible_cases", "StochasticDepth", """
class StochasticDepth(layers.Layer):   # keeps the wrong fraction: drops with probability p
    def __init__(self, survival_probability=0.5, seed=None, **kw):
        super().__init__(**kw); self.p = survival_probability; self.g = keras.random.SeedGenerator(seed)
    def call(self, x, training=None):
        if not training:
            return x * self.p
        shape = (keras.ops.shape(x)[0],) + (1,) * (len(x.shape) - 1)
        return x * keras.ops.cast(keras.random.uniform(shape, seed=self.g) >= self.p, x.dtype)
""", "70% of the samples"),
    ("stochastic_depth_visible_cases", "StochasticDepth", """
class StochasticDepth(layers.Layer):   # the same mask at every call (a fixed integer seed)
    def __init__(self, survival_probability=0.5, seed=None, **kw):
        super().__init__(**kw); self.p = survival_probability
    def call(self, x, training=None):
        if not training:
            return x * self.p
        shape = (keras.ops.shape(x)[0],) + (1,) * (len(x.shape) - 1)
        return x * keras.ops.cast(keras.random.uniform(shape, seed=1234) < self.p, x.dtype)
""", "new mask"),
    ("survival_probabilities_visible_cases", "survival_probabilities", """
def survival_probabilities(num_blocks, p_L=0.5):   # off by one: l = 0 .. L-1
    return [1.0 - l / num_blocks * (1.0 - p_L) for l in range(num_blocks)]
""", "p_1"),
    ("survival_probabilities_visible_cases", "survival_probabilities", """
def survival_probabilities(num_blocks, p_L=0.5):   # ignores p_L
    return [1.0 - l / num_blocks * 0.5 for l in range(1, num_blocks + 1)]
""", "p_L=0.2"),
])
def test_trusted_checks_fail_broken_variants_with_a_message(hidden, reference_namespace, check_name, name, source,
                                                            needle):
    student, _ = broken(reference_namespace, name, source)
    with pytest.raises(Exception if needle == "incompatible shapes" else HiddenTestFailure) as info:
        getattr(hidden, check_name)(student)
    assert needle in str(info.value), str(info.value)
