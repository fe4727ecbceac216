"""A worker's reply is read with a bound (``Worker.MAX_REPLY_MB``): a student function that returns a
huge array fails that call with a clear message, its worker is stopped, the next call gets a fresh
one, and the grader's own memory does not grow with the reply (measured in a fresh grader process:
its peak RSS, ``ru_maxrss``, before and after the call).

Cost: one sandboxed worker start and a 64 MB reply, about 4 s.
"""
import json
import subprocess
import sys
import textwrap

import pytest

from tests import ROOT

pytestmark = pytest.mark.slow(seconds=6)

GRADER = textwrap.dedent("""
    import json, resource
    from autograder.grading.student import Student, WorkerCrashed
    from autograder.isolation.sandbox import Limits, Sandbox
    cells = [{"id": "big", "source": "import numpy as np\\n"
              "def big():\\n    return np.ones(8 * 10**6)   # 64 MB of float64\\n"
              "def small():\\n    return np.arange(3.0)"}]
    sandbox = Sandbox(Limits(call_timeout=60, startup_timeout=60, memory_mb=3000))
    sandbox.prepare()
    student = Student(sandbox, cells)
    out = {}
    try:
        student.hello()
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        try:
            student.call("big")
            out["error"] = None
        except WorkerCrashed as e:
            out["error"] = str(e)
        out["grown_mb"] = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
        out["small"] = list(student.call("small"))
    finally:
        student.close()
        sandbox.cleanup()
    print(json.dumps(out))
""")


def test_a_huge_reply_fails_the_call_and_the_grader_stays_small():
    proc = subprocess.run([sys.executable, "-c", GRADER], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["error"] == ("calling big: your code returned more than 8 MB (the most the grader reads back "
                            "from one call: the process was stopped); return a smaller result"), out
    assert out["grown_mb"] < 32, out       # the reply is ~85 MB of JSON; before the cap the grader grew ~400 MB
    assert out["small"] == [0.0, 1.0, 2.0]  # the next call: a fresh worker
