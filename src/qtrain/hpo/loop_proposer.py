"""Ask/tell optimizers (QUBO, random, TPE) as the agent's per-cycle proposer.

``qtrain.hpo.proposers`` builds them by name.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from qtrain.history import TrialRecord
from qtrain.hpo.proposer import Proposal
from qtrain.hpo.space import SearchSpace

#: Maps a finished trial to the value the optimizer minimises.
Objective = Callable[[TrialRecord], float]
#: The context bits of a cycle from its index and start checkpoint (None: the base model).
TrialContext = Callable[[int, str | None], tuple[int, ...]]


class OptimizerProposer:
    """Feeds finished trials to an ask/tell optimizer and asks it for each cycle's trials.

    Run-scoped parameters (LoRA shape) are chosen in the first cycle only: from cycle 2 on
    they are fixed to the incumbent's values. With ``exploit_incumbent`` and k >= 2 trials,
    one trial per cycle repeats the incumbent's configuration (exploit: keep training the
    way that worked); the optimizer's proposals for the others are distinct and untried
    until the space is exhausted (explore: an untried configuration teaches the surrogate
    more than a repeat). With ``context``, each trial is told with the context bits of its
    cycle and the optimizer learns the next cycle's before it is asked.
    """

    def __init__(
        self,
        name: str,
        optimizer: Any,
        space: SearchSpace,
        objective: Objective,
        incumbent: Callable[[], TrialRecord | None],
        exploit_incumbent: bool = True,
        context: TrialContext | None = None,
    ) -> None:
        self.exploit_incumbent = exploit_incumbent
        self.context = context
        self.name = name
        self.optimizer = optimizer
        self.space = space
        self.objective = objective
        self.incumbent = incumbent
        self._told: set[tuple[int, int]] = set()

    def more(self, n: int) -> list[Proposal]:
        """``n`` more proposals for the same cycle, distinct from every one asked before
        (guided mode: a person rejected some)."""
        proposals = self.optimizer.ask_proposals(n)
        for p in proposals:
            p.metadata["proposer"] = self.name
        return proposals

    def use_space(self, space: SearchSpace) -> None:
        """The same space with other defaults (``qtrain set search_space.<name>.default``)."""
        self.optimizer.redefault(space)
        self.space = space

    def propose(self, n: int, history: list[TrialRecord], cycle: int) -> list[Proposal]:
        """Tell the optimizer every new finished trial, then ask it for ``n`` proposals."""
        for record in history:
            if (record.cycle, record.trial) in self._told:
                continue
            self._told.add((record.cycle, record.trial))
            params = {k: record.params[k] for k in self.space.names}
            if not self.space.contains(params):  # a person's edit outside the space's levels
                continue
            value = self.objective(record)
            value = value if math.isfinite(value) else float("inf")
            when = self.context(record.cycle, record.start_checkpoint) if self.context else None
            self.optimizer.tell(params, value, context=when)
        incumbent = self.incumbent()
        if self.context is not None:
            self.optimizer.set_context(
                self.context(cycle, incumbent.checkpoint if incumbent else None)
            )
        if (
            cycle > 1
            and incumbent is not None
            and self.space.run_params
            and not self.optimizer.fixed
        ):
            run = {p.name: incumbent.params[p.name] for p in self.space.run_params}
            if all(run[p.name] in p.values for p in self.space.run_params):  # else: an edit
                self.optimizer.fix(run)
        center = {k: incumbent.params[k] for k in self.space.names} if incumbent else None
        self.optimizer.recenter(center if center and self.space.contains(center) else None)
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
