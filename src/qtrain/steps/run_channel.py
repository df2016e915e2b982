"""A client of a pipeline run's control channel, wherever the run's store is reachable.

On a cluster no process of the run is there to hold a lock between steps: the run is
live while its ``status.json`` says so (the steps write it), and commands are read at the
cycle boundary by the gate step, or at once by a guided propose step that waits for a
decision. With ``kubeflow.runs_pvc`` the channel is the run directory on the volume (a
notebook that mounts it reaches it); with an ``azure_blob`` store it is the store's run
files, a command appended by compare-and-swap so two senders never lose one.
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qtrain.config.schema import RunConfig
from qtrain.control.channel import COMMANDS, Command, ControlChannel
from qtrain.control.folder import ControlFolder
from qtrain.control.status import RunStatus, read_status
from qtrain.errors import QtrainError
from qtrain.events import read_events
from qtrain.rundir import COMMANDS_FILE, CONTROL_RUN_FILES, read_json
from qtrain.steps.run_control import control_store_kind, opened_control


@dataclass(frozen=True)
class PipelineRunView:
    """What a pipeline run's channel says: its status, pending decision and control events."""

    run_id: str
    status: RunStatus | None
    decision: dict[str, Any] | None
    events: list[dict[str, Any]]

    @property
    def state(self) -> str:
        """The status's state (``unknown`` before the first step wrote one)."""
        return self.status.state if self.status else "unknown"


def look(config: RunConfig, run_id: str) -> PipelineRunView:
    """Read pipeline run ``run_id``'s channel (never writes); one line if it has none."""
    where = _where(config)
    with opened_control(config, run_id, write_back=False) as run_dir:
        assert run_dir is not None  # _where checked kubeflow.control
        folder = ControlFolder.of(run_dir.root)
        status = read_status(folder)
        if status is None and not run_dir.events_file.is_file():
            raise QtrainError(
                f"no pipeline run {run_id!r} in {where}: check the run id (the submit printed "
                "it) and that --config names the config it was submitted with"
            )
        decision = read_json(folder.decision) if folder.decision.is_file() else None
        events = read_events(run_dir.events_file) if run_dir.events_file.is_file() else []
    return PipelineRunView(run_id, status, decision, events)


def send(config: RunConfig, run_id: str, command: str, **args: Any) -> Command:
    """Append ``command`` to pipeline run ``run_id``'s channel; returns it (its ``id`` is
    what the run's acknowledgement names)."""
    if command not in COMMANDS:
        raise ValueError(f"unknown command {command!r}: choose from {', '.join(COMMANDS)}")
    if control_store_kind(config) == "volume":
        folder = ControlFolder.of(config.output_path() / run_id)
        return ControlChannel(folder.commands).send(command, **args)
    from qtrain.checkpoints import open_store

    sent = Command(command, dict(args))
    line = (json.dumps(sent.to_dict()) + "\n").encode("utf-8")
    with tempfile.TemporaryDirectory(prefix="qtrain-send-") as scratch:
        store = open_store(config.storage, Path(scratch), run_id)
        store.append_run_file(CONTROL_RUN_FILES[COMMANDS_FILE], line)
    return sent


def wait_for_ack(
    config: RunConfig, run_id: str, command_id: str, timeout_s: float, poll_s: float = 1.0
) -> dict[str, Any] | None:
    """The ``control`` event acknowledging ``command_id`` (None: none within ``timeout_s``)."""
    deadline = time.monotonic() + timeout_s
    while True:
        for event in reversed(look(config, run_id).events):
            if event.get("type") == "control" and event.get("id") == command_id:
                return event
        if time.monotonic() >= deadline:
            return None
        time.sleep(poll_s)


def _where(config: RunConfig) -> str:
    kind = control_store_kind(config)
    if kind is None:
        raise QtrainError(
            "this config takes no commands as a pipeline: set kubeflow.control=true (with "
            "kubeflow.runs_pvc or an azure_blob store), as the run was submitted with"
        )
    if kind == "volume":
        return f"{config.output_path()} (the runs volume)"
    return f"the blob store {config.storage.container}/{config.storage.prefix}"
