"""`autograder package NAME --out FILE.zip`: a Gradescope autograder zip, plus a GitHub Actions
workflow for student repositories (inside the zip as ``.github/workflows/autograde.yml`` and beside
it as ``<FILE>.autograde.yml``).

Zip layout (Gradescope unpacks it to /autograder/source)::

    setup.sh  run_autograder  requirements.txt  pyproject.toml
    autograder/  beras/  solutions/NAME/  assignments/NAME/  .github/workflows/autograde.yml

``run_autograder`` grades /autograder/submission offline in the smoke profile (Gradescope has no
GPU) and writes /autograder/results/results.json. The workflow is student-side feedback on push:
it fetches this zip from a URL kept in the repository secret AUTOGRADER_ZIP_URL (so the hidden
tests are not in the student's repository; a student who controls the runner can still read them
there, which is why the grade of record comes from Gradescope or `grade-all`).
"""
from __future__ import annotations

import os
import stat
import zipfile

from .submission import PROJECT_ROOT, find_assignment

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

WORKFLOW = """# Autograde {name} on every push: runs the course autograder (smoke profile, CPU) and shows the
# score table in the job summary. The grader zip comes from the repository secret AUTOGRADER_ZIP_URL.
name: autograde
on:
  push:
  workflow_dispatch:
jobs:
  autograde:
    runs-on: ubuntu-latest
    timeout-minutes: 60
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.11"
      - name: Fetch the autograder
        env:
          AUTOGRADER_ZIP_URL: ${{{{ secrets.AUTOGRADER_ZIP_URL }}}}
        run: |
          curl -fsSL "$AUTOGRADER_ZIP_URL" -o /tmp/autograder.zip
          mkdir -p /tmp/grader && unzip -q /tmp/autograder.zip -d /tmp/grader
          python -m pip install --quiet -r /tmp/grader/requirements.txt
      - name: Grade
        run: |
          cd /tmp/grader
          sudo -E env "PATH=$PATH" AUTOGRADER_ROOT=/tmp/grader python -m autograder grade "$GITHUB_WORKSPACE" \\
            --assignment {name} --out "$RUNNER_TEMP/results" --profile smoke
      - name: Score table
        if: always()
        run: |
          cd /tmp/grader
          python -m autograder summary "$RUNNER_TEMP/results/results.json" >> "$GITHUB_STEP_SUMMARY"
      - uses: actions/upload-artifact@v4
        if: always()
        with:
          name: autograder-feedback
          path: ${{{{ runner.temp }}}}/results
"""

REQUIREMENTS = ["numpy==2.4.6", "tensorflow==2.21.0", "keras==3.15.1", "tensorflow-datasets==4.9.10",
                "matplotlib==3.11.2", "scikit-learn==1.9.1", "nbgrader==0.9.6", "nbclient==0.11.0",
                "nbformat==5.11.1", "ipykernel==7.4.0", "psutil==7.2.2"]


def _add_tree(zf, src, arcbase):
    for root, dirs, files in os.walk(src):
        dirs[:] = sorted(d for d in dirs if d not in ("__pycache__", ".ipynb_checkpoints"))
        for f in sorted(files):
            if f.endswith((".pyc", ".pyo")):
                continue
            p = os.path.join(root, f)
            zf.write(p, os.path.join(arcbase, os.path.relpath(p, src)))


def _add_text(zf, arcname, text, executable=False):
    info = zipfile.ZipInfo(arcname, date_time=(2020, 1, 1, 0, 0, 0))
    info.external_attr = ((0o755 if executable else 0o644) | stat.S_IFREG) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, text)


def workflow_yaml(name):
    return WORKFLOW.format(name=name)


def package(name, out, root=None):
    a = find_assignment(name, root)
    out = os.path.abspath(out)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        _add_text(zf, "setup.sh", SETUP_SH, executable=True)
        _add_text(zf, "run_autograder", RUN_AUTOGRADER.format(name=name), executable=True)
        _add_text(zf, "requirements.txt", "\n".join(REQUIREMENTS) + "\n")
        _add_text(zf, ".github/workflows/autograde.yml", workflow_yaml(name))
        pyproject = os.path.join(PROJECT_ROOT, "pyproject.toml")
        if os.path.isfile(pyproject):
            zf.write(pyproject, "pyproject.toml")
        _add_tree(zf, os.path.join(PROJECT_ROOT, "autograder"), "autograder")
        if os.path.isdir(a.instructor_beras):
            _add_tree(zf, a.instructor_beras, "beras")
        _add_tree(zf, a.source_dir, os.path.join("solutions", name))
        _add_tree(zf, a.release_dir, os.path.join("assignments", name))
    beside = os.path.splitext(out)[0] + ".autograde.yml"
    with open(beside, "w") as f:
        f.write(workflow_yaml(name))
    print(f"wrote {out} (Gradescope autograder) and {beside} (GitHub Actions workflow for student repos)")
    return out


def summary_markdown(results):
    """A markdown score table (for $GITHUB_STEP_SUMMARY)."""
    lines = [f"## Autograder: {results.get('score', 0):g} / {results.get('extra_data', {}).get('max_score', 0):g}",
             "", "| Test | Score | Message |", "| --- | --- | --- |"]
    for t in results.get("tests", []):
        msg = str(t.get("output", "")).replace("\n", " ").replace("|", "\\|")[:200]
        lines.append(f"| {t['name']} | {t['score']:g} / {t['max_score']:g} | {msg} |")
    lines += ["", "```", str(results.get("output", ""))[:3000], "```"]
    return "\n".join(lines)
