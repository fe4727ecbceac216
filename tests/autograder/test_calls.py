"""call / vjp / probe have one definition (autograder/calls.py), used in-process by LocalStudent and in the
sandbox by worker.py (its source travels ahead of the worker's); the worker launch is one config file."""
import ast
import os

import numpy as np
import pytest

import autograder
from autograder import calls
from autograder.hidden import HiddenTestFailure, LocalStudent
from beras.gradcheck import rel_error

HERE = os.path.dirname(autograder.__file__)


def test_the_worker_defines_none_of_the_calls_itself():
    with open(os.path.join(HERE, "isolation", "worker.py")) as f:
        defined = {n.name for n in ast.walk(ast.parse(f.read())) if isinstance(n, ast.FunctionDef)}
    assert not defined & {"resolve", "vjp", "probe"}
    with open(os.path.join(HERE, "grading", "student.py")) as f:
        assert '("wire.py", "calls.py", "isolation/worker.py")' in f.read()      # the payload carries calls.py


def test_calls_is_self_contained():
    with open(calls.__file__) as f:
        tree = ast.parse(f.read())
    imports = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert [a.name for n in imports for a in n.names] == ["importlib"]


def test_local_student_calls():
    student = LocalStudent({"double": lambda x: 2 * np.asarray(x), "np": np})
    assert student.call("double", [1, 2]).tolist() == [2, 4]
    assert student.call("np.add", 1, 2) == 3                  # a module the notebook bound
    with pytest.raises(HiddenTestFailure, match="`missing` is not defined in your notebook"):
        student.call("missing")
    x = np.random.default_rng(0).standard_normal((3, 4))
    out, (grad,) = student.vjp("beras.nn.relu", [x])
    assert rel_error(out, np.maximum(x, 0)) == 0 and rel_error(grad, (x > 0).astype(float)) == 0
    assert student.probe("result = double(a) + 1", a=np.ones(2)).tolist() == [3, 3]
    with pytest.raises(NameError):                              # stencil probes see no notebook code
        student.probe("result = double(1)", stencil=True)


def test_one_launch_config():
    """The worker's source, its job and the sandbox settings travel in one config file (no job.json, no
    payload file), in the grader-only boot dir; the job is a structure in it, not JSON text inside JSON."""
    import json

    from autograder.isolation.sandbox import Limits, Sandbox
    sandbox = Sandbox(Limits())
    try:
        job = {"cells": [{"id": "c1", "source": "x = {'a': [1]}"}], "forbidden": ["tensorflow"], "skip": [],
               "package": "beras"}
        argv = sandbox.command("worker", "print('hi')", args=["7"], job=job)
        cfg_path = argv[-1]
        assert os.path.dirname(cfg_path) == sandbox.boot_dir
        with open(cfg_path) as f:
            cfg = json.load(f)
        assert cfg["payload"] == "print('hi')" and cfg["job"] == job and cfg["args"] == ["7"]
        assert os.listdir(sandbox.boot_dir) == [os.path.basename(cfg_path)]
        assert "job.json" not in os.listdir(sandbox.run_dir)
    finally:
        sandbox.cleanup()


def test_the_worker_job_is_decoded_once():
    """student.py hands the sandbox the job as a structure (no json.dumps of it) and the worker decodes
    nothing but its requests: its job is the ``JOB`` global _boot.py gives it from the launch config."""
    with open(os.path.join(HERE, "grading", "student.py")) as f:
        student = f.read()
    assert 'command("worker", src, args=[str(w)], job=job,' in student
    assert "json.dumps(job)" not in student
    with open(os.path.join(HERE, "isolation", "worker.py")) as f:
        tree = ast.parse(f.read())
    loads = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
             and n.func.attr == "loads"]
    assert len(loads) == 1                     # `for line in sys.stdin: req = decode(json.loads(line))`
    with open(os.path.join(HERE, "isolation", "_boot.py")) as f:
        assert '"JOB": cfg.get("job")' in f.read()
