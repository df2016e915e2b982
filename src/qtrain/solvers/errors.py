"""Solver error types, each a :class:`~qtrain.errors.QtrainError` with a one-line message."""

from __future__ import annotations

from qtrain.errors import QtrainError


class SolverError(QtrainError):
    """A solver could not produce samples (every solver of a fallback chain failed, ...)."""


class SolverSizeError(SolverError):
    """The problem has more variables than the solver accepts (its ``max_variables``)."""


class SolverTimeoutError(SolverError):
    """The solver did not answer within its time limit."""
