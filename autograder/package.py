"""`autograder package NAME --out FILE.zip`: the Gradescope autograder zip, and two GitHub Actions
workflows written beside it.

Zip layout (Gradescope unpacks it to /autograder/source; nothing in it holds a solution)::

    setup.sh  run_autograder  requirements.txt
    autograder/                   the grader's code
    build/grader/NAME/            the solution-free grader bundle (autograder.bundle): the notebook with
                                  its solution regions cleared, hidden_tests.py, assets, marked-file list
    assignments/NAME/             the student release (stencil, assets)

No ``solutions/`` and no instructor ``beras/``: the grader finds NAME through the shipped bundle.
``run_autograder`` grades /autograder/submission offline in the smoke profile (Gradescope has no GPU)
and writes /autograder/results/results.json.

The workflows (``FILE.student.yml`` and ``FILE.instructor.yml``):

- **student** (``.github/workflows/check.yml`` of each student repository): runs only what is already
  the student's: checks that the expected files are there and the notebook is valid, runs the notebook
  top to bottom with nbclient and reports its visible test cells, uploads the submission zip. It
  downloads no grader and no hidden test, and needs no secret.
- **instructor** (a workflow of the instructor's private grading repository): checks out every
  repository listed in ``roster.txt`` and grades them with ``autograder grade-all --shard I/N`` over
  a job matrix; the grader zip comes from that repository's secrets; a last job merges the shard CSVs
  with ``autograder merge``. This is the grade of record (with Gradescope's).
"""
from __future__ import annotations

import json
import os
import stat
import zipfile

from . import bundle
from .submission import GraderError, find_assignment

AUTOGRADER_DIR = os.path.dirname(os.path.abspath(__file__))
ZIP_DATE = (2020, 1, 1, 0, 0, 0)
SECRET_LIMIT = 48 * 1024           # GitHub Actions secrets hold at most 48 KB
DEFAULT_SHARDS = 4

SETUP_SH = """#!/usr/bin/env bash
# Gradescope: runs once when the autograder image is built (network available here only).
set -euo pipefail
apt-get update -qq && apt-get install -y -qq util-linux mount >/dev/null || true
cd /autograder/source
python3 -m pip install --quiet --no-cache-dir -r requirements.txt
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope: runs per submission, offline. Always leaves /autograder/results/results.json.
set -uo pipefail
cd /autograder/source
export AUTOGRADER_ROOT=/autograder/source TF_CPP_MIN_LOG_LEVEL=3 PYTHONHASHSEED=0
python3 -m autograder grade /autograder/submission --assignment {name} \\
    --out /autograder/results --profile smoke
status=$?
if [ ! -s /autograder/results/results.json ]; then
  mkdir -p /autograder/results
  echo '{{"score": 0, "output": "The autograder could not run (status '"$status"'); please contact the staff.", "tests": []}}' \\
    > /autograder/results/results.json
fi
exit 0
"""

REQUIREMENTS = ["numpy==2.4.6", "tensorflow==2.21.0", "keras==3.15.1", "tensorflow-datasets==4.9.10",
                "matplotlib==3.11.2", "scikit-learn==1.9.1", "nbgrader==0.9.6", "nbclient==0.11.0",
                "nbformat==5.11.1", "ipykernel==7.4.0", "psutil==7.2.2"]
# what the student workflow adds to the release's requirements.txt to run the notebook
NOTEBOOK_RUNNER = ["nbclient==0.11.0", "nbformat==5.11.1", "ipykernel==7.4.0"]

