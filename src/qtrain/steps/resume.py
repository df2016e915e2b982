"""Resume a stopped pipeline run: the first step of a new pipeline run, in place of
preprocess's data preparation and base-model measurement.

A pipeline run stopped or paused at a cycle boundary (``qtrain stop``/``pause``) left its run
directory: the prepared data, ``history.jsonl`` (the concluded cycles), ``events.jsonl``
(the base model's metrics) and the incumbent committed in ``checkpoints/``. From them this
step writes the run-state folder the first cycle of the new pipeline run reads, and that
incumbent as its starting checkpoint; the optimizer is rebuilt from the history as in every
step, so the run goes on as if it had never stopped.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from qtrain.config.schema import RunConfig
from qtrain.cycle import RunState
from qtrain.errors import QtrainError
from qtrain.events import EventLog, read_events
from qtrain.rundir import RunDirectory, StateFolder, TrialFolder, write_json_atomic
from qtrain.steps.run_control import clear_halt, control_store_kind, start_live_run
from qtrain.steps.state import init_state, restore_engine

RESUMABLE = ("stopped", "paused")


def resume_point(run_dir: RunDirectory) -> tuple[dict[str, Any], int]:
    """The stopped pipeline run's ``run_start`` event and its concluded cycles; one line if
    ``run_dir`` holds no pipeline run that a stop or pause ended."""
    if not run_dir.events_file.is_file():
        raise QtrainError(f"{run_dir.root} is not a qtrain run directory (no events.jsonl)")
    events = read_events(run_dir.events_file)
    starts = [e for e in events if e.get("type") == "run_start"]
    if not starts or starts[0].get("engine") != "kfp":
        raise QtrainError(
            f"run {run_dir.run_id} did not run as a pipeline: continue it with "
            "`qtrain run --resume RUN` (in-process)"
        )
    ends = [e for e in events if e.get("type") == "run_end"]
    status = ends[-1].get("status") if ends else None
    if status not in RESUMABLE:
        raise QtrainError(
            f"run {run_dir.run_id} is {status or 'not ended'}: a pipeline run is resumed "
            "after `qtrain stop` or `qtrain pause` ended it"
        )
    concluded = max((int(e["cycle"]) for e in events if e.get("type") == "cycle_end"), default=0)
    return starts[0], concluded


def resume_run(
    config: RunConfig, run_root: Path, data_dir: Path, state_dir: Path, base_dir: Path
) -> dict[str, Any]:
    """Write the resumed run's data, state and starting checkpoint; returns the data report.

    ``run_root`` is the stopped run's directory (relative: under ``runtime.output_dir``).
    """
    from qtrain.checkpoints import open_store
    from qtrain.data import load_prepared

    if not run_root.is_absolute():
        run_root = config.output_path() / run_root
    run_dir = RunDirectory(run_root)
    start, concluded = resume_point(run_dir)
    events = read_events(run_dir.events_file)
    baseline = next(e["metrics"] for e in events if e.get("type") == "baseline")
    if concluded >= config.early_stopping.max_cycles:
        raise QtrainError(f"run {run_dir.run_id} already ran its {concluded} cycles")
    shutil.copytree(run_dir.data_dir, data_dir, dirs_exist_ok=True)
    state = StateFolder(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy2(run_dir.history_file, state.history_file)
    shutil.copy2(run_dir.events_file, state.events_file)
    run = RunState(run_dir.run_id, baseline, float(start.get("ts") or 0.0), cycle=concluded)
    init_state(state_dir, config, run)
    engine = restore_engine(config, state_dir)
    if engine.decision.stop:
        raise QtrainError(f"run {run_dir.run_id} already ended: {engine.decision.reason}")
    incumbent = engine.start_checkpoint
    init_state(state_dir, config, RunState(**{**run.to_dict(), "incumbent": incumbent}))
    base_dir.mkdir(parents=True, exist_ok=True)
    if incumbent is None:
        marker = {"model": config.model.name, "revision": config.model.revision}
        write_json_atomic(TrialFolder(base_dir).base_marker, marker)
    else:
        store = open_store(config.storage, run_dir.checkpoints, run_dir.run_id)
        shutil.copytree(store.materialize(incumbent), base_dir, dirs_exist_ok=True)
    log = EventLog(state.events_file)
    log.emit("resume", run_id=run_dir.run_id, cycles=concluded, incumbent=incumbent, engine="kfp")
    log.close()
    clear_halt(run_dir)
    if control_store_kind(config) == "volume":  # on a cluster: live again for its clients
        start_live_run(run_dir, config)
    return load_prepared(data_dir).report
