"""Successive halving in the in-process runner: rungs, the halving, the winner's rest."""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

from qtrain.cycle import CyclePlan
from qtrain.history import TrialRecord

if TYPE_CHECKING:
    from qtrain.agent.runner import Runner


def halve_and_continue(agent: Runner, plan: CyclePlan) -> list[TrialRecord]:
    """Every candidate trains its rung, the best one the rest of the cycle; the others are
    recorded as halved (crashed rungs as failed). A trial without a rung (the defaults'
    lineage) trains in full. Commands are read between rungs (a rung is not suspended)."""
    from qtrain.agent.progress import EventCallback
    from qtrain.training.trial import train_rung

    engine, session, data, store = agent.engine, agent.session, agent.data, agent.store
    run_dir, events, controller = agent.run_dir, agent.events, agent.controller
    assert engine is not None and session is not None and data is not None
    assert events is not None and run_dir is not None and store is not None
    assert controller is not None
    rungs, records = {}, {}
    try:
        for trial in plan.trials:
            if not trial.rung_steps:
                continue
            start = trial.start_checkpoint
            init_from = store.materialize(start) if start else None
            engine.trial_started(trial)
            controller.progress(cycle=trial.cycle, trial=trial.trial, step=0)
            callback = EventCallback(events, trial.cycle, trial.trial, trial.steps)
            work_dir = run_dir.rungs_dir / trial.name
            try:
                rungs[trial.trial] = train_rung(
                    trial.spec(), trial.rung_steps or 0, session, data.train, data.eval,
                    agent.config, init_from, work_dir, [callback],
                )  # fmt: skip
            except Exception as exc:  # one bad proposal (e.g. OOM) must not end the run
                records[trial.trial] = trial.crash_record(exc)  # raises the machine's errors
                engine.trial_finished(records[trial.trial])
            controller.check("trial")
        losses = {index: rung.eval_loss for index, rung in rungs.items()}
        winner = engine.halve(plan, losses)
        for index, rung in rungs.items():
            if index != winner.trial:
                records[index] = plan.trials[index].halved_record(rung.eval_loss, rung.train)
                engine.trial_finished(records[index])
        records[winner.trial] = agent.run_trial(winner, rungs[winner.trial])
        for trial in plan.trials:
            if not trial.rung_steps:
                records[trial.trial] = agent.run_trial(trial)
    finally:
        shutil.rmtree(run_dir.rungs_dir, ignore_errors=True)
    return [records[index] for index in sorted(records)]
