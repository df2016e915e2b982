"""Guided mode in a kfp-local pipeline run: the propose step waits for `qtrain approve` or
`qtrain reject`, and a run left without a decision pauses at its deadline."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("kfp")

from qtrain.events import read_events

QTRAIN = str(Path(sys.executable).with_name("qtrain"))
GRID = [0.001, 0.003, 0.006, 0.01, 0.02]  # configs/tiny.yaml's training.learning_rate


def qtrain(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([QTRAIN, *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def start(overrides: list[str], run_id: str, cwd: Path) -> tuple[subprocess.Popen[str], Path]:
    run_dir = Path(overrides[0].split("=", 1)[1]) / run_id
    args = ["run", "configs/tiny.yaml", *overrides, "runtime.mode=guided",
            f"runtime.run_id={run_id}", "--engine", "kfp-local", "--quiet"]  # fmt: skip
    process = subprocess.Popen(
        [QTRAIN, *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    return process, run_dir


def pending(run_dir: Path, process: subprocess.Popen[str], rejections: int) -> dict:
    """The published decision once it has seen ``rejections`` rejections."""
    path, deadline = run_dir / "control" / "decision.json", time.monotonic() + 300
    while True:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "no pending decision"
        status = run_dir / "control" / "status.json"
        if path.is_file() and status.is_file():
            state = json.loads(status.read_text())["state"]
            found = json.loads(path.read_text())
            if state == "waiting-for-decision" and found["rejections"] == rejections:
                return found
        time.sleep(0.2)


def finish(process: subprocess.Popen[str]) -> None:
    out, err = process.communicate(timeout=900)
    assert process.returncode == 0, out[-3000:] + err[-3000:]


@pytest.mark.slow
def test_a_guided_pipeline_run_waits_for_and_follows_the_decision(
    tiny_overrides: list[str], repo_root: Path
) -> None:
    overrides = [*tiny_overrides, "early_stopping.max_cycles=1", "runtime.export_merged=false"]
    process, run_dir = start(overrides, "g", repo_root)
    runs = str(run_dir.parent)
    first = pending(run_dir, process, 0)
    assert first["cycle"] == 1 and first["max_rejections"] == 3 and first["deadline"]
    rejected = first["proposals"][1]["params"]
    reject = qtrain(["reject", "g", "--trial", "1", "--reason", "no", "--output-dir", runs],
                    repo_root)  # fmt: skip
    assert reject.returncode == 0, reject.stderr
    second = pending(run_dir, process, 1)
    assert second["version"] > first["version"]
    assert second["proposals"][1]["params"] != rejected
    assert second["proposals"][0] == first["proposals"][0]
    bad = qtrain(["approve", "g", "--set", "nope=1", "--output-dir", runs], repo_root)
    assert bad.returncode != 0 and "not a search-space parameter" in bad.stderr
    old = second["proposals"][0]["params"]["training.learning_rate"]
    new = next(v for v in GRID if v != old)
    edit = f"training.learning_rate={new}"
    approve = qtrain(["approve", "g", "--trial", "0", "--set", edit, "--output-dir", runs],
                     repo_root)  # fmt: skip
    assert approve.returncode == 0, approve.stderr
    finish(process)

    report = json.loads((run_dir / "report.json").read_text())
    assert report["status"] == "completed"
    history = [json.loads(x) for x in (run_dir / "history.jsonl").read_text().splitlines()]
    ran = {r["trial"]: r for r in history}
    assert ran[0]["params"]["training.learning_rate"] == new
    assert ran[0]["proposal"]["guided"]["decision"] == "edited"
    assert ran[1]["params"] == second["proposals"][1]["params"]
    assert ran[1]["proposal"]["guided"]["rejected"] == [rejected]
    assert ran[1]["proposal"]["guided"]["decision"] == "approved"
    assert "off_grid" not in ran[0]["proposal"]
    events = read_events(run_dir / "events.jsonl")
    decisions = [e for e in events if e["type"] == "decision"]
    assert [d["action"] for d in decisions] == ["reject", "edit"]
    assert decisions[1]["diff"]["0"]["training.learning_rate"] == [old, new]
    assert all("@" in d["who"] for d in decisions)
    assert [e["cycle"] for e in events if e["type"] == "decision_pending"] == [1, 1]
    assert not (run_dir / "control" / "decision.json").exists()


@pytest.mark.slow
def test_a_guided_pipeline_run_without_a_decision_pauses_at_its_deadline(
    tiny_overrides: list[str], repo_root: Path
) -> None:
    overrides = [*tiny_overrides, "runtime.export_merged=false", "guided.deadline_s=1"]
    process, run_dir = start(overrides, "d", repo_root)
    finish(process)
    report = json.loads((run_dir / "report.json").read_text())
    assert report["status"] == "paused", report
    assert "no decision on cycle 1's proposals within 1 s" in report["stopped_because"]
    assert (run_dir / "history.jsonl").read_text() == ""
    halt = json.loads((run_dir / "control" / "halt.json").read_text())
    assert halt["status"] == "paused" and halt["cycle"] == 0
    resumed = qtrain(["run", "--engine", "kfp-local", "--resume", str(run_dir), "--quiet"],
                     repo_root)  # fmt: skip
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    events = read_events(run_dir / "events.jsonl")
    assert [e["type"] for e in events].count("resume") == 1
    assert [e["cycle"] for e in events if e["type"] == "decision_pending"] == [1, 1]
    assert json.loads((run_dir / "report.json").read_text())["status"] == "paused"
