"""Command line: `autograder COMMAND` / `python -m autograder COMMAND`.

    release [NAME...] [--no-calibrate]         regenerate assignments/ (autograder.authoring.release), then calibrate
    calibrate [NAME...]                        record the reference's time per cell / hidden test (limits)
    new NAME [--stencil PACKAGE]               scaffold a small, complete assignment (docs/authoring.md)
    reference NAME --out DIR                   the reference submission of NAME (instructor notebook + package)
    grade SUBMISSION --assignment NAME --out DIR [--profile auto|smoke|full]
    grade-all SUBMISSIONS --assignment NAME --out DIR [--jobs N] [--shard I/N]
    merge CSV... --out FILE.csv | merge GRADEBOOK.db... --out FILE.db
    similarity SUBMISSIONS --assignment NAME --out DIR   pairs of unusually alike submissions (HTML)
    package NAME --out FILE.zip [--shards N]   Gradescope zip + student and instructor workflows
    summary RESULTS.json                       markdown score table (CI job summary)
    demo                                       the instructor's pipeline on the embedded default

Exit status: 0 when grading finished (whatever the score), 2 when the grader itself cannot run
(unknown assignment, unreadable instructor source, bad arguments), 3 when the grader itself failed
(its process died, a module it needs does not import, a bug): `grade` says so in one line and in
results.json; `grade-all` finished the others, names the failed ones in the summary, leaves them out
of the scores, and the next run grades them.
"""
from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("PYTHONHASHSEED", "0")


def _parser():
    p = argparse.ArgumentParser(prog="autograder", description="Beras course kit: release, grade, package.")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("release", help="regenerate assignments/ from solutions/ ([NAME...] [--root DIR])")
    g = sub.add_parser("grade", help="grade one submission (folder or .zip)")
    g.add_argument("submission")
    g.add_argument("--assignment", required=True)
    g.add_argument("--out", required=True)
    g.add_argument("--profile", default="auto", help="auto (default), smoke, or another profile of the manifest")
    g.add_argument("--root", default=None, help="course root holding solutions/ and assignments/")
    _limit_args(g)
    ga = sub.add_parser("grade-all", help="grade every sub-folder / zip of a folder")
    ga.add_argument("submissions")
    ga.add_argument("--assignment", required=True)
    ga.add_argument("--out", required=True)
    ga.add_argument("--jobs", type=int, default=1)
    ga.add_argument("--shard", default="1/1", help="I/N: grade the I-th of N deterministic slices")
    ga.add_argument("--profile", default="auto", help="auto (default), smoke, or another profile of the manifest")
    ga.add_argument("--root", default=None)
    ga.add_argument("--no-gradebook", action="store_true", help="skip the nbgrader gradebook")
    ga.add_argument("--gradebook", default=None, metavar="PATH",
                    help="write into this (existing course) nbgrader gradebook instead of OUT/gradebook.db")
    ga.add_argument("--timestamps", default=None, metavar="CSV",
                    help="student,timestamp rows (default: each zip's newest entry / timestamp.txt)")
    ga.add_argument("--duedate", default=None, help="the assignment's due date in the gradebook (ISO 8601)")
    ga.add_argument("--nbgrader-config", default=None, metavar="FILE",
                    help="nbgrader_config.py whose late-penalty settings (AssignLatePenalties, LateSubmissionPlugin) apply")
    ga.add_argument("--no-resume", action="store_true",
                    help="regrade everyone (default: keep results graded from the same submission by the same grader)")
    _limit_args(ga)
    m = sub.add_parser("merge", help="merge the score CSVs (--out X.csv) or the gradebooks (--out X.db) of shards")
    m.add_argument("csvs", nargs="+", metavar="FILE")
    m.add_argument("--out", required=True)
    pk = sub.add_parser("package", help="Gradescope autograder zip + student and instructor GitHub workflows")
    pk.add_argument("name")
    pk.add_argument("--out", required=True)
    pk.add_argument("--root", default=None)
    pk.add_argument("--shards", type=int, default=4, help="jobs of the instructor workflow's grading matrix")
    nw = sub.add_parser("new", help="scaffold a small, complete assignment in solutions/NAME (docs/authoring.md)")
    nw.add_argument("name")
    nw.add_argument("--stencil", default=None, help="also create PACKAGE/, a stencil students complete")
    nw.add_argument("--title", default=None)
    nw.add_argument("--root", default=None)
    rf = sub.add_parser("reference", help="write the reference submission of NAME (what a perfect student hands in)")
    rf.add_argument("name")
    rf.add_argument("--out", required=True)
    rf.add_argument("--root", default=None)
    cb = sub.add_parser("calibrate", help="record the reference's time per cell and hidden test (limits)")
    cb.add_argument("names", nargs="*")
    cb.add_argument("--root", default=None)
    sm = sub.add_parser("summary", help="markdown score table of a results.json (for CI job summaries)")
    sm.add_argument("results")
    si = sub.add_parser("similarity", help="pairs of submissions whose student-written code is unusually alike")
    si.add_argument("submissions")
    si.add_argument("--assignment", required=True)
    si.add_argument("--out", required=True)
    si.add_argument("--root", default=None)
    si.add_argument("--threshold", type=float, default=None,
                    help="report pairs at least this similar (0-1; default: unusually alike for this batch)")
    sub.add_parser("demo", help="side-by-side demo, release, grade the references and the releases")
    return p


