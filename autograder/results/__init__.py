"""Rendering grades: results.json (Gradescope format) and feedback.html. Imports nothing of the kit."""