# ---------------------------------------------------------------------------------------------
# (a) the student workflow: only what is already the student's
# ---------------------------------------------------------------------------------------------
STUDENT_WORKFLOW = """# STUDENT repositories of @NAME@: save as .github/workflows/check.yml in each student's repository
# (the repository holds the released assignments/@NAME@/ folder at its root).
# On every push it runs only what is already the student's: the expected files are present and the
# notebook is valid, the notebook runs top to bottom (nbclient) and its visible test cells are
# reported in the job summary, and the submission zip is uploaded as an artifact. It downloads no
# grader and no hidden test and needs no secret: hidden tests run in the instructor's grading
# workflow (@NAME@.instructor.yml) or on Gradescope.
name: check
on:
  push:
  workflow_dispatch:
permissions:
  contents: read
jobs:
  check:
    runs-on: ubuntu-latest
    timeout-minutes: 60
    steps:
      - uses: actions/checkout@v4
        with:
          persist-credentials: false
      - uses: actions/setup-python@v5
        with:
          python-version: "3.11"
      - name: Expected files, valid notebook JSON
        run: |
          python - <<'PY'
          import json, os, sys
          expected = @EXPECTED@
          missing = [f for f in expected if not os.path.isfile(f)]
          if missing:
              sys.exit(f"missing: {', '.join(missing)} (keep the released layout)")
          try:
              with open("@NAME@.ipynb", encoding="utf-8") as f:
                  json.load(f)
          except ValueError as e:
              sys.exit(f"@NAME@.ipynb is not valid JSON: {e}")
          print("found:", ", ".join(expected))
          PY
      - name: Install the assignment's requirements
        run: python -m pip install --quiet -r requirements.txt @RUNNER@
      - name: Run the notebook (visible checks)
        env:
          TF_CPP_MIN_LOG_LEVEL: "3"
        run: |
          python - <<'PY'
          import os, sys
          import nbformat
          from nbclient import NotebookClient
          nb = nbformat.read("@NAME@.ipynb", as_version=4)
          nbformat.validate(nb)
          NotebookClient(nb, timeout=1800, kernel_name="python3", allow_errors=True,
                         resources={"metadata": {"path": os.getcwd()}}).execute()
          os.makedirs(os.path.join(os.environ["RUNNER_TEMP"], "executed"), exist_ok=True)
          nbformat.write(nb, os.path.join(os.environ["RUNNER_TEMP"], "executed", "@NAME@.ipynb"))
          rows, got, total, failed = [], 0.0, 0.0, 0
          for cell in nb.cells:
              meta = cell.get("metadata", {}).get("nbgrader", {})
              if cell.cell_type != "code" or not meta.get("grade"):
                  continue
              points = float(meta.get("points", 0))
              errors = [o for o in cell.outputs if o.get("output_type") == "error"]
              total += points
              if errors:
                  failed += 1
                  why = f"{errors[0].get('ename', '')}: {errors[0].get('evalue', '')}"[:200]
                  rows.append(f"| {meta.get('grade_id')} | 0 / {points:g} | {why.replace('|', '/')} |")
              else:
                  got += points
                  rows.append(f"| {meta.get('grade_id')} | {points:g} / {points:g} | passed |")
          lines = [f"## @NAME@: visible checks {got:g} / {total:g}", "",
                   "Hidden tests are graded by the course staff.", "",
                   "| check | points | result |", "| --- | --- | --- |", *rows]
          with open(os.environ["GITHUB_STEP_SUMMARY"], "a") as f:
              f.write("\\n".join(lines) + "\\n")
          print("\\n".join(lines))
          sys.exit(1 if failed else 0)
          PY
      - name: Package the submission
        if: always()
        run: git archive --format=zip -o "$RUNNER_TEMP/@NAME@-submission.zip" HEAD
      - uses: actions/upload-artifact@v4
        if: always()
        with:
          name: @NAME@-submission
          path: |
            ${{ runner.temp }}/@NAME@-submission.zip
            ${{ runner.temp }}/executed/@NAME@.ipynb
          if-no-files-found: warn
"""

