"""`autograder demo` (`make demo`): the instructor's pipeline on the embedded default.

1. beras's CNN next to its Keras twin on the digits (beras.examples.cnn.side_by_side),
2. release both assignments,
3. grade the reference solutions and the untouched releases (smoke profile, offline, 2 in parallel),
4. print a score table per test; results.json + feedback.html stay under build/demo/.
"""
from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import shutil
import time

from .paths import PROJECT_ROOT



def demo_assignments(root=None):
    """The assignments whose manifest says ``demo = true``, dearest to grade first."""
    from .authoring.spec import find_assignment, valid_assignments
    found = [find_assignment(n, root) for n in valid_assignments(root)]
    return [a for a in sorted(found, key=lambda a: (-a.manifest.demo_cost, a.name)) if a.manifest.demo]


def _section(title):
    print(f"\n{'=' * 78}\n{title}\n{'=' * 78}", flush=True)


def side_by_side():
    try:
        from beras.examples.cnn import side_by_side as run
    except ImportError as e:
        print(f"(beras.examples.cnn.side_by_side not available: {e})")
        return
    run()


def table(name, by_kind):
    """Score table: one row per test, one column per graded submission."""
    kinds = list(by_kind)
    names = []
    for res in by_kind.values():
        for t in res.get("tests", []):
            if t["name"] not in names:
                names.append(t["name"])
    width = min(70, max([len(n) for n in names] + [10]))
    print(f"\n{name}")
    print(f"  {'test':<{width}}  " + "  ".join(f"{k:>10}" for k in kinds))
    for n in names:
        cells = []
        for k in kinds:
            t = next((t for t in by_kind[k].get("tests", []) if t["name"] == n), None)
            cells.append((f"{t['score']:>4g}/{t['max_score']:<5g}" if "score" in t else "by hand") if t else " " * 10)
        print(f"  {n[:width]:<{width}}  " + "  ".join(f"{c:>10}" for c in cells))
    print(f"  {'TOTAL':<{width}}  " + "  ".join(
        f"{by_kind[k]['score']:>4g}/{by_kind[k].get('extra_data', {}).get('max_score', 0):<5g}" for k in kinds))


def demo(out=None, jobs=2, with_side_by_side=True, with_release=True, root=None):
    from .grading.batch import _grade_one
    from .authoring.reference import reference_submission, release_submission
    root = root or PROJECT_ROOT
    out = out or os.path.join(root, "build", "demo")
    t0 = time.monotonic()
    if with_side_by_side:
        _section("1. beras CNN vs Keras CNN on the digits")
        side_by_side()
    if with_release:
        _section("2. release every assignment (nbgrader generate_assignment + stencils + grader bundles)")
        from .authoring.release import release
        for dest in release(root=root):
            print(f"released {dest}")
    _section("3. grade the reference solutions and the untouched releases (smoke profile, offline)")
    subs = os.path.join(out, "submissions")
    shutil.rmtree(subs, ignore_errors=True)
    tasks = []
    assignments = demo_assignments(root)
    for a in assignments:   # dearest first (manifest demo_cost), each reference before its release
        for kind, make in (("reference", reference_submission), ("release", release_submission)):
            path = make(a, os.path.join(subs, a.name, kind))
            tasks.append((a.name, kind, path, a))
    results = {a.name: {} for a in assignments}
    ctx = multiprocessing.get_context("forkserver")
    with cf.ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
        futs = {pool.submit(_grade_one, kind, path, a, os.path.join(out, name), "smoke", None, None): (name, kind)
                for name, kind, path, a in tasks}
        for fut in cf.as_completed(futs):
            name, kind = futs[fut]
            _, res = fut.result()
            results[name][kind] = res
            print(f"  graded {name} {kind}: {res['score']:g} / {res.get('extra_data', {}).get('max_score', 0):g}"
                  f" in {res.get('execution_time', 0):.0f} s", flush=True)
    _section("4. scores per test")
    for name in results:
        table(name, {k: results[name][k] for k in ("reference", "release") if k in results[name]})
    print(f"\nresults.json and feedback.html: {out}/<assignment>/<reference|release>/   "
          f"({time.monotonic() - t0:.0f} s)")
    return 0
