"""The in-process runner: plan a cycle, train its trials here, conclude it; until stopped.

Every decision (trials, incumbent, early stopping, events, report) is the cycle engine's
(:mod:`qtrain.cycle`); this module owns the model, data, run directory and trainer callbacks.
"""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qtrain.agent import control_hooks as hooks
from qtrain.agent.run_settings import apply_settings, check_settings
from qtrain.agent.tensorboard import tensorboard_log
from qtrain.config.schema import RunConfig
from qtrain.control import ControlFolder, RunController, RunLock, RunStatus, StopRequested
from qtrain.cycle import CycleEngine, CycleResult, IncumbentSelector, TrialPlan
from qtrain.cycle.closing import RunOutcome, export_incumbent, finish_run
from qtrain.cycle.opening import open_run
from qtrain.events import EventLog, Listener
from qtrain.history import History, TrialRecord
from qtrain.hpo.proposer import Proposal, Proposer
from qtrain.infra_failures import as_infrastructure_error
from qtrain.rundir import RunDirectory, create_run_directory

if TYPE_CHECKING:
    from qtrain.checkpoints.store import CheckpointStore
    from qtrain.data.preprocess import PreparedData
    from qtrain.training.session import ModelSession
    from qtrain.training.trial import RungResult

__all__ = ["CycleResult", "QuantumTrainingAgent"]


