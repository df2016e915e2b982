"""What a cycle is made of: the planned trials, and what concluding the cycle decided."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from qtrain.errors import AllTrialsFailedError, QtrainError, one_line
from qtrain.history import TrialRecord
from qtrain.hpo.proposer import Proposal
from qtrain.infra_failures import raise_if_infrastructure
from qtrain.rundir import checkpoint_name

if TYPE_CHECKING:
    from qtrain.config.schema import RunConfig
    from qtrain.cycle.early_stopping import StopDecision
    from qtrain.training.trial import TrialSpec


@dataclass(frozen=True)
class TrialPlan:
    """One trial to run: its hyperparameters, where it starts and how long it trains."""

    cycle: int
    trial: int
    params: dict[str, Any]
    metadata: dict[str, Any]
    start_checkpoint: str | None
    steps: int
    rung_steps: int | None = None

    @property
    def name(self) -> str:
        """The checkpoint name this trial commits (``c001-t00``)."""
        return checkpoint_name(self.cycle, self.trial)

    def spec(self) -> TrialSpec:
        """What the trainer needs of this plan."""
        from qtrain.training.trial import TrialSpec

        return TrialSpec(self.cycle, self.trial, self.params, self.steps, self.start_checkpoint)

    def failed_record(self, error: str) -> TrialRecord:
        """The history record of this trial when it crashed (``error``: one line)."""
        return self._uncommitted("failed", 0, {}, error=error)

    def crash_record(self, exc: Exception) -> TrialRecord:
        """The record of this trial after ``exc`` ended it: a failed trial when the trial
        caused it; a user error (:class:`QtrainError`) or a failure of the machine (a full
        disk, an I/O error: :class:`InfrastructureError`) is raised instead."""
        if isinstance(exc, QtrainError):
            raise exc
        raise_if_infrastructure(exc, f"training cycle {self.cycle} trial {self.trial}")
        return self.failed_record(one_line(exc))

    def halved_record(self, eval_loss: float, train: dict[str, float]) -> TrialRecord:
        """The history record of this trial when successive halving stopped it."""
        steps = self.rung_steps or 0
        rung = {"steps": float(steps), "eval_loss": eval_loss}
        return self._uncommitted("halved", steps, {"eval_loss": eval_loss}, train=train, rung=rung)

    def _uncommitted(
        self, status: str, steps: int, metrics: dict[str, float], **fields: Any
    ) -> TrialRecord:
        """A record of this trial that left no checkpoint."""
        return TrialRecord(
            self.cycle, self.trial, self.params, self.start_checkpoint, None, steps, metrics,
            proposal=self.metadata, status=status, **fields,
        )  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        """The plan as plain JSON (a KFP parameter between the propose and train steps)."""
        return {
            "cycle": self.cycle,
            "trial": self.trial,
            "params": self.params,
            "metadata": self.metadata,
            "start_checkpoint": self.start_checkpoint,
            "steps": self.steps,
            "rung_steps": self.rung_steps,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrialPlan:
        """Read :meth:`to_dict`'s output back."""
        return cls(
            cycle=int(data["cycle"]),
            trial=int(data["trial"]),
            params=dict(data["params"]),
            metadata=dict(data.get("metadata") or {}),
            start_checkpoint=data.get("start_checkpoint"),
            steps=int(data["steps"]),
            rung_steps=data.get("rung_steps"),
        )

    @classmethod
    def of_record(cls, record: TrialRecord, steps: int) -> TrialPlan:
        """The plan a finished trial was run from."""
        return cls(
            record.cycle, record.trial, dict(record.params), dict(record.proposal),
            record.start_checkpoint, steps,
        )  # fmt: skip


@dataclass(frozen=True)
class CyclePlan:
    """The trials of one cycle, all starting from the incumbent of the cycle before."""

    cycle: int
    start_checkpoint: str | None
    trials: list[TrialPlan]

    @property
    def proposals(self) -> list[Proposal]:
        """The trials' hyperparameters with how they were proposed."""
        return [Proposal(dict(t.params), dict(t.metadata)) for t in self.trials]

    @classmethod
    def of_records(cls, records: list[TrialRecord], steps: int) -> CyclePlan:
        """The plan a cycle's finished trials were run from (one cycle, in trial order)."""
        trials = [TrialPlan.of_record(r, steps) for r in sorted(records, key=lambda r: r.trial)]
        return cls(trials[0].cycle, trials[0].start_checkpoint, trials)


@dataclass
class CycleResult:
    """What concluding one cycle decided."""

    cycle: int
    trials: list[TrialRecord]
    incumbent: TrialRecord | None
    decision: StopDecision
    proposals: list[Proposal] = field(default_factory=list)


def fix_run_scoped(
    proposals: list[Proposal], incumbent: TrialRecord | None, config: RunConfig
) -> list[Proposal]:
    """After cycle 1 the adapter's shape is fixed: run-scoped values follow the incumbent."""
    if incumbent is None:
        return proposals
    run_scoped = {
        name: incumbent.params[name]
        for name, spec in config.search_space.items()
        if spec.scope == "run" and name in incumbent.params
    }
    return [Proposal({**p.params, **run_scoped}, p.metadata) for p in proposals]


def without_duplicates(proposals: list[Proposal]) -> list[Proposal]:
    """``proposals`` less any with the same values as one before it: from the same start
    two such proposals are the same trial (a proposer that leaves run-scoped values free
    gets them made equal by :func:`fix_run_scoped`)."""
    seen: set[str] = set()
    kept = []
    for proposal in proposals:
        if (key := _trial_key(proposal.params)) not in seen:
            seen.add(key)
            kept.append(proposal)
    return kept


def fresh_proposals(
    more: Callable[[int], list[Proposal]],
    count: int,
    beside: list[dict[str, Any]],
    incumbent: TrialRecord | None,
    config: RunConfig,
    tries: int = 10,
) -> list[Proposal]:
    """``count`` new proposals from ``more`` (a proposer's points not asked before), each a
    trial of its own: run-scoped values follow the incumbent, and none is the same trial as
    another or as ``beside`` (the values of the trials that stay). Fewer only when the
    proposer runs out (or ``tries`` asks did not find enough)."""
    taken = {_trial_key(params) for params in beside}
    fresh: list[Proposal] = []
    for _ in range(tries):
        asked = fix_run_scoped(more(count - len(fresh)), incumbent, config)
        if not asked:
            break
        for proposal in asked:
            if (key := _trial_key(proposal.params)) not in taken:
                taken.add(key)
                fresh.append(proposal)
        if len(fresh) >= count:
            break
    return fresh[:count]


def _trial_key(params: dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True, default=str)


def distinct_run_scoped(
    proposals: list[Proposal], incumbent: TrialRecord | None, config: RunConfig
) -> list[Proposal]:
    """What a cycle trains of ``proposals``: run-scoped values following the incumbent
    (:func:`fix_run_scoped`), then no two the same trial (:func:`without_duplicates`)."""
    return without_duplicates(fix_run_scoped(proposals, incumbent, config))


def best_rung(plan: CyclePlan, rung_losses: dict[int, float]) -> TrialPlan:
    """The trial whose rung reached the lowest eval loss (ties: the lower trial index).

    ``rung_losses`` maps trial index -> eval loss; a crashed rung is left out (or NaN).
    """
    ranked = sorted((loss, trial) for trial, loss in rung_losses.items() if loss == loss)
    if not ranked:
        raise AllTrialsFailedError(f"every trial of cycle {plan.cycle} failed in its rung")
    return plan.trials[ranked[0][1]]
