"""``RUN`` on the command line: a run directory, or a run id under the output folder; and
what its control files say about it."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from qtrain.control.folder import ControlFolder
from qtrain.control.lock import read_owner
from qtrain.control.status import LIVE_STATES, RunStatus, read_status
from qtrain.errors import QtrainError
from qtrain.events import read_events
from qtrain.rundir import EVENTS_FILE, RunDirectory


def find_run(run: str, output_dir: Path) -> RunDirectory:
    """The run directory ``run`` names (a path, or an id under ``output_dir``)."""
    for candidate in (Path(run), output_dir / run):
        if (candidate / EVENTS_FILE).is_file():
            return RunDirectory(candidate)
    raise QtrainError(
        f"no run {run!r}: give a run directory, or a run id under {output_dir} "
        "(`qtrain runs` lists them)"
    )


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


def require_live(run_view: RunView) -> None:
    """One line unless the run's process is alive to take a command."""
    if not run_view.alive or run_view.state not in LIVE_STATES:
        hint = " (`qtrain run --resume` continues it)" if run_view.resumable else ""
        raise QtrainError(f"run {run_view.run_dir.run_id} is {run_view.state}, not running{hint}")


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


def _events(run_dir: RunDirectory) -> list[dict]:
    try:
        return read_events(run_dir.events_file)
    except OSError:
        return []
