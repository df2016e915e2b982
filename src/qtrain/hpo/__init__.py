"""Hyperparameter proposers: what the agent asks for each cycle's trials."""

from __future__ import annotations

from qtrain.config.schema import RunConfig
from qtrain.hpo.proposer import FixedProposer, Proposal, Proposer

__all__ = ["FixedProposer", "Proposal", "Proposer", "make_proposer"]


def make_proposer(config: RunConfig) -> Proposer:
    """The proposer named by ``quantum.solver_type``."""
    if config.quantum.solver_type == "fixed":
        return FixedProposer(config)
    raise ValueError(f"unknown proposer {config.quantum.solver_type!r}")
