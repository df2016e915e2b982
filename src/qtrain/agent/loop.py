"""The in-process runner: plan a cycle, train its trials here, conclude it; until stopped.

Every decision (trials, incumbent, early stopping, events, report) is the cycle engine's
(:mod:`qtrain.cycle`); this module owns what only an in-process run has: the loaded model,
the prepared data, the run directory and the trainer callbacks.
"""

from __future__ import annotations

import shutil
import time
from typing import TYPE_CHECKING, Any

from qtrain.config.schema import RunConfig
from qtrain.cycle import CycleEngine, CyclePlan, CycleResult, IncumbentSelector, TrialPlan
from qtrain.cycle.closing import RunOutcome, export_incumbent, finish_run
from qtrain.cycle.opening import open_run
from qtrain.errors import QtrainError, one_line
from qtrain.events import EventLog, Listener
from qtrain.history import History, TrialRecord
from qtrain.hpo.proposer import Proposal, Proposer
from qtrain.rundir import RunDirectory, create_run_directory

if TYPE_CHECKING:
    from qtrain.checkpoints.store import CheckpointStore
    from qtrain.data.preprocess import PreparedData
    from qtrain.training.session import ModelSession
    from qtrain.training.trial import RungResult

__all__ = ["CycleResult", "QuantumTrainingAgent"]


