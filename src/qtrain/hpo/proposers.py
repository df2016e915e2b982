"""Proposers by name: the one table from ``quantum.solver_type`` to a proposer.

``fixed``, ``random`` and ``optuna-tpe`` have their own builders; every other name is a
QUBO solver and gets the QUBO optimizer with that solver (proposer ``qubo-NAME``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from qtrain.config.schema import RunConfig
from qtrain.history import TrialRecord
from qtrain.hpo.baselines import RandomSearch
from qtrain.hpo.loop_proposer import Objective, OptimizerProposer, TrialContext
from qtrain.hpo.optimizer import QuboOptimizer
from qtrain.hpo.proposer import FixedProposer, Proposer
from qtrain.hpo.space import SearchSpace
from qtrain.hpo.tpe import TPESearch
from qtrain.rundir import AZURE_JOBS_DIR

#: Returns the incumbent trial (None before there is one).
Incumbent = Callable[[], TrialRecord | None]

#: Builds a proposer from the config, the objective, the incumbent getter and the context.
ProposerBuilder = Callable[[RunConfig, Objective, Incumbent, TrialContext | None], Proposer]


def _fixed(
    config: RunConfig,
    objective: Objective,
    incumbent: Incumbent,
    context: TrialContext | None = None,
) -> Proposer:
    """The configured hyperparameters in every trial."""
    return FixedProposer(config)


def _random(
    config: RunConfig,
    objective: Objective,
    incumbent: Incumbent,
    context: TrialContext | None = None,
) -> Proposer:
    """Seeded random search over ``search_space``; the defaults come first, as in the
    QUBO optimizer's initial design."""
    space = SearchSpace.from_config(config.search_space)
    optimizer = RandomSearch(space, seed=config.quantum.seed, queue_default=True)
    return _ask_tell("random", optimizer, space, config, objective, incumbent)


def _optuna_tpe(
    config: RunConfig,
    objective: Objective,
    incumbent: Incumbent,
    context: TrialContext | None = None,
) -> Proposer:
    """Optuna's TPE over ``search_space``; the defaults come first."""
    q = config.quantum
    space = SearchSpace.from_config(config.search_space)
    # TPE leaves random start-up after as many results as the QUBO optimizer's design.
    startup = q.initial_design or max(2, min(10, len(space) + 1))
    optimizer = TPESearch(space, seed=q.seed, n_startup_trials=startup, queue_default=True)
    return _ask_tell("optuna-tpe", optimizer, space, config, objective, incumbent)


def _qubo(
    config: RunConfig,
    objective: Objective,
    incumbent: Incumbent,
    context: TrialContext | None = None,
) -> Proposer:
    """The QUBO optimizer with the solver chain ``solver_type`` + ``fallback``."""
    q = config.quantum
    space = SearchSpace.from_config(config.search_space)
    solver_options = {name: dict(options) for name, options in q.solver_options.items()}
    uses_azure = "azure" in (q.solver_type, *q.fallback)
    if uses_azure:
        solver_options["azure"] = {
            **azure_solver_options(config),
            **solver_options.get("azure", {}),
        }
    optimizer = QuboOptimizer(
        space,
        solver=q.solver_type,
        seed=q.seed,
        surrogate=q.surrogate,
        n_initial=q.initial_design,
        num_reads=q.num_reads,
        fallback=tuple(q.fallback),
        solver_options=solver_options,
        timeout_s=_chain_timeout(config, uses_azure),
        qubo_size_limit=q.qubo_size_limit,
        encoding=q.encoding,
        trust_radius=q.trust_radius,
    )
    if uses_azure:
        # Build the chain now: missing Azure settings or credentials fail at start-up, as one
        # line, instead of sending every cycle to the fallback.
        _ = optimizer.sampler
    name = f"qubo-{q.solver_type}"
    return _ask_tell(name, optimizer, space, config, objective, incumbent, context)


#: The baselines by ``quantum.solver_type``; any other name is a solver for :func:`_qubo`.
PROPOSERS: Mapping[str, ProposerBuilder] = {
    "fixed": _fixed,
    "random": _random,
    "optuna-tpe": _optuna_tpe,
}


def proposer_name(config: RunConfig) -> str:
    """The proposer's name in reports: fixed, random, optuna-tpe or qubo-SOLVER."""
    solver = config.quantum.solver_type
    return solver if solver in PROPOSERS else f"qubo-{solver}"


def make_proposer(
    config: RunConfig,
    objective: Objective | None = None,
    incumbent: Incumbent | None = None,
    context: TrialContext | None = None,
) -> Proposer:
    """The proposer named by ``quantum.solver_type``.

    ``fixed`` uses the configured hyperparameters; every other name wraps an ask/tell
    optimizer (QUBO with that solver, random, optuna-tpe) that is told ``objective(record)``
    for each finished trial (default: its ``eval_loss``) and fixes run-scoped parameters to
    ``incumbent()``'s after cycle 1; the QUBO optimizer also learns from ``context`` (the
    context bits of a cycle: see :func:`qtrain.cycle.objective.cycle_context`).
    """
    build = PROPOSERS.get(config.quantum.solver_type, _qubo)
    return build(
        config,
        objective or (lambda record: record.metrics["eval_loss"]),
        incumbent or (lambda: None),
        context,
    )


def _ask_tell(
    name: str,
    optimizer: Any,
    space: SearchSpace,
    config: RunConfig,
    objective: Objective,
    incumbent: Incumbent,
    context: TrialContext | None = None,
) -> Proposer:
    """``optimizer`` as the agent's per-cycle proposer."""
    return OptimizerProposer(
        name,
        optimizer,
        space,
        objective=objective,
        incumbent=incumbent,
        exploit_incumbent=config.quantum.exploit_incumbent,
        context=context,
    )


def _chain_timeout(config: RunConfig, uses_azure: bool) -> float | None:
    """``quantum.timeout_s``; left unset with azure in the chain, azure's own limits apply.

    The default 60 s suits the classical solvers; an Azure job may queue longer, and the
    azure solver bounds itself (``submit_timeout_s``, ``timeout_s``). A ``quantum.timeout_s``
    given explicitly still applies to every solver of the chain.
    """
    q = config.quantum
    if uses_azure and "timeout_s" not in q.model_fields_set:
        return None
    return q.timeout_s


def azure_solver_options(config: RunConfig) -> dict[str, Any]:
    """``quantum.azure`` as the ``azure`` solver's options (job state under the output dir)."""
    azure = config.quantum.azure
    options = azure.model_dump(exclude_none=True, exclude={"storage"})
    if azure.storage is not None:
        options["storage"] = azure.storage.get_secret_value()
    options.setdefault("state_dir", str(config.output_path() / AZURE_JOBS_DIR))
    return options
