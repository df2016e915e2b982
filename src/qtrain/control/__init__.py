"""The control plane of a run: commands in, state out, one writer.

A run directory's ``control/`` folder holds an append-only command channel
(:mod:`~qtrain.control.channel`), the run's status (:mod:`~qtrain.control.status`) and the
writer's lock with its heartbeat (:mod:`~qtrain.control.lock`). The runner's
:class:`~qtrain.control.controller.RunController` reads the channel at safe points and
acknowledges every command with an event; the CLI (``qtrain pause/resume/stop/set/status``)
and later the dashboard are clients of these files only.
"""

from qtrain.control.channel import Command, ControlChannel
from qtrain.control.controller import RunController, StopRequested
from qtrain.control.folder import ControlFolder
from qtrain.control.lock import RunBusyError, RunLock
from qtrain.control.status import RunStatus, read_status

__all__ = [
    "Command",
    "ControlChannel",
    "ControlFolder",
    "RunBusyError",
    "RunController",
    "RunLock",
    "RunStatus",
    "StopRequested",
    "read_status",
]
