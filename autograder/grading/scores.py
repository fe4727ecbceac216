"""scores.csv (or ``scores-I-of-N.csv`` for a shard): one row per student, one column per scored
test; and the merge of shard CSVs (`autograder merge CSV... --out FILE.csv`)."""
from __future__ import annotations

import csv
import os

from ..errors import GraderError


def test_columns(results):
    cols = []
    for res in results.values():
        for t in res.get("tests", []):
            if "score" in t and t["name"] not in cols:   # a written answer has no score until a person gives it
                cols.append(t["name"])
    return cols


def write_csv(results, path):
    cols = test_columns(results)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["student", "score", "max_score", *cols])
        for sid in sorted(results):
            res = results[sid]
            by_name = {t["name"]: t["score"] for t in res.get("tests", []) if "score" in t}
            w.writerow([sid, f"{res['score']:g}", f"{res.get('extra_data', {}).get('max_score', 0):g}",
                        *[f"{by_name[c]:g}" if c in by_name else "" for c in cols]])
    return path


def merge(csvs, out):
    """Merge score CSVs (shards) into one, one row per student, columns united, sorted by student."""
    rows, cols = {}, ["student", "score", "max_score"]
    for path in csvs:
        with open(path, newline="") as f:
            for row in csv.DictReader(f):
                for c in row:
                    if c not in cols:
                        cols.append(c)
                if row["student"] in rows:
                    raise GraderError(f"student {row['student']} appears in more than one CSV ({path})")
                rows[row["student"]] = row
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        for sid in sorted(rows):
            w.writerow({c: rows[sid].get(c, "") for c in cols})
    return out
