"""Ask/tell optimizers (QUBO, random, TPE) as the agent's per-cycle proposer."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from qtrain.config.schema import RunConfig
from qtrain.history import TrialRecord
from qtrain.hpo.proposer import Proposal
from qtrain.hpo.space import SearchSpace

#: Maps a finished trial to the value the optimizer minimises.
Objective = Callable[[TrialRecord], float]


class OptimizerProposer:
    """Feeds finished trials to an ask/tell optimizer and asks it for each cycle's trials.

    Run-scoped parameters (LoRA shape) are chosen in the first cycle only: from cycle 2 on
    they are fixed to the incumbent's values. With ``exploit_incumbent`` and k >= 2 trials,
    one trial per cycle repeats the incumbent's configuration (exploit: keep training the
    way that worked); the optimizer's proposals for the others are distinct and untried
    until the space is exhausted (explore: an untried configuration teaches the surrogate
    more than a repeat).
    """

    def __init__(
        self,
        name: str,
        optimizer: Any,
        space: SearchSpace,
        objective: Objective,
        incumbent: Callable[[], TrialRecord | None],
        exploit_incumbent: bool = True,
    ) -> None:
        self.exploit_incumbent = exploit_incumbent
        self.name = name
        self.optimizer = optimizer
        self.space = space
        self.objective = objective
        self.incumbent = incumbent
        self._told: set[tuple[int, int]] = set()

    def propose(self, n: int, history: list[TrialRecord], cycle: int) -> list[Proposal]:
        """Tell the optimizer every new finished trial, then ask it for ``n`` proposals."""
        for record in history:
            if (record.cycle, record.trial) in self._told:
                continue
            self._told.add((record.cycle, record.trial))
            value = self.objective(record)
            params = {k: record.params[k] for k in self.space.names}
            self.optimizer.tell(params, value if math.isfinite(value) else float("inf"))
        incumbent = self.incumbent()
        if (
            cycle > 1
            and incumbent is not None
            and self.space.run_params
            and not self.optimizer.fixed
        ):
            self.optimizer.fix({p.name: incumbent.params[p.name] for p in self.space.run_params})
        exploit: list[Proposal] = []
        if self.exploit_incumbent and cycle > 1 and incumbent is not None and n >= 2:
            # One trial continues with the configuration that made the incumbent; the
            # optimizer's untried proposals explore with the others.
            params = {k: incumbent.params[k] for k in self.space.names}
            meta = {"proposer": self.name, "source": "incumbent", "incumbent": incumbent.checkpoint}
            exploit = [Proposal(params, meta)]
        proposals = exploit + self.optimizer.ask_proposals(n - len(exploit))
        for p in proposals:
            p.metadata["proposer"] = self.name
        return proposals


def make_optimizer(config: RunConfig) -> tuple[str, Any, SearchSpace]:
    """The ask/tell optimizer named by ``quantum.solver_type`` over ``search_space``."""
    from qtrain.hpo.baselines import RandomSearch, TPESearch
    from qtrain.hpo.optimizer import QuboOptimizer

    q = config.quantum
    space = SearchSpace.from_config(config.search_space)
    if q.solver_type == "random":
        return "random", RandomSearch(space, seed=q.seed), space
    if q.solver_type == "optuna-tpe":
        # TPE leaves random start-up after as many results as the QUBO optimizer's design.
        startup = q.initial_design or max(2, min(10, len(space) + 1))
        return "optuna-tpe", TPESearch(space, seed=q.seed, n_startup_trials=startup), space
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
    )
    if uses_azure:
        # Build the chain now: missing Azure settings or credentials fail at start-up, as one
        # line, instead of sending every cycle to the fallback.
        _ = optimizer.sampler
    return f"qubo-{q.solver_type}", optimizer, space


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
    options.setdefault("state_dir", str(config.output_path() / "azure-jobs"))
    return options
