"""`autograder similarity`: a planted near-copy (renamed variables and functions, reordered
functions, changed comments) among honest variants of the toy assignment is the one pair flagged;
the release's own code (every student has it) never counts."""
import csv
import os
import shutil
import subprocess
import sys

import nbformat
import pytest

from tests.hostile.toy import make_course, reference_submission
from tests import ROOT

pytestmark = pytest.mark.slow(seconds=30)   # end to end (tests/__init__.py); seconds: its cost, measured (heaviest start first)


# What each student writes into the toy's two solution cells ("square", "cube") and beras/ops.py.
HONEST = {
    "ana": ('''def _as_array(values):
    return np.asarray(values, dtype=float)

def square(x):
    arr = _as_array(x)
    return arr * arr
''', '''def cube(x):
    out = np.power(x, 3)
    return out
''', "return np.asarray(x, dtype=float) * 2"),
    "ben": ('''def square(x):
    # loop over elements when given a sequence
    if np.isscalar(x):
        return x ** 2
    result = []
    for item in np.ravel(x):
        result.append(item * item)
    return np.reshape(np.array(result), np.shape(x))
''', '''def cube(x):
    return x * square(x)
''', "return np.multiply(np.asarray(x, dtype=float), 2.0)"),
    "cai": ('''import math

def square(x):
    try:
        return np.square(x)
    except TypeError:
        return math.pow(x, 2)
''', '''def cube(x):
    total = 1
    for _ in range(3):
        total = total * x
    return total
''', "arr = np.array(x, dtype=np.float64)\n    return arr + arr"),
    "dee": ('''square = lambda x: np.multiply(x, x)
''', '''def cube(x):
    """x to the third power, elementwise."""
    x = np.asarray(x)
    return np.einsum("...,...,...->...", x, x, x)
''', "return 2.0 * np.array(x, dtype=float)"),
    "eli": ('''def square(x):
    x = np.array(x, dtype=float, copy=True)
    x **= 2
    return x
''', '''def cube(x):
    return square(x) * x
''', "values = [2.0 * float(v) for v in np.ravel(x)]\n    return np.array(values).reshape(np.shape(x))"),
}

ORIGINAL = ('''def normalize_shape(values, template):
    """Give the flat list of results the shape of the input."""
    flat = np.array(values, dtype=float)
    if np.ndim(template) == 0:
        return float(flat[0])
    return flat.reshape(np.shape(template))

def square(x):
    pieces = []
    for element in np.ravel(np.asarray(x, dtype=float)):
        doubled_up = element * element
        pieces.append(doubled_up)
    return normalize_shape(pieces, x)
''', '''def power_by_loop(x, times):
    acc = np.ones_like(np.asarray(x, dtype=float))
    counter = 0
    while counter < times:
        acc = acc * np.asarray(x, dtype=float)
        counter += 1
    return acc

def cube(x):
    return power_by_loop(x, 3)
''', '''data = np.asarray(x, dtype=float)
    output = np.empty_like(data)
    for position, number in np.ndenumerate(data):
        output[position] = number + number
    return output''')

# the near-copy: same code, names changed, functions in the other order, comments changed
COPY = ('''def square(inp):
    # square every entry
    parts = []
    for val in np.ravel(np.asarray(inp, dtype=float)):
        sq = val * val
        parts.append(sq)
    return reshape_like(parts, inp)

def reshape_like(items, like):
    """Reshape results like the input."""
    arr = np.array(items, dtype=float)
    if np.ndim(like) == 0:
        return float(arr[0])
    return arr.reshape(np.shape(like))
''', '''def cube(x):
    return repeat_multiply(x, 3)

def repeat_multiply(base, n):
    result = np.ones_like(np.asarray(base, dtype=float))
    k = 0
    while k < n:
        result = result * np.asarray(base, dtype=float)
        k += 1
    return result
''', '''arr = np.asarray(x, dtype=float)
    res = np.empty_like(arr)
    for idx, v in np.ndenumerate(arr):
        res[idx] = v + v
    return res''')