class QuantumTrainingAgent:
    """Runs the quantum-guided fine-tuning loop for one :class:`RunConfig` in this process.

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
        self.run_dir: RunDirectory | None = None
        self.events: EventLog | None = None
        self.session: ModelSession | None = None
        self.data: PreparedData | None = None
        self.store: CheckpointStore | None = None
        self.engine: CycleEngine | None = None
        self.stopped_because: str | None = None
        self._started = 0.0

    # -- views of the engine's state -----------------------------------------------------
    @property
    def cycle(self) -> int:
        """The last concluded cycle (0 before the first)."""
        return self.engine.cycle if self.engine else 0

    @property
    def history(self) -> History:
        """Every finished trial so far."""
        return self.engine.history if self.engine else History()

    @property
    def incumbent(self) -> TrialRecord | None:
        """The best trial so far (None: the base model)."""
        return self.engine.incumbent if self.engine else None

    @property
    def selector(self) -> IncumbentSelector:
        """How trials are ranked (the selection metric and its direction)."""
        if self.engine is not None:
            return self.engine.selector
        return IncumbentSelector(
            self.config.evaluation.selection_metric, self.config.selection_direction
        )

    # -- the seed's verbs ----------------------------------------------------------------
    def initialize_training(self) -> RunDirectory:
        """Create the run directory, prepare the data, load the model; idempotent."""
        if self.run_dir is not None:
            return self.run_dir
        from qtrain.agent.resume import StoreSync, keeps_run_files
        from qtrain.checkpoints import open_store
        from qtrain.data import validate_data

        config = self.config
        self._started = time.perf_counter()
        # Bad rows fail here, in seconds, before a large model loads or a run directory exists.
        validated = validate_data(config.data)
        self.run_dir = run_dir = create_run_directory(
            config.output_path(), config.runtime.run_id, config.model_dump(mode="json")
        )
        self.events = events = EventLog(run_dir.events_file)
        for listener in self._listeners:
            events.subscribe(listener)
        events.emit("run_start", run_id=run_dir.run_id, run_dir=run_dir.root)
        self.store = store = open_store(config.storage, run_dir.checkpoints, run_dir.run_id)
        opened = open_run(config, events, validated, run_dir.data_dir)
        self.session, self.data = opened.session, opened.data
        baseline, records = opened.baseline, []
        sync = StoreSync(config, store, run_dir.run_id, events) if keeps_run_files(store) else None
        if sync is not None:  # storage.resume: continue from the store's history
            baseline, records = sync.load(baseline)
        history = History(run_dir.history_file)
        for record in records:
            history.add(record)
        self.engine = CycleEngine(
            config, baseline, history, events=events, store=store, proposer=self._proposer
        )
        _ = self.engine.proposer  # bad solver settings or credentials fail before the store
        if sync is not None:  # records this run
            sync.attach(self.engine)
        return run_dir

    def quantum_optimize(self, history: list[TrialRecord] | None = None) -> list[Proposal]:
        """Ask the proposer for the next cycle's k hyperparameter sets (told ``history``).

        Every ``quantum.optimization_frequency`` cycles the proposer is asked again; in
        between, the previous cycle's proposals are reused.
        """
        self.initialize_training()
        assert self.engine is not None
        return self.engine.propose(history)

    def train_step(self) -> CycleResult:
        """Run one cycle: propose, train k trials from the incumbent, select, check stopping."""
        self.initialize_training()
        assert self.engine is not None
        engine = self.engine
        engine.open_cycle()
        plan = engine.plan()
        engine.announce(plan)
        if any(t.rung_steps for t in plan.trials):
            return engine.conclude(plan, self._halve_and_continue(plan))
        finished = {record.trial: record for record in engine.pending}  # a resumed cycle
        trials = [finished.get(t.trial) or self._run_trial(t) for t in plan.trials]
        return engine.conclude(plan, trials)

    def evaluate(self, checkpoint: str | None = None) -> dict[str, float]:
        """Re-evaluate a committed checkpoint (default: the incumbent) on the held-out rows."""
        from qtrain.evaluation import evaluate_model

        self.initialize_training()
        assert self.store is not None and self.session is not None and self.data is not None
        name = checkpoint or (self.incumbent.checkpoint if self.incumbent else None)
        if name is None:
            raise RuntimeError("nothing to evaluate yet: run a cycle first")
        path = self.store.materialize(name)
        with self.session.trainable(self.config.model.lora, 0, path) as model:
            result = evaluate_model(
                model, self.session.tokenizer, self.data.eval, self.config.evaluation
            )
        assert self.events is not None
        self.events.emit("evaluate", checkpoint=name, metrics=result.metrics)
        return result.metrics

    def run(self) -> dict[str, Any]:
        """Cycle until early stopping fires, export the best checkpoint, write the reports."""
        status, exports = "failed", {}
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
            if self.run_dir is not None and self.events is not None:  # somewhere to report
                outcome = RunOutcome(
                    status,
                    self.stopped_because,
                    time.perf_counter() - self._started,
                    extra={"exports": exports, "data": self.data.report if self.data else None},
                )
                report = finish_run(self.engine, self.config, self.run_dir, self.events, outcome)
        return report

    # -- helpers -------------------------------------------------------------------------
    def _run_trial(self, trial: TrialPlan, rung: RungResult | None = None) -> TrialRecord:
        """Train, evaluate and commit one trial (after ``rung``, the rest of it); a crash is
        recorded as a failed trial."""
        from qtrain.agent.progress import EventCallback
        from qtrain.training.trial import run_trial

        assert self.engine is not None and self.events is not None and self.data is not None
        assert self.session is not None
        if rung is None:
            self.engine.trial_started(trial)
        callback = EventCallback(self.events, trial.cycle, trial.trial, trial.steps)
        try:
            record = run_trial(
                trial.spec(), self.session, self.data.train, self.data.eval, self.config,
                self.store, [callback], trial.metadata, rung,
            )  # fmt: skip
        except (KeyboardInterrupt, QtrainError):
            raise
        except Exception as exc:  # one bad proposal (e.g. OOM) must not end the run
            record = trial.failed_record(one_line(exc))
        self.engine.trial_finished(record)
        return record

    def _halve_and_continue(self, plan: CyclePlan) -> list[TrialRecord]:
        """Successive halving: every candidate trains its rung, the best one the rest of the
        cycle; the others are recorded as halved (crashed rungs as failed). A trial without a
        rung (the default's lineage) trains in full."""
        from qtrain.agent.progress import EventCallback
        from qtrain.training.trial import train_rung

        engine, session, data = self.engine, self.session, self.data
        assert engine is not None and session is not None and data is not None
        assert self.events is not None and self.run_dir is not None and self.store is not None
        rungs, records = {}, {}
        for trial in plan.trials:
            if not trial.rung_steps:
                continue
            start = trial.start_checkpoint
            init_from = self.store.materialize(start) if start else None
            engine.trial_started(trial)
            callback = EventCallback(self.events, trial.cycle, trial.trial, trial.steps)
            work_dir = self.run_dir.rungs_dir / trial.name
            try:
                rungs[trial.trial] = train_rung(
                    trial.spec(), trial.rung_steps or 0, session, data.train, data.eval,
                    self.config, init_from, work_dir, [callback],
                )  # fmt: skip
            except (KeyboardInterrupt, QtrainError):
                raise
            except Exception as exc:  # one bad proposal (e.g. OOM) must not end the run
                records[trial.trial] = trial.failed_record(one_line(exc))
                engine.trial_finished(records[trial.trial])
        try:
            losses = {index: rung.eval_loss for index, rung in rungs.items()}
            winner = engine.halve(plan, losses)
            for index, rung in rungs.items():
                if index != winner.trial:
                    records[index] = plan.trials[index].halved_record(rung.eval_loss, rung.train)
                    engine.trial_finished(records[index])
            records[winner.trial] = self._run_trial(winner, rungs[winner.trial])
            for trial in plan.trials:
                if not trial.rung_steps:
                    records[trial.trial] = self._run_trial(trial)
        finally:
            shutil.rmtree(self.run_dir.rungs_dir, ignore_errors=True)
        return [records[index] for index in sorted(records)]

    def _export(self) -> dict[str, str]:
        incumbent = self.incumbent
        if incumbent is None or incumbent.checkpoint is None:
            return {}
        assert self.store is not None and self.run_dir is not None and self.events is not None
        path = self.store.materialize(incumbent.checkpoint)
        return export_incumbent(path, incumbent.checkpoint, self.run_dir, self.session, self.events)
