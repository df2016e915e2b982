"""``qtrain run --resume`` that fails before the run is restored: one line, the report
untouched, the status saying why, the run released."""

import errno
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import qtrain.agent.loop as loop_module
from qtrain import QuantumTrainingAgent
from qtrain.cli.app import app
from qtrain.control import ControlFolder, RunLock
from qtrain.control.status import read_status

pytestmark = pytest.mark.slow


def test_a_resume_that_meets_a_full_disk_while_loading_says_so_and_keeps_the_files(
    failed_run: QuantumTrainingAgent, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = Path(failed_run.run_dir.root)  # a failed run: resumable
    kept = [root / "report.json", root / "history.jsonl"]
    before = [path.read_bytes() for path in kept]

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(loop_module, "open_run", full_disk)
    result = CliRunner().invoke(app, ["run", "--resume", str(root)])
    assert result.exit_code == 75, result.output
    assert "stopped:" in result.output and "No space left on device" in result.output
    assert "as they were" in result.output and "Traceback" not in result.output
    assert [path.read_bytes() for path in kept] == before
    assert json.loads((root / "report.json").read_text())["status"] == "failed"
    # the status says why this attempt stopped (not "starting"), and the run is free again
    status = read_status(ControlFolder.of(root))
    assert status is not None and status.state == "stopped"
    assert "No space left on device" in (status.reason or "")
    lock = RunLock(ControlFolder.of(root).lock, run="the test")
    lock.acquire()  # not RunBusyError: the failed attempt let go of the run
    lock.release()


def test_a_resume_whose_status_write_fails_too_says_why_and_releases_the_run(
    failed_run: QuantumTrainingAgent, monkeypatch: pytest.MonkeyPatch
) -> None:
    import qtrain.control.controller as controller_module

    root = Path(failed_run.run_dir.root)

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    def status_fails(*args, **kwargs):
        raise OSError(errno.EIO, "Input/output error", "control/status.json")

    monkeypatch.setattr(loop_module, "open_run", full_disk)
    monkeypatch.setattr(controller_module.RunController, "finish", status_fails)
    result = CliRunner().invoke(app, ["run", "--resume", str(root)])
    assert result.exit_code == 75, result.output  # why it stopped, not the status write
    assert "stopped:" in result.output and "No space left on device" in result.output
    assert "status.json" not in result.output
    lock = RunLock(ControlFolder.of(root).lock, run="the test")
    lock.acquire()  # not RunBusyError: the failed attempt let go of the run
    lock.release()
