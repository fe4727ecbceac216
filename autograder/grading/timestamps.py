"""Submission timestamps, for nbgrader's late penalties: a ``--timestamps`` CSV (student,timestamp),
else the submission's ``timestamp.txt`` (nbgrader's format, folder or zip), else a zip's newest entry."""
from __future__ import annotations

import csv
import os
import zipfile
from datetime import datetime, timezone

from ..errors import GraderError
from .listing import student_id


def read_timestamps(path):
    """{student: aware UTC datetime} from a CSV of student,timestamp (a header row is optional)."""
    out = {}
    try:
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
    except OSError as e:
        raise GraderError(f"--timestamps {path}: {e}") from None
    for n, row in enumerate(rows, 1):
        if not row or not "".join(row).strip() or row[0].strip().startswith("#"):
            continue
        if len(row) < 2:
            raise GraderError(f"--timestamps {path}, line {n}: expected student,timestamp, got {row!r}")
        sid, text = row[0].strip(), row[1].strip()
        if n == 1 and sid.lower() == "student":
            continue
        try:
            out[student_id(sid)] = parse_timestamp(text)
        except ValueError:
            raise GraderError(f"--timestamps {path}, line {n}: {text!r} is not a timestamp "
                                   f"(e.g. 2026-03-01T17:05:00+00:00; no zone = UTC)") from None
    return out


def parse_timestamp(text):
    """ISO 8601 (nbgrader's timestamp.txt format too); a time without a zone is UTC."""
    from nbgrader.utils import parse_utc
    t = parse_utc(text.strip())
    return t.replace(tzinfo=timezone.utc) if t.tzinfo is None else t.astimezone(timezone.utc)


def _zip_entry_time(info):
    """An entry's UTC mtime: the extended-timestamp field (0x5455, written by git archive and
    Info-ZIP) when present, else the DOS date/time read as UTC."""
    extra, i = info.extra, 0
    while i + 4 <= len(extra):
        kind, size = int.from_bytes(extra[i:i + 2], "little"), int.from_bytes(extra[i + 2:i + 4], "little")
        body = extra[i + 4:i + 4 + size]
        if kind == 0x5455 and len(body) >= 5 and body[0] & 1:
            return datetime.fromtimestamp(int.from_bytes(body[1:5], "little", signed=True), timezone.utc)
        i += 4 + size
    return datetime(*info.date_time, tzinfo=timezone.utc)


def submission_timestamp(path):
    """When a submission was made: its ``timestamp.txt`` (nbgrader's convention, in a folder or a
    zip), else a zip's newest entry; None for a folder without timestamp.txt."""
    try:
        if os.path.isdir(path):
            stamp = os.path.join(path, "timestamp.txt")
            if os.path.isfile(stamp):
                with open(stamp) as f:
                    return parse_timestamp(f.read())
            return None
        with zipfile.ZipFile(path) as z:
            infos = [i for i in z.infolist() if not i.is_dir()]
            for i in infos:
                if os.path.basename(i.filename) == "timestamp.txt" and i.file_size < 200:
                    return parse_timestamp(z.read(i).decode(errors="replace"))
            times = [_zip_entry_time(i) for i in infos]
            return max(times) if times else None
    except (OSError, ValueError, zipfile.BadZipFile):
        return None