# ---------------------------------------------------------------------------------------------
# (b) the instructor workflow: hidden tests, in the instructor's repository
# ---------------------------------------------------------------------------------------------
FETCH_GRADER = """      - name: Fetch the grader zip (this repository's secrets)
        env:
          AUTOGRADER_ZIP_B64: ${{ secrets.AUTOGRADER_ZIP_B64 }}
          AUTOGRADER_ZIP_PASSPHRASE: ${{ secrets.AUTOGRADER_ZIP_PASSPHRASE }}
          AUTOGRADER_ZIP_URL: ${{ secrets.AUTOGRADER_ZIP_URL }}
          AUTOGRADER_ZIP_TOKEN: ${{ secrets.AUTOGRADER_ZIP_TOKEN }}
        run: |
          set -euo pipefail
          zip="$RUNNER_TEMP/grader.zip"
          if [ -n "$AUTOGRADER_ZIP_B64" ]; then
            printf '%s' "$AUTOGRADER_ZIP_B64" | base64 -d > "$zip"
          elif [ -f grader.zip.gpg ] && [ -n "$AUTOGRADER_ZIP_PASSPHRASE" ]; then
            gpg --quiet --batch --yes --passphrase "$AUTOGRADER_ZIP_PASSPHRASE" --output "$zip" --decrypt grader.zip.gpg
          elif [ -n "$AUTOGRADER_ZIP_URL" ]; then
            auth=()
            if [ -n "$AUTOGRADER_ZIP_TOKEN" ]; then auth=(-H "Authorization: Bearer $AUTOGRADER_ZIP_TOKEN"); fi
            curl -fsSL "${auth[@]}" -o "$zip" "$AUTOGRADER_ZIP_URL"
          else
            echo "::error::set the secret AUTOGRADER_ZIP_B64, or commit grader.zip.gpg and set AUTOGRADER_ZIP_PASSPHRASE, or set AUTOGRADER_ZIP_URL"
            exit 1
          fi
          mkdir -p "$RUNNER_TEMP/grader"
          unzip -q "$zip" -d "$RUNNER_TEMP/grader"
          rm -f "$zip"
"""

