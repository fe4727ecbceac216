"""nbgrader cell metadata (grade_id, grade / solution / locked flags, tags) and the cell lists the grader
derives from it."""
from __future__ import annotations


def nbg(cell):
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def grade_id(cell):
    return nbg(cell).get("grade_id")


def is_grade(cell):
    return bool(nbg(cell).get("grade"))


def is_solution(cell):
    return bool(nbg(cell).get("solution"))


def is_locked(cell):
    m = nbg(cell)
    return bool(m.get("locked")) or (bool(m.get("grade")) and not m.get("solution"))


def tags(cell):
    return list(cell.get("metadata", {}).get("tags", []) or [])


def cell_keys(nb):
    """A stable name per cell: its grade_id, else ``<the grade_id before it>+<k>`` (the k-th cell without
    one after it), so the reference's timings apply to the student's notebook cell by cell."""
    keys, anchor, k = [], "start", 0
    for c in nb.cells:
        gid = grade_id(c)
        if gid:
            anchor, k = gid, 0
            keys.append(gid)
        else:
            k += 1
            keys.append(f"{anchor}+{k}")
    return keys


def namespace_cells(nb):
    """Code cells tagged ``grader-namespace``, in order (what the hidden-test worker runs)."""
    return [{"id": grade_id(c) or c.get("id"), "source": c["source"]} for c in nb.cells
            if c.get("cell_type") == "code" and "grader-namespace" in tags(c)]
