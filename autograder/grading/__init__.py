"""Grading a submission: the pipeline (grade.py), unpacking and assembling (submission.py), the notebook
steps (notebook/), the Student proxy, batches, calibration, similarity. Imports every lower room."""
