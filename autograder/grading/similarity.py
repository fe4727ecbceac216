"""`autograder similarity SUBMISSIONS --assignment NAME --out DIR`: pairs of submissions whose
student-written code is unusually alike, found with copydetect (winnowed fingerprints of tokenized
code: renamed variables and functions, moved code and changed comments do not hide a copy).

What is compared, per student (``DIR/code/<student>.py``): the code of the notebook's solution
cells and of the code cells the student added, then the stencil files students write (the grader
bundle's marked files). The release's own code (every code cell of the released notebook and its
stencil files) is copydetect's boilerplate: code everyone was given never counts as a match.

Outputs in DIR: ``report.html`` (copydetect's page: flagged pairs side by side with the shared code
highlighted, the similarity matrix and histogram), ``index.html`` (the ranked pairs, the threshold
and why), ``pairs.csv`` (every pair's score).

A pair's score is the mean of copydetect's two similarities (the share of each student's code found
in the other's). "Unusually alike": at least ``--threshold`` when given, else at least
max(0.5, median + 4 x 1.4826 x MAD) of this batch's pair scores, a robust outlier rule: honest work
on the same stencil shares some structure, a copy stands out from it.
"""
from __future__ import annotations

import csv
import html
import os
import shutil
import statistics
import tempfile

import nbformat

from . import notebook as nbk
from . import submission as subm
from .listing import list_submissions

MIN_THRESHOLD = 0.5
NOISE_T, GUARANTEE_T = 15, 20      # copydetect's k-gram sizes in tokens-as-characters (its defaults: 25, 30)


def release_code(a) -> str:
    """The code every student was given: the released notebook's code cells and stencil files."""
    parts = []
    parts += [c.source for c in a.release_notebook().cells if c.cell_type == "code"]
    if a.stencil:
        for rel in a.marked_files:
            p = os.path.join(a.release_dir, a.stencil, rel)
            if os.path.isfile(p):
                with open(p, errors="replace") as f:
                    parts.append(f.read())
    return "\n\n".join(parts) + "\n"


def student_code(path, a) -> tuple[str, list[str]]:
    """(the student-written code of one submission, notes). Unreadable submissions give ''."""
    notes = []
    with tempfile.TemporaryDirectory(prefix="similarity-") as tmp:
        try:
            unpacked = subm.unpack(path, os.path.join(tmp, "sub"))
        except subm.SubmissionError as e:
            return "", [f"unreadable: {e}"]
        root, nb_path, note = subm.locate_notebook(unpacked, a)
        if note:
            notes.append(note)
        parts = []
        if nb_path:
            try:
                student_nb = nbformat.read(nb_path, as_version=4)
            except Exception as e:  # noqa: BLE001 - a broken notebook is the student's problem, not ours
                notes.append(f"notebook unreadable: {type(e).__name__}")
                student_nb = None
            if student_nb is not None:
                source, release = a.source_notebook(), a.release_notebook()
                given = {c.source.strip() for c in release.cells if c.cell_type == "code"}
                restored, _ = nbk.restore_cells(student_nb, source, release)
                for cell in restored.cells:     # the student's answers and added cells, not stubs left as given
                    if cell.cell_type == "code" and cell.source.strip() not in given and (
                            nbk.is_solution(cell) or not nbk.grade_id(cell)):
                        parts.append(cell.source)
        if a.stencil:
            for rel in a.marked_files:
                given = os.path.join(a.release_dir, a.stencil, rel)
                given = open(given, errors="replace").read() if os.path.isfile(given) else None
                for p in (os.path.join(root, a.stencil, rel), os.path.join(root, os.path.basename(rel))):
                    if os.path.isfile(p):      # (flattened uploads: the file beside the notebook)
                        with open(p, errors="replace") as f:
                            text = f.read()
                        if text != given:
                            parts.append(f"# {a.stencil}/{rel}\n" + text)
                        break
    return "\n\n".join(parts) + "\n", notes


def unusual_threshold(scores):
    """max(0.5, median + 4 x 1.4826 x MAD) of the batch's pair scores."""
    if not scores:
        return MIN_THRESHOLD
    med = statistics.median(scores)
    mad = statistics.median(abs(s - med) for s in scores)
    return max(MIN_THRESHOLD, med + 4 * 1.4826 * mad)


