"""Step 5 of a cycle: record the trials, carry the best checkpoint forward, decide on stopping."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from qtrain.errors import QtrainError
from qtrain.steps.state import (
    RunState,
    copy_state,
    decision_agent,
    parse_config_json,
    read_json,
    read_state,
    write_state,
)
from qtrain.steps.trial import read_record


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
    copy_state(state_dir, state_out)
    records = sorted((read_record(d) for d in record_dirs), key=lambda r: r.trial)
    results_of = {r.checkpoint: d for r, d in zip(records, _by_trial(record_dirs), strict=True)}
    trained = {
        read_json(d / TRIAL_FILE)["name"]: d for d in checkpoint_dirs if (d / TRIAL_FILE).is_file()
    }
    agent = decision_agent(config, state_dir, record_to=state_out)
    cycle = agent.cycle + 1
    if not records or {r.cycle for r in records} != {cycle}:
        got = sorted({r.cycle for r in records})
        raise QtrainError(f"select expected the trials of cycle {cycle}, got cycles {got}")
    agent.events.emit("cycle_start", cycle=cycle, incumbent=agent.start_checkpoint)
    agent.events.emit(
        "proposals",
        cycle=cycle,
        proposals=[{"params": r.params, "metadata": r.proposal} for r in records],
    )
    for r in records:
        agent.events.emit(
            "trial_start", cycle=cycle, trial=r.trial, params=r.params,
            steps=config.training.steps_per_cycle, start_checkpoint=r.start_checkpoint,
        )  # fmt: skip
        if r.status == "failed":
            agent.events.emit("trial_failed", cycle=cycle, trial=r.trial, error=r.error)
        agent.events.emit(
            "trial_end", cycle=cycle, trial=r.trial, checkpoint=r.checkpoint,
            metrics=r.metrics, train=r.train,
        )  # fmt: skip
    result = agent.replay(records)
    assert result is not None and agent.incumbent is not None
    shutil.rmtree(incumbent_out, ignore_errors=True)
    new = agent.incumbent.checkpoint
    if new in trained:
        shutil.copytree(trained[new], incumbent_out)
        for item in results_of[new].iterdir():
            if item.name != "record.json":
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


def _by_trial(record_dirs: list[Path]) -> list[Path]:
    return sorted(record_dirs, key=lambda d: read_record(d).trial)
