"""The cycle core: plan a cycle from the run's recorded state, conclude it from its records.

Both runners drive this one engine: the in-process agent in a loop, each pipeline step by
restoring it from the state folder, doing its part and writing the state back. It does no
model, data or file work: the event sink, the history and the checkpoint store are passed
in, so events, records, the incumbent, pointers and the stop decision are made only here.
A cycle is a sequence of steps, each resumable from what was recorded before it:

    open_cycle() -> plan() -> announce(plan) -> trial_started / trial_finished -> conclude()

With successive halving (``training.rung_steps``) ``halve(plan, losses)`` picks the rung
that continues. Restored with ``concluded=N`` mid-cycle, the engine keeps cycle N+1's
finished trials as :attr:`pending` and plans that cycle exactly as the interrupted run did
(the proposer is told only concluded cycles; its proposals depend on its seed and those).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from qtrain.config.schema import RunConfig
from qtrain.cycle.early_stopping import EarlyStopping, StopDecision
from qtrain.cycle.lineage import default_params, lineage_trial, next_head
from qtrain.cycle.objective import cycle_context, trial_objective
from qtrain.cycle.plan import CyclePlan, CycleResult, TrialPlan, best_rung, distinct_run_scoped
from qtrain.cycle.replay import replay
from qtrain.cycle.reuse import asked_proposals, reuse
from qtrain.cycle.selection import IncumbentSelector
from qtrain.cycle.state import RunState
from qtrain.errors import AllTrialsFailedError, QtrainError
from qtrain.events import EventLog
from qtrain.history import History, TrialRecord
from qtrain.hpo import make_proposer, proposer_name
from qtrain.hpo.loop_proposer import OptimizerProposer
from qtrain.hpo.proposer import Proposal, Proposer
from qtrain.hpo.space import SearchSpace

if TYPE_CHECKING:
    from qtrain.checkpoints.store import CheckpointStore


class CycleEngine:
    """The loop's decisions for one run, restored from its recorded history.

    Args:
        config: The run's config; ``baseline``: the base model's metrics.
        history: The trials so far; their cycles are replayed (incumbent, early stopping,
            proposals to reuse) silently. Later trials are added to it (and its file).
        concluded: How many recorded cycles were concluded (default: all); the next one's
            trials are the open cycle's :attr:`pending` trials.
        events: Where events go; ``store``: the checkpoint store whose pointers and
            retention it manages (none: a pipeline step that only decides).
        proposer: Default: the one ``quantum.solver_type`` names, built on the first
            :meth:`plan` (only a planning step needs its credentials).
    """

    def __init__(
        self,
        config: RunConfig,
        baseline: dict[str, float],
        history: History | None = None,
        *,
        concluded: int | None = None,
        events: EventLog | None = None,
        store: CheckpointStore | None = None,
        proposer: Proposer | None = None,
    ) -> None:
        from qtrain.checkpoints.retention import RetentionPolicy

        self.config = config
        self.baseline = dict(baseline)
        self.history = history if history is not None else History()
        self.events = events if events is not None else EventLog(None)
        self.store = store
        self.selector = IncumbentSelector.from_config(config)
        self.early_stopping = EarlyStopping.from_config(config)
        self.retention = RetentionPolicy(keep_last=config.storage.keep_last)
        self.cycle = 0
        self.incumbent: TrialRecord | None = None
        self.decision = StopDecision(False)
        self.lineage: TrialRecord | None = None  # quantum.default_lineage: the defaults' head
        self._defaults = default_params(config) if config.quantum.default_lineage else None
        self._proposer = proposer
        self._last_proposals: list[Proposal] = []  # what a reusing cycle repeats (decide)
        self.pending = replay(self, self.history.records, concluded)

    # -- state ---------------------------------------------------------------------------
    @property
    def start_checkpoint(self) -> str | None:
        """The checkpoint the next cycle's trials start from (None: the base model)."""
        return self.incumbent.checkpoint if self.incumbent else None

    def concluded_records(self) -> list[TrialRecord]:
        """The trials of concluded cycles (what the proposer may be told)."""
        return [r for r in self.history.records if r.cycle <= self.cycle]

    @property
    def proposer(self) -> Proposer:
        """The proposer, built on first use."""
        if self._proposer is None:
            self._proposer = make_proposer(
                self.config,
                objective=self.objective,
                incumbent=lambda: self.incumbent,
                context=lambda cycle, start: cycle_context(
                    cycle, start, self.history.records, self.baseline
                ),
            )
        return self._proposer

    @property
    def proposer_name(self) -> str:
        """The name reports give the proposer: fixed, random, optuna-tpe or qubo-SOLVER."""
        if self._proposer is not None:
            return self._proposer.name
        return proposer_name(self.config)

    def run_state(self, run_id: str, started: float) -> RunState:
        """The recorded state after the last concluded cycle."""
        stop, reason = self.decision.stop, self.decision.reason
        return RunState(
            run_id, self.baseline, started, self.cycle, self.start_checkpoint, stop, reason
        )

    def objective(self, record: TrialRecord) -> float:
        """What the optimizer minimises for a finished trial (see :func:`trial_objective`)."""
        return trial_objective(record, self.history.records, self.baseline, self.selector)

    # -- a cycle's steps -----------------------------------------------------------------
    def propose(self, history: list[TrialRecord] | None = None) -> list[Proposal]:
        """The next cycle's k hyperparameter sets (``history``: what the proposer is told).

        Every ``quantum.optimization_frequency`` cycles the proposer is asked again; in
        between, the previous proposals are reused, unless following the incumbent's
        run-scoped values (the adapter's shape) would make two of them the same trial.
        """
        cycle = self.cycle + 1
        k = self.config.training.trials_per_cycle
        frequency = self.config.quantum.optimization_frequency
        if self._last_proposals and (cycle - 1) % frequency != 0:
            reused = reuse(self._last_proposals, self.incumbent, self.config)
            if reused is not None:  # None: two would be the same trial, so ask again
                return reused
        start = time.perf_counter()
        told = self.concluded_records() if history is None else history
        proposals = self.proposer.propose(k, told, cycle)
        elapsed = time.perf_counter() - start
        for p in proposals:
            p.metadata.setdefault("propose_seconds", round(elapsed, 4))
        return proposals

    def plan(self) -> CyclePlan:
        """Plan the next cycle: its trials, from the incumbent, run-scoped values kept fixed (no
        two the same trial)."""
        cycle, start = self.cycle + 1, self.start_checkpoint
        steps, rung = self.config.training.steps_per_cycle, self.config.training.rung_steps
        rung = rung if rung and self.config.training.trials_per_cycle > 1 else None
        proposals = distinct_run_scoped(self.propose(), self.incumbent, self.config)
        trials = [
            TrialPlan(cycle, index, p.params, p.metadata, start, steps, rung)
            for index, p in enumerate(proposals)
        ]
        if self._defaults is not None:
            extra = lineage_trial(trials, self.lineage, self._defaults, self.proposer_name)
            trials += [extra] if extra else []
        return CyclePlan(cycle, start, trials)

    def open_cycle(self) -> None:
        """Announce the next cycle (``cycle_start``), before its proposals are asked for."""
        self.events.emit("cycle_start", cycle=self.cycle + 1, incumbent=self.start_checkpoint)

    def announce(self, plan: CyclePlan) -> None:
        """Announce a planned cycle's trials (``proposals``)."""
        self.events.emit(
            "proposals",
            cycle=plan.cycle,
            proposals=[{"params": t.params, "metadata": t.metadata} for t in plan.trials],
        )

    def trial_started(self, trial: TrialPlan) -> None:
        """Announce that ``trial`` starts training."""
        self.events.emit(
            "trial_start",
            cycle=trial.cycle,
            trial=trial.trial,
            params=trial.params,
            steps=trial.steps,
            start_checkpoint=trial.start_checkpoint,
        )

    def trial_finished(self, record: TrialRecord) -> None:
        """Record a finished (or failed) trial in the history and announce it."""
        self.history.add(record)
        if record.status == "failed":
            self.events.emit(
                "trial_failed", cycle=record.cycle, trial=record.trial, error=record.error
            )
        self.events.emit(
            "trial_end",
            cycle=record.cycle,
            trial=record.trial,
            checkpoint=record.checkpoint,
            metrics=record.metrics,
            train=record.train,
        )

    def halve(self, plan: CyclePlan, rung_losses: dict[int, float]) -> TrialPlan:
        """The trial that continues after the rungs: the lowest eval loss (``rung_losses``:
        trial index -> loss; crashed rungs left out). Emits ``halving``."""
        winner = best_rung(plan, rung_losses)
        self.events.emit(
            "halving",
            cycle=plan.cycle,
            rung_steps=winner.rung_steps,
            losses={str(t): loss for t, loss in sorted(rung_losses.items())},
            winner=winner.trial,
        )
        return winner

    def reconfigure(self, config: RunConfig) -> None:
        """Take changed settings (``qtrain set``): early stopping's limits, the steps of the
        next cycles, and the search space's defaults (the lineage's and the proposer's)."""
        self.config = config
        self.early_stopping.max_cycles = config.early_stopping.max_cycles
        self.early_stopping.patience = config.early_stopping.patience
        self._defaults = default_params(config) if config.quantum.default_lineage else None
        if isinstance(self._proposer, OptimizerProposer):
            self._proposer.use_space(SearchSpace.from_config(config.search_space))

    def cycle_best(self, trials: list[TrialRecord]) -> TrialRecord:
        """The best completed trial of a cycle; a cycle whose every trial failed is an error."""
        best = self.selector.best(trials)
        if best is None:
            errors = "; ".join(f"trial {t.trial}: {t.error}" for t in trials)
            cycle = trials[0].cycle if trials else self.cycle + 1
            raise AllTrialsFailedError(f"every trial of cycle {cycle} failed ({errors})")
        return best

    def conclude(self, plan: CyclePlan, trials: list[TrialRecord]) -> CycleResult:
        """Select the incumbent from the cycle's finished trials and decide whether to stop.

        The trials must already be recorded (:meth:`trial_finished`). Moves the store's
        pointers and emits ``selection`` and ``cycle_end``, then applies retention
        (``retention``): a stop before ``cycle_end`` resumes into this cycle, whose start
        checkpoint retention may delete only once the cycle is recorded.
        """
        cycle_best, improved, decision = self.decide(plan.cycle, trials)
        self.pending = []
        store = self.store
        if store is not None and improved:
            store.set_pointer("incumbent", cycle_best.checkpoint)
            store.set_pointer("best", cycle_best.checkpoint)
        committed = [t.checkpoint for t in trials if t.checkpoint is not None]
        if store is not None and committed:
            store.set_pointer("latest", committed[-1])  # the newest committed trial
        incumbent = self.incumbent
        metric = self.selector.metric
        self.events.emit(
            "selection",
            cycle=plan.cycle,
            cycle_best=cycle_best.checkpoint,
            incumbent=incumbent.checkpoint if incumbent else None,
            metric=metric,
            value=incumbent.metrics[metric] if incumbent else None,
        )
        self.events.emit("cycle_end", cycle=plan.cycle, stop=decision.stop, reason=decision.reason)
        if store is not None:  # only once the cycle is recorded: a resume starts after it
            self.events.sync()  # durably, before the deletions are
            lineage = [self.lineage.checkpoint] if self.lineage and self.lineage.checkpoint else []
            deleted = self.retention.apply(store, protect=lineage)
            if deleted:
                self.events.emit("retention", deleted=deleted)
        return CycleResult(plan.cycle, trials, incumbent, decision, plan.proposals)

    # -- internals -----------------------------------------------------------------------
    def decide(
        self, cycle: int, trials: list[TrialRecord]
    ) -> tuple[TrialRecord, bool, StopDecision]:
        """Make cycle ``cycle``'s decision from its trials, without events or store changes:
        its best trial, whether that is the new incumbent, and the stop decision."""
        if cycle != self.cycle + 1:
            raise QtrainError(f"cycle {cycle} cannot follow cycle {self.cycle}")
        cycle_best = self.cycle_best(trials)
        improved = self.selector.better(cycle_best, self.incumbent)
        if improved:
            self.incumbent = cycle_best
        self.decision = self.early_stopping.update(cycle_best.metrics[self.selector.metric])
        if self._defaults is not None:
            self.lineage = next_head(trials, self.lineage, self._defaults)
        self._last_proposals = asked_proposals(trials) or self._last_proposals
        self.cycle = cycle
        return cycle_best, improved, self.decision
