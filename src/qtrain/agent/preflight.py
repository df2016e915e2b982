"""Everything the config alone shows to be wrong, checked before a run directory exists."""

from __future__ import annotations

from qtrain.config.schema import RunConfig
from qtrain.hpo.proposers import PROPOSERS
from qtrain.modeling import preflight as check_model_and_device


def preflight(config: RunConfig) -> None:
    """Raise the one-line error a run would otherwise reach later: a bad model folder, device
    or quantization (before the model loads), bad ``quantum.solver_options`` (before the
    first QUBO cycle, after a cycle of training). Nothing is loaded or written; an Azure
    solver chain is checked when the run opens it (its credentials take a network call)."""
    check_model_and_device(config)
    q = config.quantum
    chain = list(dict.fromkeys([q.solver_type, *q.fallback]))
    if q.solver_type not in PROPOSERS and "azure" not in chain:
        from qtrain.solvers import build_solver

        build_solver(chain, options=q.solver_options or None)
