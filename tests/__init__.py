"""The test suite, mirrored on what it tests: beras/, autograder/ (one folder per room), the assignments'
own code and notebooks, benchmarks/, and hostile/ (the hostile submission corpus and its toy course).
Markers (pyproject.toml): ``slow`` (end to end: a grader, a notebook or a batch runs), ``real`` (reads the
session's graded real assignments), ``root`` (needs root: the sandbox's uid and namespace modes)."""
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]   # the project root
