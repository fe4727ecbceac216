"""Rendering grades: one :class:`Results` object per submission (``model.py``; its figures drawn once,
``figures.py``) and its three renderings (``render.py``): results.json in Gradescope's format
(``to_gradescope``), feedback.html (``to_html``) and the CI summary table (``to_summary_markdown``).
Imports nothing of the kit."""
from .model import Results, TestResult, make_results
from .render import to_gradescope, to_html, to_summary_markdown

__all__ = ["Results", "TestResult", "make_results", "to_gradescope", "to_html", "to_summary_markdown"]
