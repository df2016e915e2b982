"""Where ``qtrain run --resume`` picks a run up: which of the open cycle's trials it keeps."""

from __future__ import annotations

from pathlib import Path

import pytest

from qtrain.agent.run_resume import read_resume_point
from qtrain.config import load_config
from qtrain.events import EventLog
from qtrain.history import History, TrialRecord
from qtrain.rundir import RunDirectory


def record(cycle: int, trial: int, status: str = "completed") -> TrialRecord:
    name = f"c{cycle:03d}-t{trial:02d}" if status == "completed" else None
    return TrialRecord(cycle, trial, {"training.learning_rate": 0.01}, None, name, 8,
                       {"eval_loss": 1.0} if name else {}, status=status)  # fmt: skip


def stopped_in_cycle_2(root: Path, open_cycle: list[TrialRecord]) -> RunDirectory:
    """A run that concluded cycle 1 and ended while cycle 2 ran: failed if every trial of
    cycle 2 failed (the engine's verdict on such a cycle), else stopped."""
    run_dir = RunDirectory(root)
    root.mkdir()
    events = EventLog(run_dir.events_file)
    events.emit("baseline", metrics={"eval_loss": 4.0})
    events.emit("cycle_end", cycle=1, stop=False, reason=None)
    failed = len(open_cycle) > 1 and all(r.status == "failed" for r in open_cycle)
    events.emit("run_end", status="failed" if failed else "stopped")
    events.close()
    history = History(run_dir.history_file)
    for r in [record(1, 0), record(1, 1), *open_cycle]:
        history.add(r)
    return run_dir


@pytest.mark.parametrize(
    ("mode", "open_cycle", "kept"),
    [
        ("automated", [record(2, 0)], [(1, 0), (1, 1), (2, 0)]),  # goes on from trial 1
        ("automated", [record(2, 0, "failed")], [(1, 0), (1, 1), (2, 0)]),  # one bad proposal
        ("automated", [record(2, 0, "failed"), record(2, 1, "failed")], [(1, 0), (1, 1)]),
        ("guided", [record(2, 0)], [(1, 0), (1, 1)]),  # decided again: trained again
    ],
)
def test_the_open_cycles_trials_are_kept_unless_the_cycle_restarts(
    tmp_path: Path, mode: str, open_cycle: list[TrialRecord], kept: list[tuple[int, int]]
) -> None:
    run_dir = stopped_in_cycle_2(tmp_path / "run", open_cycle)
    point = read_resume_point(run_dir, load_config(None, [f"runtime.mode={mode}"]))
    assert [(r.cycle, r.trial) for r in point.records] == kept
    assert point.concluded == 1
    assert len(point.dropped) == 2 + len(open_cycle) - len(kept)


def test_a_failed_run_resumed_and_killed_keeps_its_open_cycles_trials(tmp_path: Path) -> None:
    """The first attempt failed; the resumed attempt died (SIGKILL: no run_end) after trial 0
    of cycle 2 failed on its own: that failure is kept, as an uninterrupted run keeps it."""
    run_dir = stopped_in_cycle_2(tmp_path / "run", [record(2, 0, "failed")])
    events = EventLog(run_dir.events_file)
    events.emit("run_end", status="failed")  # the earlier attempt's end
    events.emit("run_start", run_id="run")  # the resumed attempt, killed
    events.close()
    point = read_resume_point(run_dir, load_config(None, []))
    assert [(r.cycle, r.trial) for r in point.records] == [(1, 0), (1, 1), (2, 0)]
