"""Hyperparameter proposers: what the agent asks for each cycle's trials."""

from __future__ import annotations

from qtrain.config.schema import RunConfig
from qtrain.hpo.baselines import AskTellOptimizer, RandomSearch, TPESearch
from qtrain.hpo.encoding import Encoding, InfeasibleSampleError
from qtrain.hpo.optimizer import QuboOptimizer
from qtrain.hpo.proposer import FixedProposer, Proposal, Proposer
from qtrain.hpo.qubo import build_bqm
from qtrain.hpo.space import Parameter, SearchSpace
from qtrain.hpo.surrogates import BayesianQuadraticRegression, FactorizationMachine

__all__ = [
    "AskTellOptimizer",
    "BayesianQuadraticRegression",
    "Encoding",
    "FactorizationMachine",
    "FixedProposer",
    "InfeasibleSampleError",
    "Parameter",
    "Proposal",
    "Proposer",
    "QuboOptimizer",
    "RandomSearch",
    "SearchSpace",
    "TPESearch",
    "build_bqm",
    "make_proposer",
]


def make_proposer(config: RunConfig) -> Proposer:
    """The proposer named by ``quantum.solver_type``."""
    if config.quantum.solver_type == "fixed":
        return FixedProposer(config)
    raise ValueError(f"unknown proposer {config.quantum.solver_type!r}")
