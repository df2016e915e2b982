"""Successive halving through the step functions: rungs, halve, continue, select.

Chained by hand (as the pipeline chains them), the steps make the in-process runner's
decisions: same proposals, same halved trials and winner, same incumbent, same losses.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qtrain.config import load_config
from qtrain.config.schema import RunConfig
from qtrain.cycle import RunState
from qtrain.errors import QtrainError
from qtrain.events import read_events
from qtrain.rundir import StateFolder, TrialFolder, write_json_atomic
from qtrain.steps import (
    continue_trial,
    evaluate_trial,
    export_run,
    halve,
    preprocess,
    propose,
    select,
    should_continue,
    train_rung,
)
from qtrain.steps.state import init_state, restore_engine

HALVING = ["training.trials_per_cycle=3", "training.rung_steps=4", "runtime.export_merged=false"]


def run_halving_steps(config_json: str, root: Path) -> Path:
    """Chain the halving DAG's steps, each output in its own folder."""
    data, state, incumbent = root / "data", root / "state-0", root / "base"
    preprocess(config_json, data, state, incumbent, {"successive_halving": True})
    cycle = 0
    while True:
        cycle += 1
        rungs, results = [], []
        for proposal in propose(config_json, state):
            rungs.append(root / f"rung-{cycle}-{proposal['trial']}")
            results.append(root / f"result-{cycle}-{proposal['trial']}")
            train_rung(config_json, data, incumbent, proposal, rungs[-1], results[-1])
        halved = root / f"halved-{cycle}"
        winner = halve(config_json, state, results, halved)
        checkpoint, record = root / f"ckpt-{cycle}", root / f"record-{cycle}"
        continue_trial(config_json, data, rungs, winner, checkpoint)
        evaluate_trial(config_json, data, checkpoint, record)
        new_state, new_incumbent = root / f"state-{cycle}", root / f"incumbent-{cycle}"
        select(config_json, halved, incumbent, [checkpoint], [record], new_state, new_incumbent)
        state, incumbent = new_state, new_incumbent
        if not should_continue(state):
            break
    run_dir = root / "run"
    export_run(config_json, state, incumbent, data, run_dir)
    return run_dir


