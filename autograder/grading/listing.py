"""A folder of submissions: one sub-folder or zip per student, and the student ids they give
(`autograder grade-all`, `similarity`, the ``--timestamps`` CSV's ids)."""
from __future__ import annotations

import os
import re

from ..errors import GraderError

SKIP = {".DS_Store", "__MACOSX", "Thumbs.db"}


def student_id(entry):
    sid = entry[:-4] if entry.lower().endswith(".zip") else entry
    return re.sub(r"[^A-Za-z0-9_.@+-]", "_", sid) or "student"


def list_submissions(folder):
    """[(student id, path)] sorted by id: every sub-folder and file (zip) of ``folder``."""
    if not os.path.isdir(folder):
        raise GraderError(f"submissions folder {folder} does not exist")
    out, seen = [], set()
    for entry in sorted(os.listdir(folder)):
        if entry in SKIP or entry.startswith("."):
            continue
        sid = student_id(entry)
        while sid in seen:
            sid += "_"
        seen.add(sid)
        out.append((sid, os.path.join(folder, entry)))
    return out
