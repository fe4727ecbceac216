"""Read once, pass forward: the assignment spec (autograder.authoring.spec.Assignment) is immutable and made
once per grading and once per batch; the manifest is parsed and the grader bundle's notebook read once.

Counted in the grader's own process (the parse and read functions wrapped with counters); the batch's
grader processes are checked too: once the spec is made, the bundle's manifest and notebook are turned
into garbage, so any later read of them, in any process, fails loudly (a grader failure, not 10 points).
"""
import collections
import dataclasses
import os

import nbformat
import pytest

from autograder.authoring import manifest as manifest_mod
from autograder.authoring import spec
from autograder.grading import batch
from autograder.grading.grade import grade
from autograder.isolation.sandbox import Limits
from tests.hostile.toy import make_course, reference_submission

LIM = Limits(cell_timeout=60, call_timeout=60, total_timeout=300, memory_mb=3000)


@pytest.fixture
def counted(tmp_path, monkeypatch):
    """(course, counts): a fresh toy course; counts[(kind, path)] of every manifest parse and notebook read
    in this process. Once a spec is made, the bundle's manifest and notebook are spoiled on disk."""
    course = make_course(str(tmp_path / "course"))
    counts = collections.Counter()
    parse, read, find = manifest_mod.parse, nbformat.read, spec.find_assignment

    def counting_parse(name, text, where=manifest_mod.FILE):
        counts[("manifest", os.path.relpath(where, course))] += 1
        return parse(name, text, where)

    def counting_read(fp, *args, **kwargs):
        counts[("notebook", os.path.relpath(fp, course) if isinstance(fp, str) else "(a file object)")] += 1
        return read(fp, *args, **kwargs)

    def find_then_spoil(name, root=None):
        a = find(name, root)
        for rel in ("assignment.toml", f"{name}.ipynb"):
            with open(os.path.join(a.bundle_dir, rel), "w") as f:
                f.write("[[[ not TOML, not a notebook: read before the spec was made, never after\n")
        return a

    monkeypatch.setattr(manifest_mod, "parse", counting_parse)
    monkeypatch.setattr(nbformat, "read", counting_read)
    monkeypatch.setattr(spec, "find_assignment", find_then_spoil)
    monkeypatch.setattr(batch.subm, "find_assignment", find_then_spoil)   # grade's and grade-all's name
    return course, counts


READ_ONCE = {
    ("manifest", "build/grader/toy/assignment.toml"): 1,   # the spec's
    ("manifest", "solutions/toy/assignment.toml"): 1,      # the bundle's freshness check (the instructor's source)
    ("notebook", "build/grader/toy/toy.ipynb"): 1,         # the grader's notebook
    ("notebook", "assignments/toy/toy.ipynb"): 1,          # the release (stubs of missing solution cells)
}


def _assignment_reads(counts):
    return {k: v for k, v in counts.items() if not k[1].startswith(("..", "/")) and "graded" not in k[1]
            and k[1] != "(a file object)"}


@pytest.mark.slow
def test_one_grading_reads_the_assignment_once(counted, tmp_path):
    course, counts = counted
    res = grade(reference_submission(course, str(tmp_path / "alice")), "toy", str(tmp_path / "out"), "smoke", LIM,
                root=course)
    assert res["score"] == 10, [(t["name"], t["output"]) for t in res["tests"]]
    assert _assignment_reads(counts) == READ_ONCE
    assert counts[("notebook", "(a file object)")] == 1                  # the student's notebook


@pytest.mark.slow
def test_one_batch_reads_the_assignment_once(counted, tmp_path):
    course, counts = counted
    subs = tmp_path / "subs"
    for sid in ("alice", "bob"):
        reference_submission(course, str(subs / sid))
    results = batch.grade_all(str(subs), "toy", str(tmp_path / "out"), jobs=2, profile="smoke", limits=LIM,
                              root=course, log=lambda *_: None)
    assert {sid: r["score"] for sid, r in results.items()} == {"alice": 10, "bob": 10}, results
    assert _assignment_reads(counts) == READ_ONCE     # in the batch's process; its graders read nothing of it


def test_the_spec_is_immutable_and_hands_out_copies(tmp_path):
    course = make_course(str(tmp_path / "course"))
    a = spec.find_assignment("toy", course)
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.manifest = None
    nb = a.source_notebook()
    nb.cells.clear()
    a.marked_files.clear()
    assert a.source_notebook().cells and a.marked_files == ["ops.py"] and a.manifest.stencil == "beras"
