"""The run's status: one small JSON file, replaced atomically at every change of state.

``state`` is what the run *is* doing (never what someone asked for): ``starting``,
``running``, ``waiting-for-decision`` (guided mode), ``pausing``, ``paused``, ``stopping``,
``stopped``, ``exporting``, ``completed`` or ``failed``. A reader that finds a live-looking
state whose writer is gone (the lock's pid is dead or its heartbeat stale) reports
``interrupted`` instead.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from qtrain.control.folder import ControlFolder
from qtrain.errors import QtrainError
from qtrain.rundir import write_json_atomic

STATES = (
    "starting", "running", "pausing", "paused", "stopping", "stopped", "exporting",
    "completed", "failed", "waiting-for-decision",
)  # fmt: skip
#: States in which the run's process is expected to be alive.
LIVE_STATES = (
    "starting", "running", "pausing", "paused", "stopping", "exporting", "waiting-for-decision",
)  # fmt: skip


@dataclass(frozen=True)
class RunStatus:
    """Where a run is: its state, its progress and why it is there."""

    state: str
    run_id: str = ""
    cycle: int = 0
    trial: int | None = None
    step: int | None = None
    total_steps: int | None = None
    max_cycles: int | None = None
    incumbent: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    reason: str | None = None
    pid: int = field(default_factory=os.getpid)
    host: str = field(default_factory=socket.gethostname)
    updated: float = field(default_factory=lambda: round(time.time(), 3))

    def but(self, **changes: Any) -> RunStatus:
        """A copy with ``changes`` and a new ``updated`` time."""
        return replace(self, **changes, updated=round(time.time(), 3))


def write_status(folder: ControlFolder, status: RunStatus) -> None:
    """Replace the status file (readers never see half of one)."""
    if status.state not in STATES:
        raise ValueError(f"unknown run state {status.state!r}")
    folder.root.mkdir(parents=True, exist_ok=True)
    write_json_atomic(folder.status, asdict(status))


def read_status(folder: ControlFolder) -> RunStatus | None:
    """The recorded status (None: the run has none yet); a corrupt file is one-line error."""
    try:
        raw = json.loads(Path(folder.status).read_text(encoding="utf-8"))
        return RunStatus(**raw)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError) as exc:
        raise QtrainError(
            f"{folder.status}: unreadable run status ({exc}); the run's events.jsonl still "
            "says what happened"
        ) from None