class QuantumTrainingAgent:
    """Runs the quantum-guided fine-tuning loop for one :class:`RunConfig` in this process.

    ``initialize_training()`` loads data and model and creates (``resume``: takes over) the
    run directory; ``train_step()`` runs one cycle; ``run()`` loops until early stopping and
    exports. Commands (:mod:`qtrain.control`) are read after every step, trial and cycle.
    """

    def __init__(
        self,
        config: RunConfig,
        proposer: Proposer | None = None,
        listeners: tuple[Listener, ...] = (),
        resume: Path | None = None,
    ) -> None:
        self.config = config
        self.resume_dir = resume
        self._proposer = proposer
        self._listeners = (*listeners, *tensorboard_log(config))
        self.run_dir: RunDirectory | None = None
        self.events: EventLog | None = None
        self.session: ModelSession | None = None
        self.data: PreparedData | None = None
        self.store: CheckpointStore | None = None
        self.engine: CycleEngine | None = None
        self.stopped_because: str | None = None
        self.controller: RunController | None = None
        self.lock: RunLock | None = None
        self.exit_code = 0
        self._started = 0.0

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
        from qtrain.agent.preflight import preflight
        from qtrain.agent.resume import StoreSync, keeps_run_files
        from qtrain.agent.run_resume import read_resume_point, reconcile_resumed, rewrite_history
        from qtrain.checkpoints import open_store
        from qtrain.data import validate_data

        config = self.config
        self._started = time.perf_counter()
        validated = validate_data(config.data)  # bad rows fail in seconds, before any load
        preflight(config)  # as do a bad model folder, device, quantization, solver options
        if self.resume_dir is None:
            run_dir = create_run_directory(
                config.output_path(), config.runtime.run_id, config.model_dump(mode="json")
            )
        else:
            run_dir = RunDirectory(self.resume_dir)
        control = ControlFolder.of(run_dir.root)
        self.lock = RunLock(control.lock, run=f"run {run_dir.run_id}")
        self.lock.acquire()
        point = None if self.resume_dir is None else read_resume_point(run_dir, config)  # no write
        self.run_dir = run_dir
        self.events = events = EventLog(run_dir.events_file)
        for listener in self._listeners:
            events.subscribe(listener)
        status = RunStatus("starting", run_dir.run_id, max_cycles=config.early_stopping.max_cycles)
        self.controller = RunController(control, events, status, partial(check_settings, self))
        hooks.guard_with_lock(self.controller, self.lock)
        events.emit("run_start", run_id=run_dir.run_id, run_dir=run_dir.root)
        self.store = store = open_store(config.storage, run_dir.checkpoints, run_dir.run_id)
        opened = open_run(config, events, validated, run_dir.data_dir)
        self.session, self.data = opened.session, opened.data
        baseline, records, concluded = opened.baseline, [], None
        sync = StoreSync(config, store, run_dir.run_id, events) if keeps_run_files(store) else None
        if point is not None:  # qtrain run --resume: the run directory says where
            baseline, records = point.baseline or baseline, point.records
            concluded = point.concluded
        elif sync is not None:  # storage.resume: continue from the store's history
            baseline, records = sync.load(baseline)
        history = rewrite_history(run_dir, records)
        self.engine = CycleEngine(
            config, baseline, history, concluded=concluded, events=events, store=store,
            proposer=self._proposer,
        )  # fmt: skip
        _ = self.engine.proposer  # bad solver settings or credentials fail before the store
        if point is not None:
            reconcile_resumed(self, point.dropped)
        if sync is not None:  # records this run
            sync.attach(self.engine, reconcile=point is None)
        self.controller.set_state("running", cycle=self.engine.cycle)
        self.controller.watch()
        return run_dir

    def quantum_optimize(self, history: list[TrialRecord] | None = None) -> list[Proposal]:
        """Ask the proposer for the next cycle's k hyperparameter sets (told ``history``).

        Every ``quantum.optimization_frequency`` cycles it is asked again; in between, the
        previous cycle's proposals are reused."""
        self.initialize_training()
        assert self.engine is not None
        return self.engine.propose(history)

    def train_step(self) -> CycleResult:
        """Run one cycle: propose, train k trials from the incumbent, select, check stopping."""
        from qtrain.agent.guided import decide_plan
        from qtrain.agent.halving import halve_and_continue

        self.initialize_training()
        assert self.engine is not None and self.controller is not None
        engine = self.engine
        engine.open_cycle()
        plan = engine.plan()
        engine.announce(plan)
        if self.config.runtime.mode == "guided":
            plan = decide_plan(self, plan)  # a person decides before any compute
        self.controller.progress(cycle=plan.cycle, trial=None, step=None)
        if any(t.rung_steps for t in plan.trials):
            trials = halve_and_continue(self, plan)
        else:
            finished = {record.trial: record for record in engine.pending}  # a resumed cycle
            trials = [finished.get(t.trial) or self.run_trial(t) for t in plan.trials]
        apply_settings(self)  # qtrain set: from this decision on
        result = engine.conclude(plan, trials)
        incumbent = engine.incumbent
        self.controller.progress(
            cycle=plan.cycle, trial=None, step=None,
            incumbent=incumbent.checkpoint if incumbent else None,
            metrics=dict(incumbent.metrics) if incumbent else {},
        )  # fmt: skip
        if not result.decision.stop:
            self.controller.check("cycle")
        return result

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
        """Cycle until early stopping or a stop, export the best checkpoint, write the reports.
        A stop (``qtrain stop``, Ctrl-C, SIGTERM) leaves it resumable; see :attr:`exit_code`."""
        status, exports = "failed", {}
        try:
            self.initialize_training()
            assert self.engine is not None and self.controller is not None
            with hooks.stop_on_signals(self.controller):
                while not self.engine.decision.stop:
                    self.train_step()
                self.stopped_because = self.engine.decision.reason
                self.controller.set_state("exporting")
                exports = self._export()
                self.controller.run_machine_checks()  # a heartbeat lost during the export
            status = "completed"
        except StopRequested as stop:
            status, self.stopped_because, self.exit_code = "stopped", stop.reason, stop.exit_code
        except KeyboardInterrupt:
            status, self.stopped_because, self.exit_code = "stopped", "aborted: Ctrl-C", 130
        except Exception as exc:  # the machine's failure: resumable once fixed; others raise
            if (failure := as_infrastructure_error(exc, "running")) is None:
                self.stopped_because = f"{type(exc).__name__}: {exc}"
                raise
            status, self.stopped_because, self.exit_code = "stopped", str(failure), 75
        finally:
            with hooks.shielded():
                report = self._finish(status, exports)
        return report

    # -- helpers -------------------------------------------------------------------------
    def run_trial(self, trial: TrialPlan, rung: RungResult | None = None) -> TrialRecord:
        """Train, evaluate and commit one trial (after ``rung``, the rest of it); its crash is a
        failed trial. A pause ``--now`` or a stop saves it mid-way (``control/suspended``)."""
        from qtrain.agent.progress import EventCallback
        from qtrain.training.segment import TrialSuspended
        from qtrain.training.trial import run_trial

        engine, controller, events = self.engine, self.controller, self.events
        assert engine is not None and events is not None and self.data is not None
        assert self.session is not None and controller is not None and self.run_dir is not None
        control = ControlFolder.of(self.run_dir.root)
        if rung is None:
            engine.trial_started(trial)
        resume = hooks.suspended_segment(control, trial)
        step = resume.steps if resume else 0
        controller.progress(cycle=trial.cycle, trial=trial.trial, step=step)
        callbacks = [
            EventCallback(events, trial.cycle, trial.trial, trial.steps),
            hooks.ControlCallback(controller, trial.cycle, trial.trial, trial.steps),
        ]
        while True:
            try:
                record = run_trial(
                    trial.spec(), self.session, self.data.train, self.data.eval, self.config,
                    self.store, callbacks, trial.metadata, rung, resume,
                )  # fmt: skip
                break
            except TrialSuspended as suspended:
                resume = hooks.save_suspended(control, trial, suspended, events)
                controller.check("trial")  # holds (pause --now) or raises (stop)
            except Exception as exc:  # one bad proposal (e.g. OOM) must not end the run
                record = trial.crash_record(exc)  # raises a user's or the machine's error
                break
        controller.run_machine_checks()  # e.g. the lock taken over meanwhile: record nothing
        hooks.clear_suspended(control)
        engine.trial_finished(record)
        controller.check("trial")
        return record

    def _finish(self, status: str, exports: dict[str, str]) -> dict[str, Any]:
        """Record the final state, write the report, release the run (whatever happened)."""
        report: dict[str, Any] = {}
        taken_over = self.lock is not None and self.lock.lost_to is not None  # its files: not ours
        unrestored = self.resume_dir is not None and self.engine is None  # keep its report
        try:
            if self.controller is not None:  # a resume that failed loading: its status says why
                with hooks.best_effort(unrestored):  # if it can: the why matters more
                    self.controller.finish(status, self.stopped_because, record=not taken_over)
            if self.run_dir and self.events is not None and not (taken_over or unrestored):
                extra = {"exports": exports, "data": self.data.report if self.data else None}
                elapsed = time.perf_counter() - self._started
                outcome = RunOutcome(status, self.stopped_because, elapsed, extra=extra)
                report = finish_run(self.engine, self.config, self.run_dir, self.events, outcome)
        finally:  # a failed write must not leave the run locked
            if self.lock is not None:
                self.lock.release()
        return report

    def _export(self) -> dict[str, str]:
        if (incumbent := self.incumbent) is None or incumbent.checkpoint is None:
            return {}
        assert self.store is not None and self.run_dir is not None and self.events is not None
        path = self.store.materialize(incumbent.checkpoint)
        return export_incumbent(path, incumbent.checkpoint, self.run_dir, self.session, self.events)
