"""`qtrain stop/pause/set` reach a kfp-local run at its cycle boundaries; `--resume` continues."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

pytest.importorskip("kfp")

from qtrain.config import load_config
from qtrain.events import read_events

QTRAIN = str(Path(sys.executable).with_name("qtrain"))


def qtrain(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([QTRAIN, *args], cwd=cwd, capture_output=True, text=True, timeout=900)


def start(overrides: list[str], run_id: str, cwd: Path) -> tuple[subprocess.Popen[str], Path]:
    run_dir = Path(overrides[0].split("=", 1)[1]) / run_id
    args = ["run", "configs/tiny.yaml", *overrides, f"runtime.run_id={run_id}",
            "--engine", "kfp-local", "--quiet"]  # fmt: skip
    process = subprocess.Popen(
        [QTRAIN, *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 120
    while not (run_dir / "control" / "status.json").is_file():  # live before preprocess ends
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.2)
    return process, run_dir


def finish(process: subprocess.Popen[str]) -> None:
    out, err = process.communicate(timeout=900)
    assert process.returncode == 0, out[-3000:] + err[-3000:]


def records(run_dir: Path) -> list[dict]:
    return [json.loads(x) for x in (run_dir / "history.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_stopped_after_cycle_1_then_resumed_ends_as_an_uninterrupted_run(
    tiny_overrides: list[str], repo_root: Path
) -> None:
    from qtrain.agent import QuantumTrainingAgent

    overrides = [*tiny_overrides, "runtime.export_merged=false"]
    expected = QuantumTrainingAgent(load_config(None, [*overrides, "runtime.run_id=a"])).run()

    process, run_dir = start(overrides, "s", repo_root)
    runs = str(run_dir.parent)
    limit = qtrain(["set", "s", "early_stopping.max_cycles=5", "--output-dir", runs], repo_root)
    assert limit.returncode == 2 and "limit is 2" in limit.stderr, limit.stderr
    stop = qtrain(["stop", "s", "--output-dir", runs], repo_root)
    assert stop.returncode == 0, stop.stderr
    finish(process)
    report = json.loads((run_dir / "report.json").read_text())
    assert report["status"] == "stopped" and "stop requested by" in report["stopped_because"]
    assert "**stopped**" in (run_dir / "report.md").read_text()
    assert {r["cycle"] for r in records(run_dir)} == {1}
    acks = [e["outcome"] for e in read_events(run_dir / "events.jsonl") if e["type"] == "control"]
    assert acks == ["rejected", "accepted", "done"]
    status = qtrain(["status", "s", "--output-dir", runs], repo_root)
    assert "stopped" in status.stdout and "resumable" in status.stdout

    resumed = qtrain(
        ["run", "--engine", "kfp-local", "--resume", str(run_dir), "--quiet"], repo_root
    )
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    report = json.loads((run_dir / "report.json").read_text())
    assert report["status"] == "completed"
    want, got = records(Path(expected["run_dir"])), records(run_dir)
    assert [(r["cycle"], r["trial"], r["params"], r["checkpoint"]) for r in got] == [
        (r["cycle"], r["trial"], r["params"], r["checkpoint"]) for r in want
    ]
    for a, b in zip(want, got, strict=True):
        assert b["metrics"] == pytest.approx(a["metrics"], rel=1e-4, abs=1e-6)
    assert report["best"]["checkpoint"] == expected["best"]["checkpoint"]
    assert report["best"]["metrics"] == pytest.approx(expected["best"]["metrics"], rel=1e-4)
    assert report["stopped_because"] == expected["stopped_because"]
    types = [e["type"] for e in read_events(run_dir / "events.jsonl")]
    assert types.count("resume") == 1 and types[-1] == "run_end"
    again = qtrain(["run", "--engine", "kfp-local", "--resume", str(run_dir)], repo_root)
    assert again.returncode == 2 and "completed" in again.stderr


@pytest.mark.slow
def test_a_paused_kfp_local_run_records_paused(tiny_overrides: list[str], repo_root: Path) -> None:
    overrides = [*tiny_overrides, "training.trials_per_cycle=1", "runtime.export_merged=false"]
    process, run_dir = start(overrides, "p", repo_root)
    pause = qtrain(["pause", "p", "--output-dir", str(run_dir.parent)], repo_root)
    assert pause.returncode == 0, pause.stderr
    finish(process)
    report = json.loads((run_dir / "report.json").read_text())
    assert report["status"] == "paused" and "pause requested by" in report["stopped_because"]
    assert "**paused**" in (run_dir / "report.md").read_text()
    assert {r["cycle"] for r in records(run_dir)} == {1}
    halt = json.loads((run_dir / "control" / "halt.json").read_text())
    assert halt["status"] == "paused" and halt["cycle"] == 1
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["kubeflow"]["control"] is True
