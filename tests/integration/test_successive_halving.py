"""Successive halving in-process: k rungs, the best continues; rung + continuation = one trial."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qtrain import QuantumTrainingAgent, load_config
from qtrain.events import read_events

pytestmark = pytest.mark.slow


def test_the_best_rung_continues_as_if_never_stopped(tiny_overrides: list[str]) -> None:
    halving = [*tiny_overrides, "training.trials_per_cycle=3", "training.rung_steps=4",
               "runtime.export_merged=false", "runtime.run_id=sh"]  # fmt: skip
    report = QuantumTrainingAgent(load_config(None, halving)).run()
    assert report["status"] == "completed"
    for cycle in report["cycles"]:
        statuses = sorted(t["status"] for t in cycle["trials"])
        assert statuses == ["completed", "halved", "halved"]
        kept = next(t for t in cycle["trials"] if t["status"] == "completed")
        assert kept["steps"] == 8 and kept["train"]["steps"] == 8.0
        halved = [t for t in cycle["trials"] if t["status"] == "halved"]
        assert {t["steps"] for t in halved} == {4} and all(t["checkpoint"] is None for t in halved)
        rung_losses = [t["metrics"]["eval_loss"] for t in halved] + [kept["rung"]["eval_loss"]]
        assert kept["rung"]["eval_loss"] == min(rung_losses)  # the best rung went on
    assert report["total_train_steps"] == 2 * (3 * 4 + 4)
    run_dir = Path(report["run_dir"])
    assert not (run_dir / "rungs").exists()
    events = read_events(run_dir / "events.jsonl")
    assert [e["cycle"] for e in events if e["type"] == "halving"] == [1, 2]

    # Cycle 1's kept trial = the same settings trained without a stop, from the same start.
    first = next(t for t in report["cycles"][0]["trials"] if t["status"] == "completed")
    same = [f"{name}={json.dumps(value)}" for name, value in first["params"].items()]
    straight = [*tiny_overrides, *same, "quantum.solver_type=fixed", "search_space={}",
                "training.trials_per_cycle=1", "early_stopping.max_cycles=1",
                "runtime.export_merged=false", "runtime.run_id=straight"]  # fmt: skip
    reference = QuantumTrainingAgent(load_config(None, straight)).run()
    got = reference["cycles"][0]["trials"][0]["metrics"]
    assert got["eval_loss"] == pytest.approx(first["metrics"]["eval_loss"], rel=1e-4)
    assert got["exact_match"] == pytest.approx(first["metrics"]["exact_match"])
