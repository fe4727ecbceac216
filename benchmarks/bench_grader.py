"""The grader's own speed:

- overhead per submission: everything except running student code (the notebook kernel, the
  hidden-test worker) and training: unpack, restore, assemble, scoring, results (goal < 5 s);
- grade-all --jobs 2 vs --jobs 1 on the same batch (goal >= 1.6x on 2 cores);
- wall time to grade each reference solution in the smoke profile.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")


def _cli(*args):
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "autograder", *map(str, args)], capture_output=True, text=True,
                       env=ENV, cwd=ROOT)
    if p.returncode != 0:
        raise RuntimeError(p.stderr[-2000:])
    return time.perf_counter() - t0


def overhead(results):
    t = results["extra_data"]["timings"]
    return results["execution_time"] - t.get("run_notebook", 0) - t.get("run_hidden_tests", 0)


def main(real=True, batch_size=6):
    sys.path.insert(0, ROOT)
    from autograder.authoring.reference import reference_submission
    from autograder.authoring.spec import find_assignment
    from tests.hostile.toy import make_course
    from tests.hostile.toy import reference_submission as toy_reference
    tmp = tempfile.mkdtemp(prefix="bench-grader-")
    course = make_course(os.path.join(tmp, "course"))
    subs = os.path.join(tmp, "subs")
    for i in range(batch_size):
        toy_reference(course, os.path.join(subs, f"student{i:02d}"))

    wall = _cli("grade", os.path.join(subs, "student00"), "--assignment", "toy", "--out", os.path.join(tmp, "one"),
                "--root", course, "--profile", "smoke")
    res = json.load(open(os.path.join(tmp, "one", "results.json")))
    print(f"toy submission: wall {wall:5.1f} s (CLI start included), in-grader {res['execution_time']:5.1f} s, "
          f"grader overhead {overhead(res):4.2f} s  (goal < 5 s)  steps: "
          + ", ".join(f"{k}={v:.2f}" for k, v in res["extra_data"]["timings"].items()), flush=True)

    times = {}
    for jobs in (1, 2):
        times[jobs] = _cli("grade-all", subs, "--assignment", "toy", "--out", os.path.join(tmp, f"jobs{jobs}"),
                           "--root", course, "--profile", "smoke", "--jobs", jobs, "--no-gradebook")
        print(f"grade-all {batch_size} toy submissions --jobs {jobs}: {times[jobs]:6.1f} s", flush=True)
    speedup = times[1] / times[2]
    print(f"speedup --jobs 2 vs --jobs 1: {speedup:.2f}x  ({'ok' if speedup >= 1.6 else 'BELOW GOAL 1.6x'})")

    if real:
        for name in ("beras_cnn", "cnn_architectures"):
            a = find_assignment(name)
            sub = reference_submission(a, os.path.join(tmp, "ref", name))
            out = os.path.join(tmp, "refout", name)
            wall = _cli("grade", sub, "--assignment", name, "--out", out, "--profile", "smoke")
            res = json.load(open(os.path.join(out, "results.json")))
            t = res["extra_data"]["timings"]
            print(f"{name} reference (smoke): {res['score']:g}/100, wall {wall:6.1f} s "
                  f"(notebook {t['run_notebook']:.1f} s, hidden tests {t['run_hidden_tests']:.1f} s, "
                  f"grader overhead {overhead(res):.2f} s)", flush=True)
    return times


if __name__ == "__main__":
    main(real="--toy" not in sys.argv)
