"""The cycle loop: propose -> train k trials -> evaluate -> select -> early-stop?"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

from qtrain.agent.early_stopping import EarlyStopping, StopDecision
from qtrain.agent.report import build_report, render_markdown
from qtrain.agent.selection import IncumbentSelector
from qtrain.config.schema import RunConfig
from qtrain.errors import QtrainError, one_line
from qtrain.events import EventLog, Listener
from qtrain.history import History, TrialRecord
from qtrain.hpo.proposer import Proposal, Proposer
from qtrain.rundir import RunDirectory, create_run_directory, write_json_atomic


@dataclass
class CycleResult:
    """What one cycle produced."""

    cycle: int
    trials: list[TrialRecord]
    incumbent: TrialRecord | None
    decision: StopDecision
    proposals: list[Proposal] = field(default_factory=list)


class QuantumTrainingAgent:
    """Runs the quantum-guided fine-tuning loop for one :class:`RunConfig`.

    ``initialize_training()`` loads data and model and creates the run directory;
    ``train_step()`` runs one cycle; ``run()`` loops until early stopping and exports.
    """

    def __init__(
        self,
        config: RunConfig,
        proposer: Proposer | None = None,
        listeners: tuple[Listener, ...] = (),
    ) -> None:
        self.config = config
        self._proposer = proposer
        self._listeners = listeners
        self.cycle = 0
        self.history = History()
        self.selector = IncumbentSelector(
            config.evaluation.selection_metric, config.selection_direction
        )
        self.early_stopping = EarlyStopping(
            patience=config.early_stopping.patience,
            min_delta=config.early_stopping.min_delta,
            max_cycles=config.early_stopping.max_cycles,
            target=config.early_stopping.target,
            direction=config.selection_direction,
        )
        self.incumbent: TrialRecord | None = None
        self.stopped_because: str | None = None
        self.run_dir: RunDirectory | None = None
        self._last_proposals: list[Proposal] = []
        self._started = 0.0

    # -- setup ---------------------------------------------------------------------------
    def initialize_training(self) -> RunDirectory:
        """Create the run directory, prepare the data, load the model; idempotent."""
        if self.run_dir is not None:
            return self.run_dir
        from qtrain.agent.resume import sync_with_store
        from qtrain.checkpoints import RetentionPolicy, open_store
        from qtrain.data import prepare_dataset, save_prepared, validate_data
        from qtrain.training.session import ModelSession

        self._started = time.perf_counter()
        # Bad rows fail here, in seconds, before a large model loads or a run directory exists.
        validated = validate_data(self.config.data)
        self.run_dir = create_run_directory(self.config)
        self.events = EventLog(self.run_dir.events_file)
        for listener in self._listeners:
            self.events.subscribe(listener)
        self.history = History(self.run_dir.history_file)
        self.events.emit("run_start", run_id=self.run_dir.run_id, run_dir=self.run_dir.root)
        self.session = ModelSession(self.config)
        self.events.emit(
            "model_loaded",
            model=self.config.model.name,
            backend=self.session.backend.name,
            device=self.session.device,
        )
        self.data = prepare_dataset(
            self.config.data, self.session.tokenizer, self.config.training.max_length, validated
        )
        save_prepared(self.data, self.run_dir.data_dir)
        self.events.emit("data_ready", report=self.data.report)
        self.store = open_store(self.config.storage, self.run_dir.checkpoints, self.run_dir.run_id)
        self.retention = RetentionPolicy(keep_last=self.config.storage.keep_last)
        self.prepare_decisions(self._evaluate_base_model())
        sync_with_store(self)  # storage.resume: continue from the store; mirror history into it
        return self.run_dir

    def prepare_decisions(self, baseline: dict[str, float], with_proposer: bool = True) -> None:
        """Set up what the loop decides with (proposer, objective baseline), not the model.

        ``initialize_training`` calls this after evaluating the base model; the stateless
        pipeline steps call it with the recorded baseline and then :meth:`replay`. Steps
        that only select or report pass ``with_proposer=False``: building the proposer
        checks solver credentials (Azure), which only the propose step is given.
        """
        from qtrain.hpo import make_proposer

        self.baseline = baseline
        if not hasattr(self, "events"):
            self.events = EventLog(None)
        if not hasattr(self, "store"):
            self.store = None
        if with_proposer:
            self.proposer = self._proposer or make_proposer(
                self.config, objective=self.objective, incumbent=lambda: self.incumbent
            )

    def objective(self, record: TrialRecord) -> float:
        """What the optimizer minimises for a finished trial.

        Trials start from different checkpoints in different cycles, so the raw metric
        mostly says how late the trial ran. The objective is the change the trial made to
        the checkpoint it started from: ``log(after / before)`` for a loss, ``before -
        after`` for a score; within a cycle (same start) it ranks trials like the metric.
        """
        metric = self.selector.metric
        before = self._start_metrics(record.start_checkpoint).get(metric)
        after = record.metrics.get(metric, float("nan"))
        if before is None:
            return after if self.selector.direction == "min" else -after
        if self.selector.direction == "min":
            return math.log(max(after, 1e-12) / max(before, 1e-12))
        return before - after

    # -- the seed's verbs ----------------------------------------------------------------
    def quantum_optimize(self, history: list[TrialRecord]) -> list[Proposal]:
        """Ask the proposer for this cycle's k hyperparameter sets.

        Every ``quantum.optimization_frequency`` cycles the proposer is asked again; in
        between, the previous cycle's proposals are reused.
        """
        k = self.config.training.trials_per_cycle
        frequency = self.config.quantum.optimization_frequency
        if self._last_proposals and (self.cycle - 1) % frequency != 0:
            return [
                Proposal(dict(p.params), {**p.metadata, "reused": True})
                for p in self._last_proposals
            ]
        start = time.perf_counter()
        proposals = self.proposer.propose(k, history, self.cycle)
        elapsed = time.perf_counter() - start
        for p in proposals:
            p.metadata.setdefault("propose_seconds", round(elapsed, 4))
        self._last_proposals = proposals
        return proposals

    def train_step(self) -> CycleResult:
        """Run one cycle: propose, train k trials from the incumbent, select, check stopping."""
        from qtrain.agent.progress import EventCallback
        from qtrain.training.trial import TrialSpec, run_trial

        self.initialize_training()
        proposals = self.plan_cycle()
        start_checkpoint = self.start_checkpoint
        steps = self.config.training.steps_per_cycle
        trials: list[TrialRecord] = []
        for index, proposal in enumerate(proposals):
            spec = TrialSpec(self.cycle, index, proposal.params, steps, start_checkpoint)
            self.events.emit(
                "trial_start",
                cycle=self.cycle,
                trial=index,
                params=proposal.params,
                steps=steps,
                start_checkpoint=start_checkpoint,
            )
            callback = EventCallback(self.events, self.cycle, index, steps)
            try:
                record = run_trial(
                    spec,
                    self.session,
                    self.data.train,
                    self.data.eval,
                    self.config,
                    self.store,
                    [callback],
                    proposal.metadata,
                )
            except (KeyboardInterrupt, QtrainError):
                raise
            except Exception as exc:  # one bad proposal (e.g. OOM) must not end the run
                error = one_line(exc)
                record = TrialRecord(
                    self.cycle,
                    index,
                    proposal.params,
                    start_checkpoint,
                    None,
                    0,
                    {},
                    proposal=proposal.metadata,
                    status="failed",
                    error=error,
                )
                self.events.emit("trial_failed", cycle=self.cycle, trial=index, error=error)
            self.history.add(record)
            trials.append(record)
            self.events.emit(
                "trial_end",
                cycle=self.cycle,
                trial=index,
                checkpoint=record.checkpoint,
                metrics=record.metrics,
                train=record.train,
            )
        return self.conclude_cycle(trials, proposals)

    @property
    def proposer_name(self) -> str:
        """The name reports give the proposer: fixed, random, optuna-tpe or qubo-SOLVER."""
        proposer = getattr(self, "proposer", None)
        if proposer is not None:
            return proposer.name
        solver = self.config.quantum.solver_type
        return solver if solver in ("fixed", "random", "optuna-tpe") else f"qubo-{solver}"

    @property
    def start_checkpoint(self) -> str | None:
        """The checkpoint this cycle's trials start from: the incumbent (None: the base model)."""
        return self.incumbent.checkpoint if self.incumbent else None

    def plan_cycle(self) -> list[Proposal]:
        """Open the next cycle and return its k proposals (run-scoped values kept fixed)."""
        self.cycle += 1
        self.events.emit("cycle_start", cycle=self.cycle, incumbent=self.start_checkpoint)
        proposals = self._keep_run_scoped(self.quantum_optimize(self.history.records))
        self.events.emit(
            "proposals",
            cycle=self.cycle,
            proposals=[{"params": p.params, "metadata": p.metadata} for p in proposals],
        )
        return proposals

    def conclude_cycle(
        self, trials: list[TrialRecord], proposals: list[Proposal] | None = None
    ) -> CycleResult:
        """Select the incumbent from the cycle's finished trials and decide whether to stop.

        The trials must already be in ``self.history``.
        """
        cycle_best = self.selector.best(trials)
        if cycle_best is None:
            errors = "; ".join(f"trial {t.trial}: {t.error}" for t in trials)
            raise QtrainError(f"every trial of cycle {self.cycle} failed ({errors})")
        if self.selector.better(cycle_best, self.incumbent):
            self.incumbent = cycle_best
            if self.store is not None:
                self.store.set_pointer("incumbent", cycle_best.checkpoint)
                self.store.set_pointer("best", cycle_best.checkpoint)
        committed = [t.checkpoint for t in trials if t.checkpoint is not None]
        if self.store is not None and committed:
            self.store.set_pointer("latest", committed[-1])  # the newest committed trial
        self.events.emit(
            "selection",
            cycle=self.cycle,
            cycle_best=cycle_best.checkpoint,
            incumbent=self.incumbent.checkpoint if self.incumbent else None,
            metric=self.selector.metric,
            value=self.incumbent.metrics[self.selector.metric] if self.incumbent else None,
        )
        decision = self.early_stopping.update(cycle_best.metrics[self.selector.metric])
        if self.store is not None:
            deleted = self.retention.apply(self.store)
            if deleted:
                self.events.emit("retention", deleted=deleted)
        self.events.emit("cycle_end", cycle=self.cycle, stop=decision.stop, reason=decision.reason)
        return CycleResult(self.cycle, trials, self.incumbent, decision, list(proposals or []))

    def replay(self, records: list[TrialRecord]) -> CycleResult | None:
        """Re-make the decisions of finished cycles from their records, without training.

        Incumbent, early stopping and the proposals to reuse end as they were after the last
        recorded cycle. The proposer is not asked: its proposals depend only on the seed and
        what it is told (``AskTellOptimizer._rng``), so the next :meth:`plan_cycle` proposes
        what an uninterrupted run would have. Call after :meth:`prepare_decisions`; returns
        the last cycle's result (None: no cycle).
        """
        result = None
        for cycle in sorted({r.cycle for r in records}):
            self.cycle += 1
            if cycle != self.cycle:
                raise QtrainError(f"history skips cycle {self.cycle}: cannot replay it")
            trials = sorted((r for r in records if r.cycle == cycle), key=lambda r: r.trial)
            for record in trials:
                self.history.add(record)
            proposals = [Proposal(dict(r.params), dict(r.proposal)) for r in trials]
            if (cycle - 1) % self.config.quantum.optimization_frequency == 0:
                self._last_proposals = proposals
            result = self.conclude_cycle(trials, proposals)
        return result

    def evaluate(self, checkpoint: str | None = None) -> dict[str, float]:
        """Re-evaluate a committed checkpoint (default: the incumbent) on the held-out rows."""
        from qtrain.evaluation import evaluate_model

        self.initialize_training()
        name = checkpoint or (self.incumbent.checkpoint if self.incumbent else None)
        if name is None:
            raise RuntimeError("nothing to evaluate yet: run a cycle first")
        path = self.store.materialize(name)
        with self.session.trainable(self.config.model.lora, 0, path) as model:
            result = evaluate_model(
                model, self.session.tokenizer, self.data.eval, self.config.evaluation
            )
        self.events.emit("evaluate", checkpoint=name, metrics=result.metrics)
        return result.metrics

    def run(self) -> dict[str, Any]:
        """Cycle until early stopping fires, export the best checkpoint, write the reports."""
        status = "failed"
        try:
            self.initialize_training()
            while True:
                result = self.train_step()
                if result.decision.stop:
                    self.stopped_because = result.decision.reason
                    break
            exports = self._export()
            status = "completed"
        except KeyboardInterrupt:
            status, self.stopped_because = "interrupted", "interrupted by the user"
            raise
        except Exception as exc:
            self.stopped_because = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            if self.run_dir is not None:  # set up far enough to have somewhere to report
                report = self.write_report(status, locals().get("exports", {}))
                self.events.emit(
                    "run_end",
                    status=status,
                    stopped_because=self.stopped_because,
                    run_dir=self.run_dir.root,
                )
                self.events.close()
        return report

    # -- helpers -------------------------------------------------------------------------
    def _evaluate_base_model(self) -> dict[str, float]:
        """Metrics of the starting point, so cycle 1's trials have a 'before' too."""
        from qtrain.evaluation import evaluate_model

        result = evaluate_model(
            self.session.base, self.session.tokenizer, self.data.eval, self.config.evaluation
        )
        self.events.emit("baseline", metrics=result.metrics)
        return result.metrics

    def _keep_run_scoped(self, proposals: list[Proposal]) -> list[Proposal]:
        """After cycle 1 the adapter's shape is fixed: run-scoped values follow the incumbent."""
        if self.incumbent is None:
            return proposals
        run_scoped = {
            n: self.incumbent.params[n]
            for n, spec in self.config.search_space.items()
            if spec.scope == "run" and n in self.incumbent.params
        }
        return [Proposal({**p.params, **run_scoped}, p.metadata) for p in proposals]

    def _start_metrics(self, checkpoint: str | None) -> dict[str, float]:
        if checkpoint is None:
            return self.baseline
        for record in self.history.records:
            if record.checkpoint == checkpoint:
                return record.metrics
        return {}

    def _export(self) -> dict[str, str]:
        from qtrain.export import export_checkpoint

        if self.incumbent is None or self.incumbent.checkpoint is None:
            return {}
        assert self.run_dir is not None
        path = self.store.materialize(self.incumbent.checkpoint)
        exports = export_checkpoint(
            path, self.run_dir.export_dir, self.session, merged=self.config.runtime.export_merged
        )
        self.events.emit("export", checkpoint=self.incumbent.checkpoint, paths=exports)
        return exports

    def write_report(
        self,
        status: str,
        exports: dict[str, str],
        wall_seconds: float | None = None,
        run_id: str | None = None,
    ) -> dict[str, Any]:
        """Write ``report.json`` and ``report.md`` into the run directory; returns the report.

        ``wall_seconds`` and ``run_id`` default to this process's time and the folder name.
        """
        assert self.run_dir is not None
        report = build_report(
            run_id=run_id or self.run_dir.run_id,
            status=status,
            stopped_because=self.stopped_because,
            history=self.history,
            best=self.incumbent,
            wall_seconds=(
                time.perf_counter() - self._started if wall_seconds is None else wall_seconds
            ),
            selection_metric=self.selector.metric,
            extra={
                "run_dir": str(self.run_dir.root),
                "proposer": self.proposer_name,
                "exports": exports,
                "data": getattr(getattr(self, "data", None), "report", None),
                "baseline": getattr(self, "baseline", None),
            },
        )
        write_json_atomic(self.run_dir.report_json, report)
        self.run_dir.report_md.write_text(render_markdown(report), encoding="utf-8")
        return report
