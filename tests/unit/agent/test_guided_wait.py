"""Guided mode's wait for a decision: what ends it besides a decision."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from qtrain.agent.guided import _wait
from qtrain.control.controller import RunController
from qtrain.control.folder import ControlFolder
from qtrain.control.status import RunStatus
from qtrain.errors import InfrastructureError
from qtrain.events import EventLog


def test_a_machine_failure_ends_the_wait_for_a_decision(tmp_path: Path) -> None:
    """A run waiting for a person whose lock can no longer be refreshed would look
    abandoned: the heartbeat's failure stops it while it waits (the deadline only keeps a
    regression from waiting forever)."""
    events = EventLog(tmp_path / "events.jsonl")
    controller = RunController(ControlFolder.of(tmp_path), events, RunStatus("running"))
    beats: list[int] = []

    def heartbeat_fails_on_the_second_poll() -> None:
        beats.append(1)
        if len(beats) == 2:
            raise OSError(28, "No space left on device", str(tmp_path / "control/lock.json"))

    controller.machine_checks.append(heartbeat_fails_on_the_second_poll)
    with pytest.raises(InfrastructureError, match="disk full on the run's control files"):
        _wait(SimpleNamespace(controller=controller), deadline=time.time() + 10)  # type: ignore[arg-type]
    assert len(beats) == 2
