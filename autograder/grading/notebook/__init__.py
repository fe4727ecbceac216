"""Notebook steps, one module each: :mod:`.cells` (nbgrader metadata), :mod:`.restore` (protected
cells from the instructor source), :mod:`.execute` (the sandboxed kernel run with injected tamper
checks) and :mod:`.score` (points per grade cell). This module re-exports their names."""
from .cells import (  # noqa: F401
    cell_keys,
    grade_id,
    is_grade,
    is_locked,
    is_solution,
    is_written_answer,
    namespace_cells,
    nbg,
    tags,
)
from .execute import LOCKED_TOKEN_RE, SNAPSHOT, Injector, NotebookRun, error_output  # noqa: F401
from .restore import restore_cells  # noqa: F401
from .score import determine_grade, last_error, score_cell  # noqa: F401