INSTRUCTOR_WORKFLOW = """# INSTRUCTOR grading of @NAME@ (the grade of record, with the hidden tests). Save as
# .github/workflows/grade-@NAME@.yml in the instructor's PRIVATE grading repository, next to a file
# roster.txt: one student repository per line, "owner/repo" optionally followed by a student id
# (default: the repository name); blank lines and lines starting with # are skipped.
# Repository secrets:
#   ROSTER_TOKEN         a token that can read every repository of the roster (contents: read)
# and the grader zip (`autograder package @NAME@ --out grader.zip`), the first of these that is set:
#   AUTOGRADER_ZIP_B64   the zip, base64-encoded (secrets hold at most 48 KB: small zips only);
#   AUTOGRADER_ZIP_PASSPHRASE  with grader.zip.gpg committed in this repository
#                        (`gpg --symmetric --cipher-algo AES256 grader.zip`; GitHub's way to keep a
#                        larger secret);
#   AUTOGRADER_ZIP_URL   a private download URL of the zip (+ AUTOGRADER_ZIP_TOKEN, a bearer token
#                        for it, if the URL needs one).
# Run it from the Actions tab (workflow_dispatch): @SHARDS@ jobs each grade one deterministic shard with
# `autograder grade-all --shard I/@SHARDS@` (student code sandboxed as root); the merge job joins the
# shard CSVs with `autograder merge` into scores.csv. Every student's results.json and feedback.html
# are in the shard artifacts.
name: grade-@NAME@
on:
  workflow_dispatch:
    inputs:
      ref:
        description: "branch or tag of each student repository to grade (empty: its default branch)"
        required: false
        default: ""
permissions:
  contents: read
concurrency:
  group: grade-@NAME@
jobs:
  grade:
    name: grade shard ${{ matrix.shard }} of @SHARDS@
    runs-on: ubuntu-latest
    timeout-minutes: 350
    strategy:
      fail-fast: false
      matrix:
        shard: @MATRIX@
    steps:
      - uses: actions/checkout@v4
        with:
          persist-credentials: false
      - uses: actions/setup-python@v5
        with:
          python-version: "3.11"
@FETCH@      - name: Install the grader's requirements
        run: python -m pip install --quiet -r "$RUNNER_TEMP/grader/requirements.txt"
      - name: Check out the roster's repositories
        env:
          ROSTER_TOKEN: ${{ secrets.ROSTER_TOKEN }}
          REF: ${{ inputs.ref }}
        run: |
          set -euo pipefail
          subs="$RUNNER_TEMP/submissions"
          mkdir -p "$subs" "$RUNNER_TEMP/out"
          auth="AUTHORIZATION: basic $(printf 'x-access-token:%s' "$ROSTER_TOKEN" | base64 -w0)"
          branch=()
          if [ -n "$REF" ]; then branch=(--branch "$REF"); fi
          grep -v -E '^[[:space:]]*(#|$)' roster.txt | while read -r repo sid _; do
            sid="${sid:-${repo##*/}}"
            if git -c "http.extraheader=$auth" clone --quiet --depth 1 "${branch[@]}" \\
                "${GITHUB_SERVER_URL:-https://github.com}/$repo.git" "$subs/$sid"; then
              printf '%s\\t%s\\t%s\\n' "$sid" "$repo" "$(git -C "$subs/$sid" rev-parse HEAD)" >> "$RUNNER_TEMP/out/commits.tsv"
              rm -rf "$subs/$sid/.git"
            else
              echo "::warning::could not clone $repo"
            fi
          done
      - name: Grade shard ${{ matrix.shard }} of @SHARDS@
        env:
          SHARD: ${{ matrix.shard }}
        run: |
          cd "$RUNNER_TEMP/grader"
          sudo -E env "PATH=$PATH" AUTOGRADER_ROOT="$RUNNER_TEMP/grader" python -m autograder grade-all \\
            "$RUNNER_TEMP/submissions" --assignment @NAME@ --out "$RUNNER_TEMP/out" \\
            --shard "$SHARD/@SHARDS@" --profile auto --jobs 2 --no-gradebook
      - uses: actions/upload-artifact@v4
        if: always()
        with:
          name: shard-${{ matrix.shard }}
          path: ${{ runner.temp }}/out
  merge:
    needs: grade
    if: always()
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with:
          persist-credentials: false
      - uses: actions/setup-python@v5
        with:
          python-version: "3.11"
@FETCH@      - uses: actions/download-artifact@v4
        with:
          pattern: shard-*
          path: ${{ runner.temp }}/shards
      - name: Merge the shard CSVs
        run: |
          cd "$RUNNER_TEMP/grader"
          python -m autograder merge "$RUNNER_TEMP"/shards/shard-*/scores-*-of-@SHARDS@.csv --out "$RUNNER_TEMP/scores.csv"
          { echo "## @NAME@: scores"; echo; echo '```'; cat "$RUNNER_TEMP/scores.csv"; echo '```'; } >> "$GITHUB_STEP_SUMMARY"
      - uses: actions/upload-artifact@v4
        with:
          name: scores-@NAME@
          path: ${{ runner.temp }}/scores.csv
"""


def expected_files(a):
    """What a student repository must hold: the notebook and, for a stencil, the files students write."""
    files = [a.notebook]
    if a.has_stencil:
        files += [f"{a.stencil}/{rel}" for rel in a.marked_files]
    return files


def student_workflow(a):
    return (STUDENT_WORKFLOW.replace("@EXPECTED@", json.dumps(expected_files(a)))
            .replace("@RUNNER@", " ".join(NOTEBOOK_RUNNER)).replace("@NAME@", a.name))


def instructor_workflow(a, shards=DEFAULT_SHARDS):
    shards = int(shards)
    if shards < 1:
        raise GraderError(f"--shards must be at least 1, got {shards}")
    return (INSTRUCTOR_WORKFLOW.replace("@FETCH@", FETCH_GRADER)
            .replace("@MATRIX@", json.dumps(list(range(1, shards + 1))))
            .replace("@SHARDS@", str(shards)).replace("@NAME@", a.name))


