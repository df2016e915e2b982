"""A run as its clients see it (the CLI, the dashboard): its status, whether its process is
alive, and the acknowledgement of a command sent to it."""

from __future__ import annotations

import time
from dataclasses import dataclass

from qtrain.control.folder import ControlFolder
from qtrain.control.lock import read_owner
from qtrain.control.status import LIVE_STATES, RunStatus, read_status
from qtrain.errors import QtrainError
from qtrain.events import read_events
from qtrain.rundir import RunDirectory

#: How long a client waits for a run to acknowledge a command (runs read commands after
#: each optimizer step).
ACK_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class RunView:
    """A run as a client sees it: its status, and whether its process is alive."""

    run_dir: RunDirectory
    status: RunStatus | None
    alive: bool

    @property
    def state(self) -> str:
        """The state to show: ``interrupted`` when a live state's process is gone."""
        if self.status is None:
            ended = [e for e in _events(self.run_dir) if e.get("type") == "run_end"]
            return str(ended[-1]["status"]) if ended else "interrupted"
        if self.status.state in LIVE_STATES and not self.alive:
            return "interrupted"
        return self.status.state

    @property
    def resumable(self) -> bool:
        """Whether ``qtrain run --resume`` can continue it."""
        return self.state in ("interrupted", "stopped", "failed")


def view(run_dir: RunDirectory) -> RunView:
    """The status and liveness of the run in ``run_dir``."""
    folder = ControlFolder.of(run_dir.root)
    owner = read_owner(folder.lock)
    return RunView(run_dir, read_status(folder), owner is not None and owner.alive())


def wait_for_ack(run_dir: RunDirectory, command_id: str, timeout: float) -> dict | None:
    """The ``control`` event acknowledging ``command_id`` (None: none within ``timeout``)."""
    deadline = time.monotonic() + timeout
    while True:
        for event in reversed(_events(run_dir)):
            if event.get("type") == "control" and event.get("id") == command_id:
                return event
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.1)


def acknowledged(run_id: str, command: str, ack: dict | None) -> dict:
    """The acknowledgement of ``command`` if the run accepted it; one-line
    :class:`QtrainError` when it rejected it or never answered (``ack`` None)."""
    if ack is None:
        raise QtrainError(
            f"run {run_id} did not acknowledge {command} within {ACK_TIMEOUT_S:.0f} s "
            "(it reads commands after each optimizer step): check `qtrain status`"
        )
    if ack["outcome"] == "rejected":
        raise QtrainError(f"run {run_id} rejected {command}: {ack.get('reason')}")
    return ack


def _events(run_dir: RunDirectory) -> list[dict]:
    try:
        return read_events(run_dir.events_file)
    except OSError:
        return []
