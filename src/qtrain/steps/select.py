"""Step 5 of a cycle: record the trials, carry the best checkpoint forward, decide on stopping."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qtrain.errors import QtrainError
from qtrain.history import TrialRecord
from qtrain.steps.state import (
    RunState,
    attach_state,
    copy_state,
    decision_agent,
    parse_config_json,
    read_json,
    read_state,
    write_state,
)
from qtrain.steps.trial import RECORD_FILE, read_record

if TYPE_CHECKING:
    from qtrain.agent.loop import QuantumTrainingAgent


def select(
    config_json: str,
    state_dir: Path,
    incumbent_dir: Path,
    checkpoint_dirs: list[Path],
    record_dirs: list[Path],
    state_out: Path,
    incumbent_out: Path,
) -> dict[str, Any]:
    """Append the cycle's trials to the history and select the incumbent.

    ``incumbent_out`` receives the new incumbent (a trial of this cycle that beat the old
    one, with its metrics and samples) or a copy of ``incumbent_dir``. ``state_out`` is the
    updated run state, including the early-stopping decision. Returns a cycle summary.
    """
    from qtrain.training.trial import TRIAL_FILE

    config = parse_config_json(config_json)
    recorded = sorted(((read_record(d), d) for d in record_dirs), key=lambda rd: rd[0].trial)
    records = [record for record, _ in recorded]
    agent = decision_agent(config, state_dir)
    cycle = agent.cycle + 1
    if not records or {r.cycle for r in records} != {cycle}:
        got = sorted({r.cycle for r in records})
        raise QtrainError(f"select expected the trials of cycle {cycle}, got cycles {got}")
    if agent.selector.best(records) is None:  # before anything is written: the state stays valid
        errors = "; ".join(f"trial {r.trial}: {r.error}" for r in records)
        raise QtrainError(f"every trial of cycle {cycle} failed ({errors})")
    copy_state(state_dir, state_out)
    attach_state(agent, state_out)
    _emit_trial_events(agent, config.training.steps_per_cycle, cycle, records)
    result = agent.replay(records)
    if result is None or agent.incumbent is None:
        raise QtrainError(f"cycle {cycle} selected no incumbent")
    new = agent.incumbent.checkpoint
    trained = {
        read_json(d / TRIAL_FILE)["name"]: d for d in checkpoint_dirs if (d / TRIAL_FILE).is_file()
    }
    shutil.rmtree(incumbent_out, ignore_errors=True)
    if new in trained:  # a trial of this cycle: its checkpoint plus its metrics and samples
        shutil.copytree(trained[new], incumbent_out)
        results = next(d for r, d in recorded if r.checkpoint == new)
        for item in results.iterdir():
            if item.name != RECORD_FILE:
                shutil.copy2(item, incumbent_out / item.name)
    else:
        shutil.copytree(incumbent_dir, incumbent_out)
    decision = result.decision
    previous = read_state(state_dir)
    write_state(
        state_out,
        RunState(
            run_id=previous.run_id,
            baseline=previous.baseline,
            started=previous.started,
            cycle=agent.cycle,
            incumbent=new,
            stop=decision.stop,
            stop_reason=decision.reason,
        ),
    )
    metric = agent.selector.metric
    cycle_best = agent.selector.best(records)
    return {
        "cycle": agent.cycle,
        "incumbent": new,
        "metric": metric,
        "incumbent_value": agent.incumbent.metrics[metric],
        "cycle_best_value": cycle_best.metrics[metric] if cycle_best else float("nan"),
        "failed_trials": sum(r.status == "failed" for r in records),
        "stop": decision.stop,
        "stop_reason": decision.reason,
    }


def render_cycle_summary(result: dict[str, Any]) -> str:
    """The Markdown a select step shows for its cycle (``result`` is :func:`select`'s)."""
    return (
        f"# Cycle {result['cycle']}\n\n- incumbent: `{result['incumbent']}` "
        f"({result['metric']} {result['incumbent_value']:.4g})\n"
        f"- best of this cycle: {result['cycle_best_value']:.4g}\n"
        f"- stop: {result['stop']} ({result['stop_reason']})\n"
    )


def _emit_trial_events(
    agent: QuantumTrainingAgent, steps: int, cycle: int, records: list[TrialRecord]
) -> None:
    """The events the in-process engine emits while a cycle trains, from its records."""
    events = agent.events
    events.emit("cycle_start", cycle=cycle, incumbent=agent.start_checkpoint)
    events.emit(
        "proposals",
        cycle=cycle,
        proposals=[{"params": r.params, "metadata": r.proposal} for r in records],
    )
    for r in records:
        events.emit(
            "trial_start", cycle=cycle, trial=r.trial, params=r.params, steps=steps,
            start_checkpoint=r.start_checkpoint,
        )  # fmt: skip
        if r.status == "failed":
            events.emit("trial_failed", cycle=cycle, trial=r.trial, error=r.error)
        events.emit(
            "trial_end", cycle=cycle, trial=r.trial, checkpoint=r.checkpoint,
            metrics=r.metrics, train=r.train,
        )  # fmt: skip
