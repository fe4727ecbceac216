"""The parity table: every beras op, layer, loss, metric and optimizer beside its TF/Keras twin.

A :class:`Row` names a case, a beras function, the TF function it mirrors, and a hypothesis
strategy that draws the input arrays for a dtype. ``tests/beras/test_parity.py`` runs every row
in float64 (tight) and float32 (loose), comparing values and gradients w.r.t. every input.
Adding an op means adding a row to one of the ``rows_*`` modules.
"""
from .table import ROWS, Row  # noqa: F401