def write_student(course, dest, square_src, cube_src, double_body, zipped=False):
    reference_submission(course, dest)
    nb = nbformat.read(os.path.join(dest, "toy.ipynb"), as_version=4)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid == "square":
            cell.source = square_src
        elif gid == "cube":
            cell.source = cube_src
    nbformat.write(nb, os.path.join(dest, "toy.ipynb"))
    with open(os.path.join(dest, "beras", "ops.py"), "w") as f:
        f.write(f"import numpy as np\n\n\ndef double(x):\n    \"\"\"2 * x, as an array.\"\"\"\n    {double_body}\n")
    if zipped:
        shutil.make_archive(dest, "zip", dest)
        shutil.rmtree(dest)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    base = tmp_path_factory.mktemp("similarity")
    course = make_course(str(base / "course"))
    subs = base / "subs"
    for name, parts in HONEST.items():
        write_student(course, str(subs / name), *parts)
    write_student(course, str(subs / "orig"), *ORIGINAL)
    write_student(course, str(subs / "copier"), *COPY, zipped=True)
    # two students who changed nothing
    shutil.copytree(os.path.join(course, "assignments", "toy"), subs / "idle1")
    shutil.copytree(os.path.join(course, "assignments", "toy"), subs / "idle2")
    out = base / "out"
    p = subprocess.run([sys.executable, "-m", "autograder", "similarity", str(subs), "--assignment", "toy",
                        "--out", str(out), "--root", course], capture_output=True, text=True, cwd=ROOT, timeout=300)
    with open(out / "pairs.csv") as f:
        pairs = list(csv.DictReader(f))
    return {"proc": p, "out": out, "pairs": pairs, "course": course, "subs": subs}


def test_only_the_planted_copy_is_flagged(report):
    p = report["proc"]
    assert p.returncode == 0, p.stderr[-3000:]
    flagged = [(r["student_a"], r["student_b"]) for r in report["pairs"] if r["flagged"] == "1"]
    assert flagged == [("copier", "orig")]
    scores = {(r["student_a"], r["student_b"]): float(r["score"]) for r in report["pairs"]}
    assert len(scores) == 9 * 8 // 2
    top_honest = max(s for k, s in scores.items() if k != ("copier", "orig"))
    assert scores[("copier", "orig")] >= 0.5 and scores[("copier", "orig")] > 2 * top_honest, scores
    assert "copier ~ orig" in p.stdout


def test_release_code_is_boilerplate(report):
    """Two untouched releases share all of their code, all of it the release's: not a match."""
    scores = {(r["student_a"], r["student_b"]): float(r["score"]) for r in report["pairs"]}
    assert scores[("idle1", "idle2")] < 0.1
    code = (report["out"] / "code" / "copier.py").read_text()
    assert "repeat_multiply" in code and "reshape_like" in code and "# beras/ops.py" in code
    assert "check(square(3)" not in code          # grade cells are the release's, not the student's


def test_html_report_names_the_pair(report):
    index = (report["out"] / "index.html").read_text()
    assert "1 of 36 pair(s) unusually alike" in index and "report.html" in index
    page = (report["out"] / "report.html").read_text()
    assert "copier.py" in page and "orig.py" in page
    assert "highlight-red" in page                  # the shared code is highlighted


def test_bad_input_is_a_clear_error(report, tmp_path):
    p = subprocess.run([sys.executable, "-m", "autograder", "similarity", str(report["subs"]), "--assignment", "nope",
                        "--out", str(tmp_path / "o"), "--root", report["course"]],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert p.returncode == 2 and "toy" in p.stderr
    p = subprocess.run([sys.executable, "-m", "autograder", "similarity", str(tmp_path / "missing"), "--assignment",
                        "toy", "--out", str(tmp_path / "o"), "--root", report["course"]],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert p.returncode == 2 and "does not exist" in p.stderr
