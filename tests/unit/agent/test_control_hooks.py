"""A suspended trial's saved state continues only the trial it was saved for."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from qtrain.agent.control_hooks import save_suspended, suspended_segment
from qtrain.control.folder import ControlFolder
from qtrain.cycle import TrialPlan
from qtrain.events import EventLog
from qtrain.training.segment import Segment, TrialSuspended
from qtrain.training.sft import TrainSummary


def test_a_saved_segment_continues_only_the_same_trial_with_the_same_settings(
    tmp_path: Path,
) -> None:
    folder = ControlFolder.of(tmp_path)
    trial = TrialPlan(2, 1, {"training.learning_rate": 0.006}, {}, "c001-t00", 100)
    state = tmp_path / "scratch" / "checkpoint-40"
    state.mkdir(parents=True)
    segment = Segment(state, 40, TrainSummary(40, 1.5, 1000, 2.0))
    save_suspended(folder, trial, TrialSuspended(segment), EventLog(tmp_path / "events.jsonl"))

    found = suspended_segment(folder, trial)
    assert found is not None and found.steps == 40 and found.checkpoint.is_dir()
    # a guided decision made again after the resume, or another start or length: start over
    for other in (
        replace(trial, params={"training.learning_rate": 0.002}),
        replace(trial, start_checkpoint="c001-t01"),
        replace(trial, steps=200),
        replace(trial, trial=0),
    ):
        assert suspended_segment(folder, other) is None
