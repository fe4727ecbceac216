"""A tiny course root with one assignment, "toy", laid out like the real ones (solutions/, assignments/,
beras/ with a marked region), so the grader's machinery is tested in seconds (no TensorFlow)."""
import os
import shutil

import nbformat
from tests import ROOT

POINTS = {"test_square": 2, "test_cube": 2, "test_double": 1}   # + hidden 2 + 3 = 10


def _meta(gid, *, grade=False, solution=False, locked=False, points=None, ns=False):
    m = {"nbgrader": {"grade": grade, "solution": solution, "locked": locked, "grade_id": gid,
                      "schema_version": 3}}
    if points is not None:
        m["nbgrader"]["points"] = points
    if ns:
        m["tags"] = ["grader-namespace"]
    return m


def source_notebook():
    c = nbformat.v4.new_code_cell
    md = nbformat.v4.new_markdown_cell
    cells = [
        md("# Toy assignment", metadata=_meta("intro", locked=True)),
        c("import os, sys\nsys.path.insert(0, os.getcwd())\nimport numpy as np\nimport beras\n"
          "print('using beras from', os.path.dirname(beras.__file__))",
          metadata=_meta("setup", locked=True, ns=True)),
        c("def square(x):\n    ### BEGIN SOLUTION\n    return x * x\n    ### END SOLUTION",
          metadata=_meta("square", solution=True, ns=True)),
        c("def check(got, want, case):\n    assert np.allclose(got, want), f'{case}: expected {want}, got {got}'",
          metadata=_meta("helpers", locked=True, ns=True)),
        c("check(square(3), 9, 'square(3)')\nnp.testing.assert_allclose(square(np.arange(3)), [0, 1, 4])",
          metadata=_meta("test_square", grade=True, locked=True, points=POINTS["test_square"])),
        c("def cube(x):\n    ### BEGIN SOLUTION\n    return x * x * x\n    ### END SOLUTION",
          metadata=_meta("cube", solution=True, ns=True)),
        c("check(cube(2), 8, 'cube(2)')",
          metadata=_meta("test_cube", grade=True, locked=True, points=POINTS["test_cube"])),
        c("np.testing.assert_allclose(beras.double([1.0, 2.0]), [2.0, 4.0])",
          metadata=_meta("test_double", grade=True, locked=True, points=POINTS["test_double"])),
        c("print('experiments: done')"),
    ]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


HIDDEN = '''
import numpy as np
from autograder.hidden import assert_close, hidden_test, secret_rng, trusted_check

@trusted_check("test_square")
def check_square(student):
    assert_close(student.call("square", 3), 9, "square(3)")
    assert_close(student.call("square", np.arange(3)), [0, 1, 4], "square([0, 1, 2])")

@trusted_check("test_double", part="double")
def check_double(student):
    assert_close(student.call("beras.double", [1.0, 2.0]), [2.0, 4.0], "beras.double([1, 2])")

@hidden_test(points=2, name="square on a matrix")
def hidden_square(student):
    x = np.round(secret_rng().uniform(-9, 9, (2, 3)), 3)   # drawn anew at each grading: no constant answers it
    assert_close(student.call("square", x), x * x, "square of a 2x3 matrix")

# defined after a hidden test on purpose: the grader still runs it first (checks show before the due date)
@trusted_check("test_cube")
def check_cube(student):
    assert_close(student.call("cube", 2), 8, "cube(2)")

@hidden_test(points=3, name="beras.double on a vector", part="double")
def hidden_double(student):
    x = np.linspace(-1, 1, 5)
    assert_close(student.call("beras.double", x), 2 * x, "beras.double of 5 values")
'''

BERAS_OPS = '''import numpy as np


def double(x):
    """2 * x, as an array."""
    ### BEGIN SOLUTION
    return np.asarray(x, dtype=float) * 2
    ### END SOLUTION
'''

MANIFEST = """title = "Toy assignment"
demo = false

[stencil]
package = "beras"
forbidden = ["tensorflow", "keras", "tf_keras", "torch", "jax"]
"""

PROJECT = str(ROOT)


def make_course(root):
    """Write root/{beras, solutions/toy} and release it with the real release path (nbgrader's
    generate_assignment, the stencil, the grader bundle) into root/assignments/toy; return root."""
    from autograder.authoring.release import release
    os.makedirs(os.path.join(root, "beras"), exist_ok=True)
    with open(os.path.join(root, "beras", "__init__.py"), "w") as f:
        f.write("from .ops import double\n")
    with open(os.path.join(root, "beras", "ops.py"), "w") as f:
        f.write(BERAS_OPS)
    sol = os.path.join(root, "solutions", "toy")
    os.makedirs(sol, exist_ok=True)
    nbformat.write(source_notebook(), os.path.join(sol, "toy.ipynb"))
    for name, text in (("hidden_tests.py", HIDDEN), ("data.txt", "asset\n"), ("assignment.toml", MANIFEST)):
        with open(os.path.join(sol, name), "w") as f:
            f.write(text)
    shutil.copyfile(os.path.join(PROJECT, "pyproject.toml"), os.path.join(root, "pyproject.toml"))
    release(["toy"], root=root)
    return root


def reference_submission(root, dest):
    """The instructor's solution as a student would submit it (notebook + complete beras)."""
    os.makedirs(dest, exist_ok=True)
    shutil.copyfile(os.path.join(root, "solutions", "toy", "toy.ipynb"), os.path.join(dest, "toy.ipynb"))
    shutil.copytree(os.path.join(root, "beras"), os.path.join(dest, "beras"), dirs_exist_ok=True)
    return dest
