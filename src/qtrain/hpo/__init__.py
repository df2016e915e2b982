"""Hyperparameter proposers: what the agent asks for each cycle's trials."""

from __future__ import annotations

from collections.abc import Callable

from qtrain.config.schema import RunConfig
from qtrain.history import TrialRecord
from qtrain.hpo.baselines import AskTellOptimizer, RandomSearch, TPESearch
from qtrain.hpo.encoding import Encoding, InfeasibleSampleError
from qtrain.hpo.loop_proposer import Objective
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


def make_proposer(
    config: RunConfig,
    objective: Objective | None = None,
    incumbent: Callable[[], TrialRecord | None] | None = None,
) -> Proposer:
    """The proposer named by ``quantum.solver_type``.

    ``fixed`` uses the configured hyperparameters; every other name wraps an ask/tell
    optimizer (QUBO with that solver, random, optuna-tpe) that is told ``objective(record)``
    for each finished trial and fixes run-scoped parameters to ``incumbent()``'s after cycle 1.
    """
    if config.quantum.solver_type == "fixed":
        return FixedProposer(config)
    from qtrain.hpo.loop_proposer import OptimizerProposer, make_optimizer

    name, optimizer, space = make_optimizer(config)
    return OptimizerProposer(
        name,
        optimizer,
        space,
        objective=objective or (lambda record: record.metrics["eval_loss"]),
        incumbent=incumbent or (lambda: None),
        exploit_incumbent=config.quantum.exploit_incumbent,
    )
