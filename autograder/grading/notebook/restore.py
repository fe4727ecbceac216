"""Restoring (same rule as nbgrader's ``OverwriteCells`` with ``add_missing_cells``, keyed by
``grade_id``): every locked or grade cell comes from the instructor SOURCE (so hidden asserts in it
run too); a student's solution cell keeps the student's source but gets the source's metadata
(tags, flags); a deleted solution cell comes back as the RELEASE stub; deleted locked/grade cells
come back from the source. Cells the student added (no grade_id) stay after the protected cell they
followed. Metadata is never taken from the student, so a student cannot turn a test into a
solution cell or drop a ``grader-namespace`` tag.
"""
from __future__ import annotations

import copy
import re
import secrets

import nbformat

from .cells import grade_id, is_grade, is_locked, is_solution


def restore_cells(student_nb, source_nb, release_nb):
    """The notebook to run: protected cells from ``source_nb``, solutions from the student (or the
    ``release_nb`` stub when missing). Returns (notebook, list of human-readable changes)."""
    changes = []
    release_cells = {grade_id(c): c for c in release_nb.cells if grade_id(c)}
    student_by_id = {}
    extras = {None: []}
    anchor = None
    for cell in (student_nb.cells if student_nb is not None else []):
        gid = grade_id(cell)
        if gid and gid not in student_by_id:
            student_by_id[gid] = cell
            anchor = gid
            extras.setdefault(gid, [])
        else:
            if gid:   # a duplicate of a protected cell: drop its metadata, keep it as an extra
                cell = copy.deepcopy(cell)
                cell["metadata"].pop("nbgrader", None)
            extras.setdefault(anchor, []).append(cell)

    out = []
    source_ids = set()

    def add_extras(key):
        for cell in extras.get(key, []):
            c = copy.deepcopy(cell)
            c.get("metadata", {}).pop("nbgrader", None)
            if "tags" in c.get("metadata", {}):
                c["metadata"]["tags"] = [t for t in c["metadata"]["tags"] if t != "grader-namespace"]
            out.append(c)

    add_extras(None)
    for src in source_nb.cells:
        gid = grade_id(src)
        if not gid:
            continue   # free cells of the source: the student's own copy (if any) is an extra
        source_ids.add(gid)
        cell = copy.deepcopy(src)
        if is_solution(src) and not (is_grade(src) and is_locked(src)):
            stu = student_by_id.get(gid)
            if stu is not None:
                cell["source"] = stu.get("source", "")
                if stu.get("cell_type") != src.get("cell_type"):
                    changes.append(f"cell {gid}: cell type restored to {src['cell_type']}")
            else:
                stub = release_cells.get(gid)
                cell["source"] = stub["source"] if stub is not None else "raise NotImplementedError()"
                changes.append(f"solution cell {gid} was missing: the original (empty) version was used")
        else:
            stu = student_by_id.get(gid)
            if stu is None:
                changes.append(f"protected cell {gid} was missing: restored from the instructor's copy")
            elif stu.get("source", "") != _release_source(release_cells, gid, src):
                changes.append(f"protected cell {gid} was edited: restored from the instructor's copy")
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        out.append(cell)
        add_extras(gid)
    for gid in student_by_id:
        if gid not in source_ids:
            changes.append(f"cell {gid} is not part of the assignment (kept as a plain cell)")
    nb = nbformat.v4.new_notebook()
    nb.metadata = copy.deepcopy(source_nb.metadata)
    seen = set()
    for i, c in enumerate(out):
        c = nbformat.from_dict(c)
        cid = c.get("id") or f"cell-{i}"
        if cid in seen or not re.fullmatch(r"[a-zA-Z0-9-_]{1,64}", str(cid)):
            cid = f"cell-{i}-{secrets.token_hex(3)}"
        seen.add(cid)
        c["id"] = cid
        nb.cells.append(c)
    return nb, changes


def _release_source(release_cells, gid, src):
    rel = release_cells.get(gid)
    return rel["source"] if rel is not None else src["source"]