def _limit_args(p):
    p.add_argument("--cell-timeout", type=float, default=None, help="seconds per notebook cell")
    p.add_argument("--call-timeout", type=float, default=None, help="seconds per hidden-test call")
    p.add_argument("--timeout", type=float, default=None, help="seconds per submission")
    p.add_argument("--memory-mb", type=int, default=None, help="address-space limit of student code")
    p.add_argument("--total-memory-mb", type=int, default=None,
                   help="memory cap of all of a sandbox's processes together (cgroup, where available)")
    p.add_argument("--disk-mb", type=int, default=None, help="disk cap of everything a sandbox writes")


def limits_from(args, profile=None):
    """The limits given on the command line, as overrides of the assignment manifest's profile limits."""
    overrides = {key: getattr(args, attr, None) for attr, key in
                 (("cell_timeout", "cell_timeout"), ("call_timeout", "call_timeout"),
                  ("timeout", "total_timeout"), ("memory_mb", "memory_mb"), ("total_memory_mb", "total_memory_mb"),
                  ("disk_mb", "disk_mb"))}
    return {k: v for k, v in overrides.items() if v is not None} or None


def _grade_one(args):
    """`autograder grade`: 0 once graded; 3 (one line on stderr, and a results.json saying the grader
    failed, not the submission) when the grader itself fails: a module it needs does not import, a bug."""
    import time
    from .errors import GraderError
    t0 = time.monotonic()
    try:
        from .grading.grade import grade
        res = grade(args.submission, args.assignment, args.out, args.profile,
                    limits_from(args, args.profile), root=args.root)
    except GraderError:
        raise
    except Exception as e:  # noqa: BLE001 - the grader's failure: said so in results.json, exit 3
        import json
        from .grading.resume import EXIT_GRADER_FAILED, failure_of
        res = failure_of(e, time.monotonic() - t0)
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "results.json"), "w") as f:
            json.dump(res, f, indent=2)
        print(f"autograder: {res['output']}  ->  {os.path.join(args.out, 'results.json')}", file=sys.stderr)
        return EXIT_GRADER_FAILED
    print(f"{res['score']:g} / {res['extra_data']['max_score']:g}  ->  {os.path.join(args.out, 'results.json')}")
    return 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["release"]:   # release.py owns its arguments: [NAME...] [--root DIR] [--no-calibrate]
        from .authoring.release import main as release_main
        if "--root" not in argv:
            from .authoring.spec import default_root
            argv = argv + ["--root", default_root()]
        calibrate = "--no-calibrate" not in argv
        argv = [a for a in argv if a != "--no-calibrate"]
        status = release_main(argv[1:])
        if calibrate and not status:   # record the reference's timings where they are missing or stale
            from .grading.calibrate import calibrate_stale
            i = argv.index("--root")
            calibrate_stale([a for a in argv[1:i] + argv[i + 2:] if not a.startswith("-")] or None, argv[i + 1])
        return status
    args = _parser().parse_args(argv)
    from .errors import GraderError
    try:
        if args.command == "grade":
            return _grade_one(args)
        if args.command == "grade-all":
            from .grading.batch import grade_all
            from .grading.resume import EXIT_GRADER_FAILED, grader_failures
            results = grade_all(args.submissions, args.assignment, args.out, jobs=args.jobs, shard=args.shard,
                      profile=args.profile, limits=limits_from(args, args.profile), root=args.root,
                      gradebook=not args.no_gradebook, resume=not args.no_resume, timestamps=args.timestamps,
                      gradebook_path=args.gradebook, duedate=args.duedate, nbgrader_config=args.nbgrader_config)
            return EXIT_GRADER_FAILED if grader_failures(results) else 0
        if args.command == "merge":
            from .grading.batch import merge_files
            merge_files(args.csvs, args.out)
            return 0
        if args.command == "similarity":
            from .grading.similarity import similarity
            similarity(args.submissions, args.assignment, args.out, root=args.root, threshold=args.threshold)
            return 0
        if args.command == "package":
            from .authoring.package import package
            package(args.name, args.out, root=args.root, shards=args.shards)
            return 0
        if args.command == "new":
            from .authoring.scaffold import new
            from .authoring.spec import default_root
            for path in new(args.name, os.path.abspath(args.root or default_root()), args.stencil, args.title):
                print(f"wrote {path}")
            print(f"next: autograder release {args.name}   (then grade its reference: docs/authoring.md)")
            return 0
        if args.command == "reference":
            from .authoring.reference import reference_submission
            from .authoring.spec import find_assignment
            print(f"wrote {reference_submission(find_assignment(args.name, args.root), os.path.abspath(args.out))}")
            return 0
        if args.command == "calibrate":
            from .grading.calibrate import calibrate
            from .authoring.spec import valid_assignments
            for name in args.names or valid_assignments(args.root):
                calibrate(name, args.root)
            return 0
        if args.command == "summary":
            import json
            from .results import to_summary_markdown
            try:
                with open(args.results) as f:
                    print(to_summary_markdown(json.load(f)))
            except (OSError, ValueError) as e:
                print(f"## Autograder\n\nno results: {e}")
            return 0
        if args.command == "demo":
            from .demo import demo
            return demo() or 0
    except GraderError as e:
        print(f"autograder: error: {e}", file=sys.stderr)
        return 2
    except ImportError as e:    # the grader's own environment is broken (grade-all: before grading anyone)
        from .grading.resume import EXIT_GRADER_FAILED
        print(f"autograder: error: the grader failed (not a submission): {type(e).__name__}: {e}", file=sys.stderr)
        return EXIT_GRADER_FAILED
    return 0


if __name__ == "__main__":
    sys.exit(main())