def similarity(submissions, assignment, out, root=None, threshold=None, log=print):
    """Write DIR/report.html, index.html, pairs.csv, code/; returns [(score, a, b)] of flagged pairs."""
    import matplotlib
    matplotlib.use("Agg")
    from copydetect import CopyDetector
    if threshold is not None and not 0 <= threshold <= 1:
        raise subm.GraderError(f"--threshold {threshold}: expected a similarity between 0 and 1")
    a = subm.find_assignment(assignment, root)
    subs = list_submissions(submissions)
    if len(subs) < 2:
        raise subm.GraderError(f"similarity needs at least two submissions in {submissions} (found {len(subs)})")
    out = os.path.abspath(out)
    code_dir = os.path.join(out, "code")
    shutil.rmtree(code_dir, ignore_errors=True)
    os.makedirs(code_dir)
    boiler = os.path.join(out, "release_code.py")
    with open(boiler, "w") as f:
        f.write(release_code(a))
    files, notes = {}, {}
    for sid, path in subs:
        code, notes[sid] = student_code(path, a)
        files[sid] = os.path.join(code_dir, f"{sid}.py")
        with open(files[sid], "w") as f:
            f.write(code)
    detector = CopyDetector(boilerplate_dirs=[], extensions=["py"], noise_t=NOISE_T, guarantee_t=GUARANTEE_T,
                            display_t=1.0, autoopen=False, silent=True, out_file=os.path.join(out, "report.html"))
    for sid in sorted(files):
        detector.add_file(files[sid])
    detector.add_file(boiler, type="boilerplate")
    detector.run()
    index = {p: i for i, p in enumerate(detector.test_files)}
    sim = detector.similarity_matrix
    pairs = []
    ids = sorted(files)
    for i, s1 in enumerate(ids):
        for s2 in ids[i + 1:]:
            f1, f2 = files[s1], files[s2]
            if f1 not in detector.file_data or f2 not in detector.file_data:
                continue
            a_sim, b_sim = sim[index[f1], index[f2]]
            a_sim, b_sim = max(a_sim, 0.0), max(b_sim, 0.0)
            pairs.append(((a_sim + b_sim) / 2, s1, s2, a_sim, b_sim))
    pairs.sort(key=lambda p: (-p[0], p[1], p[2]))
    rule = "given (--threshold)" if threshold is not None else "max(0.5, median + 4 x 1.4826 x MAD of this batch)"
    cut = threshold if threshold is not None else unusual_threshold([p[0] for p in pairs])
    flagged = [p for p in pairs if p[0] >= cut]
    # copydetect's page shows the flagged pairs (its display threshold is on one side's similarity)
    detector.conf.display_t = max(0.0, min(min((min(p[3], p[4]) for p in flagged), default=1.0) - 1e-9, 1.0))
    if flagged:
        detector.generate_html_report()
    with open(os.path.join(out, "pairs.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["student_a", "student_b", "score", "share_of_a_in_b", "share_of_b_in_a", "flagged"])
        for score, s1, s2, x, y in pairs:
            w.writerow([s1, s2, f"{score:.3f}", f"{x:.3f}", f"{y:.3f}", int(score >= cut)])
    _write_index(os.path.join(out, "index.html"), a.name, pairs, flagged, cut, rule, notes, bool(flagged))
    for score, s1, s2, *_ in flagged:
        log(f"{s1} ~ {s2}: {score:.2f}")
    log(f"{len(flagged)} of {len(pairs)} pair(s) unusually alike (score >= {cut:.2f}) -> {os.path.join(out, 'index.html')}")
    return [(p[0], p[1], p[2]) for p in flagged]


def _write_index(path, name, pairs, flagged, cut, rule, notes, has_report):
    e = html.escape
    rows = "\n".join(
        f"<tr class='{'flag' if score >= cut else ''}'><td>{e(s1)}</td><td>{e(s2)}</td><td>{score:.2f}</td>"
        f"<td>{x:.2f}</td><td>{y:.2f}</td><td><a href='code/{e(s1)}.py'>code</a> / <a href='code/{e(s2)}.py'>code</a></td></tr>"
        for score, s1, s2, x, y in pairs)
    note_items = "".join(f"<li>{e(s)}: {e('; '.join(n))}</li>" for s, n in sorted(notes.items()) if n)
    report = ("<p>Shared code, highlighted side by side: <a href='report.html'>copydetect's report</a>.</p>"
              if has_report else "<p>No pair is unusually alike.</p>")
    with open(path, "w") as f:
        f.write(f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>Similar submissions: {e(name)}</title>
<style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:.2em .8em;text-align:left}}tr.flag{{background:#fdd}}</style>
</head><body><h1>Similar submissions: {e(name)}</h1>
<p>{len(flagged)} of {len(pairs)} pair(s) unusually alike: score at least {cut:.2f} ({e(rule)}).
The score is the mean share of each student's own code (solution cells, added cells, stencil files students write;
the release's code excluded) found in the other's. A high score is a reason to look, not a verdict.</p>
{report}
<table><tr><th>student</th><th>student</th><th>score</th><th>share of first in second</th><th>share of second in first</th><th>compared code</th></tr>
{rows}
</table>
{('<h2>Notes</h2><ul>' + note_items + '</ul>') if note_items else ''}
</body></html>
""")
