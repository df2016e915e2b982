"""Step 5 of a cycle: record the trials, carry the best checkpoint forward, decide on stopping."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from qtrain.cycle import CyclePlan
from qtrain.errors import QtrainError
from qtrain.history import TrialRecord
from qtrain.rundir import RECORD_FILE, StateFolder, TrialFolder, read_json
from qtrain.steps.state import parse_config_json, read_state, restore_engine, write_state
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
    config = parse_config_json(config_json)
    recorded = sorted(((read_record(d), d) for d in record_dirs), key=lambda rd: rd[0].trial)
    before = restore_engine(config, state_dir)
    cycle = before.cycle + 1
    # An open cycle (the halve step's) is started and holds its halved trials: these finish it.
    opened = {r.trial for r in before.pending}
    records = sorted([*before.pending, *(r for r, _ in recorded)], key=lambda r: r.trial)
    new = {r.trial for r, _ in recorded}
    if not new or new & opened or {r.cycle for r in records} != {cycle}:
        got = sorted({(r.cycle, r.trial) for r in records})
        raise QtrainError(f"select expected the trials of cycle {cycle}, got {got}")
    plan = CyclePlan.of_records(records, config.training.steps_per_cycle)
    # Checked before anything is written, so the state stays valid: a cycle of failures.
    before.cycle_best(records)
    StateFolder(state_dir).copy_to(state_out)
    engine = restore_engine(config, state_out, record=True)
    if not opened:
        engine.open_cycle()
        engine.announce(plan)
    for trial, record in zip(plan.trials, records, strict=True):
        if not opened:
            engine.trial_started(trial)
        if record.trial not in opened:
            engine.trial_finished(record)
    result = engine.conclude(plan, records)
    engine.events.close()
    if result.incumbent is None:
        raise QtrainError(f"cycle {cycle} selected no incumbent")
    new = result.incumbent.checkpoint
    trained = {
        read_json(TrialFolder(d).trial_file)["name"]: d
        for d in checkpoint_dirs
        if TrialFolder(d).trial_file.is_file()
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
    previous = read_state(state_dir)
    write_state(state_out, engine.run_state(previous.run_id, previous.started))
    metric = engine.selector.metric
    cycle_best = engine.selector.best(records)
    return {
        "cycle": engine.cycle,
        "incumbent": new,
        "metric": metric,
        "incumbent_value": result.incumbent.metrics[metric],
        "cycle_best_value": cycle_best.metrics[metric] if cycle_best else float("nan"),
        "failed_trials": sum(r.status == "failed" for r in records),
        "stop": result.decision.stop,
        "stop_reason": result.decision.reason,
        "trials": [_trial_row(r, metric) for r in records],
    }


def _trial_row(record: TrialRecord, metric: str) -> dict[str, Any]:
    """One trial as the cycle's Markdown shows it."""
    meta = record.proposal or {}
    fallback = "; ".join(meta.get("fallback_reasons") or []) if meta.get("fallback") else ""
    return {
        "trial": record.trial, "params": record.params, "status": record.status,
        "value": record.metrics.get(metric), "error": record.error,
        "source": meta.get("source") or meta.get("proposer") or "",
        "solver": meta.get("solver") or "", "fallback": fallback,
    }  # fmt: skip


def render_cycle_summary(result: dict[str, Any]) -> str:
    """The Markdown a select step shows for its cycle (``result`` is :func:`select`'s): the
    incumbent, the stop decision, and the cycle's trials with the proposal behind each (its
    source, the solver that answered, any fallback and why)."""
    lines = [
        f"# Cycle {result['cycle']}\n",
        f"- incumbent: `{result['incumbent']}` ({result['metric']} "
        f"{result['incumbent_value']:.4g})",
        f"- best of this cycle: {result['cycle_best_value']:.4g}",
        f"- stop: {result['stop']} ({result['stop_reason']})\n",
        f"| trial | params | source | solver | fallback | {result['metric']} |",
        "|---|---|---|---|---|---|",
    ]
    for row in result.get("trials", []):
        params = ", ".join(f"{k}={v}" for k, v in row["params"].items())
        value = f"{row['value']:.4g}" if row["value"] is not None else f"{row['status']}"
        if row["error"]:
            value += f": {row['error']}"
        lines.append(f"| {row['trial']} | {params} | {row['source']} | {row['solver']} | "
                     f"{row['fallback'] or 'no'} | {value} |")  # fmt: skip
    return "\n".join(lines) + "\n"
