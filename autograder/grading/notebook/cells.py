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


def is_written_answer(cell):
    """An nbgrader manual-grade cell: a markdown answer with points, graded by a person, not the grader."""
    return is_grade(cell) and is_solution(cell) and cell.get("cell_type") == "markdown"


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


def definitions(cells, name):
    """The source that defines notebook function/class ``name`` on its own, read by the grader from the
    cells' text (never from the student's process): its last top-level definition, those of the other
    top-level functions, classes and simple assignments it uses (transitively), and the top-level
    imports that bind a name any of them uses. ``cells``: [{"source": ...}] as
    :func:`namespace_cells` gives. None when ``name`` is not defined."""
    import ast
    defs, imports = {}, []
    for cell in cells:
        src = cell["source"] if isinstance(cell, dict) else cell
        try:
            tree = ast.parse(src)
        except SyntaxError:
            continue
        for node in tree.body:
            text = ast.get_source_segment(src, node, padded=True)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                defs[node.name] = (node, text)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                bound = {(a.asname or a.name).split(".")[0] for a in node.names}
                imports.append((bound, text))
            elif isinstance(node, ast.Assign) and all(isinstance(t, ast.Name) for t in node.targets):
                for t in node.targets:
                    defs[t.id] = (node, text)
    if name not in defs:
        return None
    used, todo, order = set(), [name], []
    while todo:
        n = todo.pop()
        if n in used or n not in defs:
            continue
        used.add(n)
        order.append(n)
        todo.extend(x.id for x in ast.walk(defs[n][0]) if isinstance(x, ast.Name))
    names = {x.id for n in order for x in ast.walk(defs[n][0]) if isinstance(x, ast.Name)}
    parts = [text for bound, text in imports if bound & names]
    seen = set()
    for n in reversed(order):          # helpers before their users (definitions run top to bottom)
        text = defs[n][1]
        if text not in seen:
            seen.add(text)
            parts.append(text)
    return "\n".join(parts) + "\n"
