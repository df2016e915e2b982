"""Successive halving as a kfp-local pipeline gives the in-process runner's history."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("kfp")

from qtrain.config import load_config
from qtrain.events import read_events

QTRAIN = str(Path(sys.executable).with_name("qtrain"))
HALVING = ["training.trials_per_cycle=3", "training.rung_steps=4", "runtime.export_merged=false"]


def history(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_kfp_local_halving_matches_the_in_process_runner(
    tiny_overrides: list[str], repo_root: Path
) -> None:
    from qtrain.agent import QuantumTrainingAgent

    overrides = [*tiny_overrides, *HALVING]
    expected = QuantumTrainingAgent(load_config(None, [*overrides, "runtime.run_id=a"])).run()
    args = ["configs/tiny.yaml", *overrides, "runtime.run_id=k", "--engine", "kfp-local", "--quiet"]
    result = subprocess.run(
        [QTRAIN, "run", *args], cwd=repo_root, capture_output=True, text=True, timeout=1200
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    run_dir = Path(overrides[0].split("=", 1)[1]) / "k"
    report = json.loads((run_dir / "report.json").read_text())

    # same params per trial, same statuses (the same winners), in the same order
    want, got = history(Path(expected["run_dir"])), history(run_dir)
    keys = ("cycle", "trial", "params", "status", "checkpoint", "steps", "start_checkpoint")
    assert [[r[k] for k in keys] for r in got] == [[r[k] for k in keys] for r in want]
    for cycle in (1, 2):
        statuses = sorted(r["status"] for r in got if r["cycle"] == cycle)
        assert statuses == ["completed", "halved", "halved"]
    # rung losses, halved losses and the winner's metrics: bitwise equal, not just close
    for a, b in zip(want, got, strict=True):
        assert (b["metrics"], b["rung"]) == (a["metrics"], a["rung"]), (a["cycle"], a["trial"])
        assert b["train"]["train_loss"] == a["train"]["train_loss"]
    assert report["best"]["checkpoint"] == expected["best"]["checkpoint"]
    assert report["stopped_because"] == expected["stopped_because"]
    assert report["total_train_steps"] == expected["total_train_steps"] == 2 * (3 * 4 + 4)
    assert report["status"] == "completed" and report["engine"] == "kfp-local"
    events = read_events(run_dir / "events.jsonl")
    halvings = [(e["cycle"], e["winner"], e["losses"]) for e in events if e["type"] == "halving"]
    assert halvings == [
        (e["cycle"], e["winner"], e["losses"])
        for e in read_events(Path(expected["run_dir"]) / "events.jsonl")
        if e["type"] == "halving"
    ]
    assert len(halvings) == 2
    best = report["best"]["checkpoint"]
    assert (run_dir / "checkpoints" / best / "manifest.json").is_file()
    assert (run_dir / "export" / "adapter" / "adapter_model.safetensors").is_file()
    assert not (run_dir.parent / ".kfp-local" / "k").exists()
