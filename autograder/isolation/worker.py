"""Hidden-test worker: runs INSIDE the sandbox (see sandbox.py), self-contained (the project is not
importable there). Its job (namespace cells, forbidden modules, stencil package, cells to skip) is the
global ``JOB``: a plain structure in the sandbox's launch config (one JSON file, decoded once by
_boot.py, which runs this file with ``JOB`` in its globals); argv: the response fd.

Startup: put the scratch copy first on sys.path, import the student's beras and every submodule,
note whether TensorFlow/Keras/PyTorch got imported by it, run the ``grader-namespace`` cells, then
reply ``hello``. Then it serves one JSON request per stdin line (call / vjp / probe) and writes one
JSON reply line to the response fd. Arrays travel as np.save bytes, read with allow_pickle=False.

``encode``, ``decode`` and ``to_plain`` come from wire.py, and ``resolve``, ``vjp`` and ``probe`` from
calls.py, whose sources student.py sends ahead of this file's (one definition of the wire format and of
what each request does, shared with the grader's in-process LocalStudent).
"""
import importlib
import json
import os
import pkgutil
import random
import re
import sys
import traceback

import numpy as np

job, fd = JOB, int(sys.argv[1])
out = os.fdopen(fd, "wb", buffering=0)
FORBIDDEN = job["forbidden"]
sys.path.insert(0, os.getcwd())


def reply(obj):
    out.write(json.dumps(encode(obj)).encode() + b"\n")


def forbidden_loaded():
    return sorted(m for m in FORBIDDEN if m in sys.modules)


def error_info(exc):
    tb = traceback.extract_tb(exc.__traceback__)
    where = ""
    for frame in reversed(tb):
        if "autograder-worker" not in frame.filename and not frame.filename.endswith("_boot.py") \
                and not frame.filename.startswith("<frozen importlib"):   # the sandbox's import hook
            where = f" ({os.path.basename(frame.filename)}, line {frame.lineno})"
            break
    msg = str(exc)
    if isinstance(exc, NotImplementedError) and not msg:
        msg = "not implemented yet"
    missing = (getattr(exc, "name", None) or "").partition(".")[0] if isinstance(exc, ImportError) else ""
    if missing in FORBIDDEN:
        pkg = job.get("package") or "code"
        msg = (f"{missing} is not available to your {pkg} while grading: {pkg} must be NumPy only "
               f"({missing} is a forbidden framework here)")
    return {"type": type(exc).__name__, "message": (msg[:800] + where).strip()}


def seed():
    random.seed(0)
    np.random.seed(0)
    if "keras" in sys.modules:
        try:
            sys.modules["keras"].utils.set_random_seed(0)
        except Exception:
            pass


# -- 1. the student's beras (if the submission has one) -------------------------------------------
hello = {"beras_file": None, "beras_error": None, "beras_forbidden": [], "cell_errors": [],
         "pid_ok": True}
PACKAGE = job.get("package") or "beras"
if os.path.isdir(PACKAGE):
    try:
        beras = importlib.import_module(PACKAGE)
        hello["beras_file"] = os.path.abspath(beras.__file__)
        for mod in pkgutil.walk_packages(beras.__path__, PACKAGE + "."):
            try:
                importlib.import_module(mod.name)
            except Exception:
                pass
    except BaseException as e:  # noqa: B902 - report, never die
        hello["beras_error"] = error_info(e)
    hello["beras_forbidden"] = forbidden_loaded()

# -- 2. the notebook's grader-namespace cells --------------------------------------------------
namespace = {"__name__": "__main__"}
MAGIC = re.compile(r"^\s*[%!]")
seed()
skip = set(job.get("skip", []))
for i, cell in enumerate(job["cells"]):
    if cell.get("id", str(i)) in skip:
        hello["cell_errors"].append({"cell": cell.get("id", str(i)), "type": "Skipped",
                                     "message": "this cell crashed or hung the grader's process; skipped"})
        continue
    reply({"progress": cell.get("id", str(i))})
    src = "\n".join("pass  # " + line if MAGIC.match(line) else line for line in cell["source"].splitlines())
    try:
        exec(compile(src, f"<notebook cell {cell.get('id', i)}>", "exec"), namespace)  # noqa: S102
    except BaseException as e:  # noqa: B902 - sys.exit in a cell must not kill the worker
        info = error_info(e)
        info["cell"] = cell.get("id", str(i))
        hello["cell_errors"].append(info)
if PACKAGE in sys.modules:
    hello["beras_file"] = os.path.abspath(getattr(sys.modules[PACKAGE], "__file__", "") or "")
reply(hello)


# -- 3. serve requests ----------------------------------------------------------------------------
def serve(req):
    op = req["op"]
    if op == "call":
        return to_plain(resolve(req["name"], namespace, PACKAGE)(*req["args"], **req["kwargs"]))
    if op == "vjp":
        value, grads = vjp(resolve(req["name"], namespace, PACKAGE), req["args"], req["kwargs"], req["wrt"],
                           req.get("upstream"), PACKAGE)
        return [to_plain(value), [to_plain(g) for g in grads]]
    if op == "probe":
        return to_plain(probe(req["code"], namespace, req["inputs"]))
    raise ValueError(f"unknown request {op!r}")


for line in sys.stdin:
    req = decode(json.loads(line))
    before = set(forbidden_loaded())
    seed()
    try:
        result = serve(req)
        msg = {"result": result}
        encode(msg)
    except BaseException as e:  # noqa: B902 - SystemExit / KeyboardInterrupt from student code too
        msg = {"error": error_info(e)}
    msg["forbidden_loaded"] = sorted(set(forbidden_loaded()) - before)
    reply(msg)
