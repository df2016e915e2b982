"""The dashboard's JSON API and its command-line errors."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

QTRAIN = str(Path(sys.executable).with_name("qtrain"))


def test_runs_list_and_run_detail(served) -> None:
    _, client = served
    runs = client.get("/api/runs").json()["runs"]
    assert [r["run_id"] for r in runs] == ["r1"]
    assert runs[0]["state"] == "completed" and runs[0]["solver"] == "sa"
    assert runs[0]["best"] == {"metric": "eval_loss", "value": 0.5, "checkpoint": "c001-t00"}
    detail = client.get("/api/runs/r1").json()
    assert detail["search_space"] == {"training.learning_rate": [0.001, 0.01]}
    assert detail["decision"] is None and "solver_type: sa" in detail["config_yaml"]


def test_commands_are_checked_before_they_are_sent(served) -> None:
    _, client = served
    origin = {"origin": str(client.base_url)}
    bad = client.post("/api/runs/r1/command", json={"command": "set", "args": {}}, headers=origin)
    assert bad.status_code == 409 and "unknown command 'set'" in bad.json()["error"]
    extra = {"command": "pause", "args": {"after": "trial", "x": 1}}
    assert "takes no x" in client.post("/api/runs/r1/command", json=extra, headers=origin).text
    junk = client.post("/api/runs/r1/command", content=b"[1]", headers=origin)
    assert junk.status_code == 400


def _ui(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([QTRAIN, "ui", *args], capture_output=True, text=True, timeout=60)


def test_bad_input_is_one_line(tmp_path: Path, runs_dir: Path) -> None:
    not_a_run = _ui(str(tmp_path))
    assert not_a_run.returncode == 2
    assert "is not a run directory" in not_a_run.stderr and "Traceback" not in not_a_run.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        busy = _ui("--runs", str(runs_dir), "--port", str(port))
    assert busy.returncode == 2 and "choose another --port" in busy.stderr
    assert len(busy.stderr.strip().splitlines()) == 1
