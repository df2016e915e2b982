"""``qtrain run --resume RUN``: continue a run from its own directory, on any store.

The run directory says where the run was: ``events.jsonl`` (the base model's metrics, the
cycles that were concluded, whether it completed), ``history.jsonl`` (every finished trial)
and ``control/suspended.json`` (a trial a pause or stop saved mid-way). The cycle engine is
rebuilt from the concluded cycles plus the open cycle's finished trials (a cycle with
successive halving restarts instead: its rungs were scratch; so do a cycle whose trials all
failed, which failed the run, and a guided cycle, whose decision is asked again);
checkpoints the history does not name are dropped from the store, uploads it left half-way
removed, and the pointers moved back to the history. Training
then continues from the last committed trial, or from the suspended trial's saved trainer
state, so the run ends exactly where an uninterrupted one would.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from qtrain.checkpoints.store import CheckpointStore
from qtrain.config.schema import RunConfig
from qtrain.control.folder import ControlFolder
from qtrain.cycle import CycleEngine
from qtrain.errors import QtrainError
from qtrain.events import EventLog, read_events
from qtrain.fsio import write_atomic
from qtrain.history import History, TrialRecord
from qtrain.rundir import RunDirectory

if TYPE_CHECKING:
    from qtrain.agent.runner import Runner


@dataclass(frozen=True)
class ResumePoint:
    """What a resumed run restores: the base model's metrics, the trials, the cycles done."""

    baseline: dict[str, float]
    records: list[TrialRecord]
    concluded: int
    dropped: list[TrialRecord]


def read_resume_point(run_dir: RunDirectory, config: RunConfig) -> ResumePoint:
    """Where the run in ``run_dir`` stopped; one line if it cannot or need not be resumed."""
    if not run_dir.events_file.is_file():
        raise QtrainError(f"{run_dir.root} is not a qtrain run directory (no events.jsonl)")
    events = read_events(run_dir.events_file)
    ends = [e for e in events if e.get("type") == "run_end"]
    starts = [i for i, e in enumerate(events) if e.get("type") == "run_start"]
    last_attempt = events[starts[-1] :] if starts else events  # how the latest attempt ended
    if ends and ends[-1].get("status") == "completed":
        raise QtrainError(
            f"run {run_dir.run_id} already completed ({ends[-1].get('stopped_because')}); "
            "nothing to resume"
        )
    baselines = [e["metrics"] for e in events if e.get("type") == "baseline"]
    if not baselines:  # it stopped before the base model was measured: start it over
        return ResumePoint({}, [], 0, [])
    concluded = max((int(e["cycle"]) for e in events if e.get("type") == "cycle_end"), default=0)
    records = History.load(run_dir.history_file).records
    kept = [r for r in records if r.cycle <= concluded]
    open_cycle = [r for r in records if r.cycle == concluded + 1]
    halving = config.training.rung_steps is not None or any(r.rung for r in open_cycle)
    last_end = [e for e in last_attempt if e.get("type") == "run_end"]
    failed_run = bool(last_end) and last_end[-1].get("status") == "failed"
    all_failed = failed_run and all(r.status == "failed" for r in open_cycle)  # try it again
    guided = config.runtime.mode == "guided"  # its decision is asked again: so are its trials
    if not (halving or all_failed or guided):
        kept += open_cycle
    dropped = [r for r in records if r not in kept]
    return ResumePoint(baselines[0], kept, concluded, dropped)


def rewrite_history(run_dir: RunDirectory, records: list[TrialRecord]) -> History:
    """Replace ``history.jsonl`` with ``records`` (atomically); returns it, ready to append."""
    lines = "".join(json.dumps(r.to_dict()) + "\n" for r in records)
    write_atomic(run_dir.history_file, lines.encode("utf-8"))
    history = History(run_dir.history_file)
    history.records.extend(records)
    return history


def reconcile_store(store: CheckpointStore, engine: CycleEngine, events: EventLog) -> list[str]:
    """Drop checkpoints the restored history does not name; point the pointers at it."""
    named = {r.checkpoint for r in engine.history.records if r.checkpoint}
    incumbent = engine.start_checkpoint
    latest = next((r.checkpoint for r in reversed(engine.history.records) if r.checkpoint), None)
    for pointer, target in (("incumbent", incumbent), ("best", incumbent), ("latest", latest)):
        if target is not None:
            store.set_pointer(pointer, target)
        else:
            store.delete_pointer(pointer)
    dropped = [info.name for info in store.list() if info.name not in named]
    for name in dropped:
        store.delete(name)
    if incumbent is not None:
        store.materialize(incumbent)  # verified before any training starts from it
    return dropped


def resume_event(engine: CycleEngine, run_id: str, dropped: list[str], **fields: Any) -> None:
    """Announce the resume: from which cycle, which incumbent, what was dropped."""
    engine.events.emit(
        "resume",
        run_id=run_id,
        cycles=engine.cycle,
        incumbent=engine.start_checkpoint,
        pending=[r.trial for r in engine.pending],
        dropped=dropped,
        **fields,
    )


def reconcile_resumed(agent: Runner, dropped: list[TrialRecord]) -> None:
    """After ``--resume``: the store matches the restored history, and a cycle restarting
    from scratch forgets its suspended trial."""
    from qtrain.agent.control_hooks import clear_suspended

    engine, store, run_dir = agent.engine, agent.store, agent.run_dir
    assert engine is not None and store is not None and run_dir is not None
    assert agent.events is not None
    removed = reconcile_store(store, engine, agent.events)
    cleaned = store.clean_staging()  # uploads and staging folders the stopped run left half-way
    if dropped and not engine.pending:
        clear_suspended(ControlFolder.of(run_dir.root))
    resume_event(engine, run_dir.run_id, removed, cleaned=cleaned)
