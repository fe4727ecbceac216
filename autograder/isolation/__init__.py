"""The sandbox and what runs inside it: sandbox.py (grader side), _boot.py (its first process), worker.py
(the hidden-test worker, sent as source). Imports only the basics (paths)."""
