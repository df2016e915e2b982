"""Hyperparameter proposers: what the agent asks for each cycle's trials."""

from __future__ import annotations

from qtrain.hpo.baselines import AskTellOptimizer, RandomSearch
from qtrain.hpo.encoding import Encoding, InfeasibleSampleError
from qtrain.hpo.optimizer import QuboOptimizer
from qtrain.hpo.proposer import FixedProposer, Proposal, Proposer
from qtrain.hpo.proposers import make_proposer, proposer_name
from qtrain.hpo.qubo import build_bqm
from qtrain.hpo.space import Parameter, SearchSpace
from qtrain.hpo.surrogates import BayesianQuadraticRegression, FactorizationMachine
from qtrain.hpo.tpe import TPESearch

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
    "proposer_name",
]
