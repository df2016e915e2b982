"""select: a cycle whose every trial failed fails the step and leaves no partial state."""

from __future__ import annotations

from pathlib import Path

import pytest

from qtrain.config import load_config
from qtrain.errors import QtrainError
from qtrain.history import TrialRecord
from qtrain.rundir import RECORD_FILE
from qtrain.rundir import write_json_atomic as write_json
from qtrain.steps import select
from qtrain.steps.state import RunState, init_state


def failed_record(folder: Path, trial: int) -> Path:
    record = TrialRecord(1, trial, {}, None, None, 0, {}, status="failed", error="OOM")
    folder.mkdir()
    write_json(folder / RECORD_FILE, record.to_dict())
    return folder


def test_all_failed_trials_fail_the_step_before_writing(tmp_path: Path) -> None:
    config = load_config(None, [])
    state = tmp_path / "state"
    init_state(state, config, RunState(run_id="r", baseline={"eval_loss": 3.0}))
    records = [failed_record(tmp_path / f"rec{i}", i) for i in range(2)]
    out_state, out_incumbent = tmp_path / "out-state", tmp_path / "out-incumbent"
    with pytest.raises(QtrainError, match="every trial of cycle 1 failed"):
        select(config.model_dump_json(), state, tmp_path / "base", [], records, out_state,
               out_incumbent)  # fmt: skip
    assert not out_state.exists() and not out_incumbent.exists()


def test_records_of_another_cycle_are_refused(tmp_path: Path) -> None:
    config = load_config(None, [])
    state = tmp_path / "state"
    init_state(state, config, RunState(run_id="r", baseline={}))
    record = TrialRecord(2, 0, {}, None, "c002-t00", 8, {"eval_loss": 1.0})
    (tmp_path / "rec").mkdir()
    write_json(tmp_path / "rec" / RECORD_FILE, record.to_dict())
    with pytest.raises(QtrainError, match="expected the trials of cycle 1"):
        select(config.model_dump_json(), state, tmp_path / "base", [], [tmp_path / "rec"],
               tmp_path / "o1", tmp_path / "o2")  # fmt: skip


def test_the_cycle_markdown_holds_the_trials_and_their_proposals() -> None:
    from qtrain.steps import render_cycle_summary

    result = {
        "cycle": 2, "incumbent": "c002-t01", "metric": "eval_loss", "incumbent_value": 0.5,
        "cycle_best_value": 0.5, "stop": False, "stop_reason": None,
        "trials": [
            {"trial": 0, "params": {"training.learning_rate": 0.01}, "status": "completed",
             "value": 0.75, "error": None, "source": "exploit", "solver": "", "fallback": ""},
            {"trial": 1, "params": {"training.learning_rate": 0.003}, "status": "completed",
             "value": 0.5, "error": None, "source": "optimizer", "solver": "tabu",
             "fallback": "sa: timed out"},
            {"trial": 2, "params": {"training.learning_rate": 0.99}, "status": "failed",
             "value": None, "error": "diverged: eval_loss nan", "source": "optimizer",
             "solver": "sa", "fallback": ""},
        ],
    }  # fmt: skip
    text = render_cycle_summary(result)
    assert "| trial | params | source | solver | fallback | eval_loss |" in text
    assert "| 1 | training.learning_rate=0.003 | optimizer | tabu | sa: timed out | 0.5 |" in text
    assert "| 2 | training.learning_rate=0.99 | optimizer | sa | no | failed: diverged" in text