def history(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_halving_steps_match_the_in_process_runner(
    tmp_path: Path, tiny_overrides: list[str]
) -> None:
    from qtrain.agent import QuantumTrainingAgent

    overrides = [*tiny_overrides, *HALVING]
    agent = QuantumTrainingAgent(load_config(None, [*overrides, "runtime.run_id=a"])).run()
    config = load_config(None, [*overrides, "runtime.run_id=s"])
    run_dir = run_halving_steps(config.model_dump_json(), tmp_path / "steps")
    report = json.loads((run_dir / "report.json").read_text())

    want, got = history(Path(agent["run_dir"])), history(run_dir)
    keys = ("cycle", "trial", "params", "checkpoint", "status", "steps", "start_checkpoint")
    assert [[r[k] for k in keys] for r in got] == [[r[k] for k in keys] for r in want]
    assert [r["status"] for r in got].count("halved") == 2 * 2
    for a, b in zip(want, got, strict=True):
        assert b["metrics"] == a["metrics"], (a["cycle"], a["trial"])  # exact, see below
        assert b["rung"] == a["rung"]
    assert report["best"]["checkpoint"] == agent["best"]["checkpoint"]
    assert report["total_train_steps"] == agent["total_train_steps"] == 2 * (3 * 4 + 4)
    types = [e["type"] for e in read_events(run_dir / "events.jsonl")]
    want_types = [e["type"] for e in read_events(Path(agent["run_dir"]) / "events.jsonl")]
    assert types == [t for t in want_types if t in set(types)]  # in-process adds progress


# The bookkeeping alone, on made-up rungs (no training): halve, then select.

RUNG_LOSSES = {0: 2.5, 1: None, 2: 2.0}  # trial 1's rung crashed


@pytest.fixture
def config(tmp_path: Path) -> RunConfig:
    return load_config(None, [f"runtime.output_dir={tmp_path / 'runs'}", *HALVING])


@pytest.fixture
def state(tmp_path: Path, config: RunConfig) -> Path:
    folder = tmp_path / "state-0"
    init_state(folder, config, RunState(run_id="r", baseline={"eval_loss": 3.0}))
    return folder


def fake_rungs(root: Path, losses: dict[int, float | None], cycle: int = 1) -> list[Path]:
    """Rung results as train_rung writes them: the proposal and rung.json or failure.json."""
    from qtrain.cycle import TrialPlan

    folders = []
    for index, loss in losses.items():
        folder = TrialFolder(root / f"result-{cycle}-{index}")
        folder.root.mkdir(parents=True)
        plan = TrialPlan(cycle, index, {"learning_rate": 10.0**-index}, {"i": index}, None, 8, 4)
        write_json_atomic(folder.proposal_file, plan.to_dict())
        if loss is None:
            write_json_atomic(folder.failure_file, {"error": "injected: CUDA out of memory"})
        else:
            summary = {"steps": 4, "train_loss": loss + 0.5, "tokens": 99, "wall_seconds": 0.5}
            rung = {"steps": 4, "eval_loss": loss, "summary": summary}
            write_json_atomic(folder.rung_file, rung)
        folders.append(folder.root)
    return folders


def test_halve_records_the_losers_and_returns_the_best_rung(
    tmp_path: Path, config: RunConfig, state: Path
) -> None:
    out = tmp_path / "halved"
    winner = halve(config.model_dump_json(), state, fake_rungs(tmp_path, RUNG_LOSSES), out)
    assert winner == 2
    records = [json.loads(x) for x in StateFolder(out).history_file.read_text().splitlines()]
    assert [(r["trial"], r["status"], r["steps"]) for r in records] == [
        (1, "failed", 0),
        (0, "halved", 4),
    ]
    assert records[1]["metrics"] == {"eval_loss": 2.5} and records[1]["checkpoint"] is None
    assert records[1]["rung"] == {"steps": 4.0, "eval_loss": 2.5}
    assert records[1]["train"]["train_loss"] == 3.0
    events = read_events(StateFolder(out).events_file)
    assert [e["type"] for e in events] == [
        "cycle_start", "proposals", "trial_start", "trial_start", "trial_failed", "trial_end",
        "trial_start", "halving", "trial_end",
    ]  # fmt: skip
    assert events[7]["losses"] == {"0": 2.5, "2": 2.0} and events[7]["winner"] == 2
    assert StateFolder(state).history_file.read_text() == ""  # its input is left alone
    engine = restore_engine(config, out)  # an open cycle: the halved trials are pending
    assert engine.cycle == 0 and [r.trial for r in engine.pending] == [0, 1]


def test_select_finishes_the_halved_cycle_with_the_winner(
    tmp_path: Path, config: RunConfig, state: Path
) -> None:
    from qtrain.history import TrialRecord

    config_json = config.model_dump_json()
    halved = tmp_path / "halved"
    halve(config_json, state, fake_rungs(tmp_path, RUNG_LOSSES), halved)
    checkpoint, record = TrialFolder(tmp_path / "ckpt"), TrialFolder(tmp_path / "record")
    checkpoint.root.mkdir()
    record.root.mkdir()
    write_json_atomic(checkpoint.trial_file, {"name": "c001-t02"})
    (checkpoint.root / "adapter_model.safetensors").write_bytes(b"weights")
    kept = TrialRecord(
        1, 2, {"learning_rate": 0.01}, None, "c001-t02", 8, {"eval_loss": 1.5},
        proposal={"i": 2}, rung={"steps": 4.0, "eval_loss": 2.0},
    )  # fmt: skip
    write_json_atomic(record.record_file, kept.to_dict())
    new_state, incumbent = tmp_path / "state-1", tmp_path / "incumbent-1"
    base = tmp_path / "base"
    base.mkdir()
    result = select(
        config_json, halved, base, [checkpoint.root], [record.root], new_state, incumbent
    )
    assert result["incumbent"] == "c001-t02" and result["failed_trials"] == 1
    lines = StateFolder(new_state).history_file.read_text().splitlines()
    assert [(json.loads(x)["trial"], json.loads(x)["status"]) for x in lines] == [
        (1, "failed"), (0, "halved"), (2, "completed"),
    ]  # fmt: skip
    types = [e["type"] for e in read_events(StateFolder(new_state).events_file)]
    assert types.count("cycle_start") == types.count("proposals") == 1
    assert types.count("trial_start") == 3 and types.count("trial_end") == 3
    assert types[-3:] == ["trial_end", "selection", "cycle_end"]
    assert (incumbent / "adapter_model.safetensors").is_file()
    engine = restore_engine(config, new_state)
    assert engine.cycle == 1 and engine.incumbent.checkpoint == "c001-t02" and not engine.pending


def test_halve_refuses_rungs_of_another_cycle_and_a_cycle_of_crashed_rungs(
    tmp_path: Path, config: RunConfig, state: Path
) -> None:
    config_json = config.model_dump_json()
    other = fake_rungs(tmp_path / "c2", {0: 1.0, 1: 2.0}, cycle=2)
    with pytest.raises(QtrainError, match="halve expected the rungs of cycle 1"):
        halve(config_json, state, other, tmp_path / "out-1")
    crashed = fake_rungs(tmp_path / "crashed", {0: None, 1: None})
    with pytest.raises(QtrainError, match="every trial of cycle 1 failed in its rung"):
        halve(config_json, state, crashed, tmp_path / "out-2")


def test_continue_trial_needs_the_winners_trained_rung(tmp_path: Path, config: RunConfig) -> None:
    rungs = fake_rungs(tmp_path, {0: 2.0, 1: None})
    with pytest.raises(QtrainError, match="no trained rung of trial 1 among the 2 rungs"):
        continue_trial(config.model_dump_json(), tmp_path / "data", rungs, 1, tmp_path / "c")


def test_train_rung_refuses_a_proposal_without_a_rung(tmp_path: Path, config: RunConfig) -> None:
    from qtrain.cycle import TrialPlan

    plain = TrialPlan(1, 0, {}, {}, None, 8).to_dict()
    with pytest.raises(QtrainError, match="compiled for successive halving"):
        train_rung(
            config.model_dump_json(), tmp_path, tmp_path, plain, tmp_path / "r", tmp_path / "s"
        )