def _info(arcname, executable=False):
    info = zipfile.ZipInfo(arcname, date_time=ZIP_DATE)
    info.external_attr = ((0o755 if executable else 0o644) | stat.S_IFREG) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def _add_text(zf, arcname, text, executable=False):
    zf.writestr(_info(arcname, executable), text)


def _add_tree(zf, src, arcbase):
    """Every file under ``src`` (caches and dot-files skipped), in sorted order, with fixed dates."""
    for root, dirs, files in os.walk(src):
        dirs[:] = sorted(d for d in dirs if d not in ("__pycache__", ".ipynb_checkpoints") and not d.startswith("."))
        for f in sorted(files):
            if f.endswith((".pyc", ".pyo")) or f.startswith("."):
                continue
            p = os.path.join(root, f)
            with open(p, "rb") as fh:
                zf.writestr(_info(os.path.join(arcbase, os.path.relpath(p, src)).replace(os.sep, "/")), fh.read())


def package(name, out, root=None, shards=DEFAULT_SHARDS, log=print):
    """Write the Gradescope zip ``out`` and the two workflows beside it; returns their paths."""
    a = find_assignment(name, root)      # builds / refreshes the grader bundle
    out = os.path.abspath(out)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        _add_text(zf, "setup.sh", SETUP_SH, executable=True)
        _add_text(zf, "run_autograder", RUN_AUTOGRADER.format(name=name), executable=True)
        _add_text(zf, "requirements.txt", "\n".join(REQUIREMENTS) + "\n")
        _add_tree(zf, AUTOGRADER_DIR, "autograder")
        _add_tree(zf, a.bundle_dir, "/".join((*bundle.BUNDLE_PARTS, name)))
        _add_tree(zf, a.release_dir, f"assignments/{name}")
    stem = os.path.splitext(out)[0]
    student, instructor = f"{stem}.student.yml", f"{stem}.instructor.yml"
    with open(student, "w") as f:
        f.write(student_workflow(a))
    with open(instructor, "w") as f:
        f.write(instructor_workflow(a, shards))
    size = os.path.getsize(out)
    fits = "fits" if 4 * ((size + 2) // 3) <= SECRET_LIMIT else "does not fit"
    log(f"wrote {out}\n"
        f"  the Gradescope autograder ({size // 1024} KB; grader bundle + release + grader code, no solution).\n"
        f"  It holds the hidden tests: keep it private.\n"
        f"wrote {student}\n"
        f"  STUDENT workflow: .github/workflows/check.yml of each student repository (visible checks,\n"
        f"  file validation, submission zip; no grader, no hidden test, no secret).\n"
        f"wrote {instructor}\n"
        f"  INSTRUCTOR workflow: your private grading repository (with roster.txt); grades the roster with\n"
        f"  grade-all --shard over {shards} jobs and merges the CSVs. Secrets: ROSTER_TOKEN, and the zip as\n"
        f"  AUTOGRADER_ZIP_B64 (base64; this zip {fits} in a 48 KB secret), or grader.zip.gpg +\n"
        f"  AUTOGRADER_ZIP_PASSPHRASE, or AUTOGRADER_ZIP_URL (see the workflow's header).")
    return out, student, instructor


def summary_markdown(results):
    """A markdown score table (for $GITHUB_STEP_SUMMARY)."""
    lines = [f"## Autograder: {results.get('score', 0):g} / {results.get('extra_data', {}).get('max_score', 0):g}",
             "", "| Test | Score | Message |", "| --- | --- | --- |"]
    for t in results.get("tests", []):
        msg = str(t.get("output", "")).replace("\n", " ").replace("|", "\\|")[:200]
        lines.append(f"| {t['name']} | {t['score']:g} / {t['max_score']:g} | {msg} |")
    lines += ["", "```", str(results.get("output", ""))[:3000], "```"]
    return "\n".join(lines)
