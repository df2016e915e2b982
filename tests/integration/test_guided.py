"""Guided mode end to end: a person approves, edits and rejects proposals, from the CLI and
through the interactive prompt of ``qtrain run`` (in a pseudo-terminal)."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.run_process import ENV, cli, events, wait_for

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
OVERRIDES = [
    "runtime.mode=guided", "training.steps_per_cycle=8", "data.eval_size=32",
    "evaluation.max_new_tokens=8", "runtime.threads=1", "early_stopping.max_cycles=3",
]  # fmt: skip


def _cmd(tmp_path: Path, run_id: str, *extra: str) -> list[str]:
    where = [f"runtime.output_dir={tmp_path}", f"runtime.run_id={run_id}"]
    config = str(REPO / "configs/tiny.yaml")
    return [sys.executable, "-m", "qtrain.cli.app", "run", config, *OVERRIDES, *where, *extra]


def _pending(cycle: int) -> Callable[[dict[str, Any]], bool]:
    return lambda e: e["type"] == "decision_pending" and e["cycle"] == cycle


def _check_session(run_dir: Path) -> None:
    """Cycle 1 approved, cycle 2 trial 1 edited to lr 0.004 (off the grid), cycle 3 trial 1
    rejected and its re-proposal approved: in the history, the audit trail and the report."""
    history = [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]
    edited = next(r for r in history if r["cycle"] == 2 and r["trial"] == 1)
    assert edited["params"]["training.learning_rate"] == 0.004
    assert edited["proposal"]["off_grid"] is True
    decisions = [e for e in events(run_dir) if e["type"] == "decision"]
    assert [d["action"] for d in decisions] == ["approve", "edit", "reject", "approve"]
    assert all(d["who"] for d in decisions)
    assert decisions[1]["diff"]["1"]["training.learning_rate"][1] == 0.004
    report = json.loads((run_dir / "report.json").read_text())
    assert report["status"] == "completed"
    marks = {(c["cycle"], t["trial"]): t["proposal"]["guided"] for c in report["cycles"]
             for t in c["trials"]}  # fmt: skip
    assert marks[(1, 0)]["decision"] == marks[(1, 1)]["decision"] == "approved"
    assert marks[(2, 1)]["decision"] == "edited"
    assert marks[(3, 1)]["rejected"] and marks[(3, 1)]["decision"] == "approved"
    rejected_params = marks[(3, 1)]["rejected"][0]
    ran = next(r for r in history if r["cycle"] == 3 and r["trial"] == 1)["params"]
    assert rejected_params != ran


def test_a_guided_session_from_the_cli(tmp_path: Path) -> None:
    proc = subprocess.Popen(_cmd(tmp_path, "g", "--quiet"), cwd=tmp_path, env=ENV, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    run_dir = tmp_path / "g"
    wait_for(run_dir, _pending(1))
    status = cli(tmp_path, "status", "g")
    assert "waiting-for-decision" in status.stdout and "decision" in status.stdout
    assert cli(tmp_path, "approve", "g").returncode == 0
    wait_for(run_dir, _pending(2))
    unknown = cli(tmp_path, "approve", "g", "--set", "training.nope=1")
    assert unknown.returncode == 2 and "not a search-space parameter" in unknown.stderr
    invalid = cli(tmp_path, "approve", "g", "--set", "training.learning_rate=-1")
    assert invalid.returncode == 2 and "learning_rate" in invalid.stderr
    assert cli(tmp_path, "reject", "g", "--trial", "7").returncode == 2
    edit = cli(tmp_path, "approve", "g", "--trial", "1", "--set", "training.learning_rate=0.004")
    assert edit.returncode == 0, edit.stderr
    stale = cli(tmp_path, "approve", "g", "--version", "1")
    assert stale.returncode == 2 and "waits for no decision" in stale.stderr
    wait_for(run_dir, _pending(3))
    reject = cli(tmp_path, "reject", "g", "--trial", "1", "--reason", "too hot")
    assert reject.returncode == 0, reject.stderr
    wait_for(run_dir, _pending(3), count=2)
    old = cli(tmp_path, "approve", "g", "--version", "1")
    assert old.returncode == 2 and "stale decision version 1" in old.stderr
    assert cli(tmp_path, "approve", "g").returncode == 0
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-2000:]
    _check_session(run_dir)
    nothing = cli(tmp_path, "approve", "g")
    assert nothing.returncode == 2 and "completed, not running" in nothing.stderr


def test_the_same_session_through_the_interactive_prompt(tmp_path: Path) -> None:
    master, slave = pty.openpty()
    proc = subprocess.Popen(_cmd(tmp_path, "p"), cwd=tmp_path, env={**ENV, "COLUMNS": "160"},
                            stdin=slave, stdout=slave, stderr=slave)  # fmt: skip
    os.close(slave)
    screen = b""

    def answer_after(prompt: bytes, text: str) -> None:
        nonlocal screen
        deadline = time.monotonic() + 300
        while prompt not in screen:
            assert time.monotonic() < deadline, screen[-2000:].decode(errors="replace")
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                screen += os.read(master, 65536)
        screen = screen[screen.index(prompt) + len(prompt) :]
        os.write(master, (text + "\n").encode())

    answer_after(b"reject [r]? ", "a")
    answer_after(b"reject [r]? ", "e")
    answer_after(b"(number; empty: all)? ", "1")
    answer_after(b"key=value: ", "training.learning_rate=0.004")
    answer_after(b"reject [r]? ", "r")
    answer_after(b"(number; empty: all)? ", "1")
    answer_after(b"why? ", "too hot")
    answer_after(b"reject [r]? ", "a")
    deadline = time.monotonic() + 300
    while proc.poll() is None:  # keep reading: a full terminal buffer would block the run
        assert time.monotonic() < deadline
        if select.select([master], [], [], 0.5)[0]:
            try:
                screen += os.read(master, 65536)
            except OSError:
                break
    assert proc.wait(60) == 0, screen[-2000:].decode(errors="replace")
    os.close(master)
    _check_session(tmp_path / "p")


def test_a_deadline_can_approve_on_its_own(tmp_path: Path) -> None:
    extra = ["guided.deadline_s=0.5", "guided.on_deadline=approve", "early_stopping.max_cycles=2"]
    done = subprocess.run(_cmd(tmp_path, "d", "--quiet", *extra), cwd=tmp_path, env=ENV,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    decisions = [e for e in events(tmp_path / "d") if e["type"] == "decision"]
    assert [(d["action"], d["who"]) for d in decisions] == [("approve", "deadline")] * 2
