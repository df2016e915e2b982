"""A pipeline run's control plane: where its channel lives, the gate's read, the end state.

The channel is the in-process layout's ``control/`` folder of the run directory
``runtime.output_dir/<run_id>``: the one ``qtrain run --engine kfp-local`` creates, or the
same path on ``kubeflow.runs_pvc`` on a cluster. With an ``azure_blob`` checkpoint store and
no runs volume it is kept as run files of the store (``qtrain.rundir.CONTROL_RUN_FILES``),
copied into a scratch folder for each read and back. Commands are read by
:func:`qtrain.control.boundary.take_commands`; a halt is written to ``control/halt.json``,
which the export step turns into the report's status.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from qtrain.config.schema import RunConfig
from qtrain.control.boundary import Halt, take_commands
from qtrain.control.folder import ControlFolder
from qtrain.control.status import RunStatus, read_status, write_status
from qtrain.cycle import RunState
from qtrain.errors import QtrainError
from qtrain.events import read_events
from qtrain.rundir import COMMANDS_FILE, CONTROL_RUN_FILES, EVENTS_FILE, HALT_FILE, RunDirectory
from qtrain.rundir import write_json_atomic as write_json

#: status.json's state for each way a pipeline run ends (it holds no process: a pause ends it).
END_STATES = {"completed": "completed", "stopped": "stopped", "paused": "stopped"}
#: The events a pipeline run writes to its live log only (not to a step's state folder).
LIVE_EVENTS = ("control", "decision_pending", "decision")


def control_store_kind(config: RunConfig) -> str | None:
    """Where a controllable pipeline keeps its channel: ``volume``, ``blob`` or None (no
    store, or the run takes no commands: ``kubeflow.control`` is off)."""
    if not config.kubeflow.control:
        return None
    if config.kubeflow.runs_pvc:
        return "volume"
    return "blob" if config.storage.kind == "azure_blob" else None


def check_control_store(config: RunConfig, local: bool = False) -> None:
    """A controllable pipeline needs a store its gate can read (``local``: kfp-local's runs
    directory counts); one line if it has none."""
    if config.runtime.mode == "guided" and not config.kubeflow.control and not local:
        raise QtrainError(
            "runtime.mode=guided in a pipeline waits for decisions sent through the run's "
            "control channel: set kubeflow.control=true (with kubeflow.runs_pvc or an "
            "azure_blob store)"
        )
    if config.kubeflow.control and not local and control_store_kind(config) is None:
        raise QtrainError(
            "kubeflow.control needs a store the gate can read the control channel from: set "
            "kubeflow.runs_pvc or storage.kind=azure_blob (or kubeflow.control=false)"
        )


@contextmanager
def opened_control(
    config: RunConfig, run_id: str, write_back: bool = True
) -> Iterator[RunDirectory | None]:
    """The run directory holding the control folder and the live events (None: no channel).

    With a blob store the files are read into a scratch folder and written back after
    (``write_back=False``: a client's read, which must not undo a step's writes).
    """
    if not config.kubeflow.control:
        yield None
        return
    if control_store_kind(config) != "blob":
        yield RunDirectory(config.output_path() / run_id)
        return
    from qtrain.checkpoints import open_store

    with tempfile.TemporaryDirectory(prefix="qtrain-control-") as tmp:
        store = open_store(config.storage, Path(tmp) / "checkpoints", run_id)
        scratch = RunDirectory(Path(tmp) / "run")
        paths = _blob_paths(scratch)
        for name, path in paths.items():
            data = store.read_run_file(CONTROL_RUN_FILES[name])
            if data is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
        yield scratch
        if not write_back:
            return
        for name, path in paths.items():  # the commands are the senders' (append-only)
            if path.is_file() and name != COMMANDS_FILE:
                store.write_run_file(CONTROL_RUN_FILES[name], path.read_bytes())


def _blob_paths(run_dir: RunDirectory) -> dict[str, Path]:
    folder = ControlFolder.of(run_dir.root)
    return {
        EVENTS_FILE: run_dir.events_file,
        **{
            path.name: path
            for path in (folder.commands, folder.status, folder.root / HALT_FILE, folder.decision)
        },
    }


def gate_commands(config: RunConfig, state: RunState) -> Halt | None:
    """The gate's read of the channel after ``state.cycle``: the halt it found (None: go on).

    The halt goes to ``control/halt.json``; ``status.json`` says where the run is.
    """
    with opened_control(config, state.run_id) as run_dir:
        if run_dir is None:
            return None
        folder = ControlFolder.of(run_dir.root)
        compiled = config.early_stopping.max_cycles
        found = take_commands(folder.commands, run_dir.events_file, compiled, state.cycle)
        halt = found.halt
        status = RunStatus(
            "running", state.run_id, cycle=state.cycle, max_cycles=compiled,
            incumbent=state.incumbent,
        )  # fmt: skip
        if halt is not None:
            write_json(folder.root / HALT_FILE, halt.to_dict())
            status = status.but(state="exporting", reason=halt.reason)
        write_status(folder, status)
        return halt


def read_halt(config: RunConfig, run_id: str) -> Halt | None:
    """The halt the gate recorded for run ``run_id`` (None: none, or no channel)."""
    with opened_control(config, run_id) as run_dir:
        if run_dir is None:
            return None
        path = ControlFolder.of(run_dir.root).root / HALT_FILE
        if not path.is_file():
            return None
        return Halt(**json.loads(path.read_text(encoding="utf-8")))


def finish_status(config: RunConfig, run_id: str, status: str, reason: str | None) -> None:
    """The run's last ``status.json`` (``status``: the report's)."""
    with opened_control(config, run_id) as run_dir:
        if run_dir is None:
            return
        folder = ControlFolder.of(run_dir.root)
        last = read_status(folder) or RunStatus("running", run_id)
        write_status(folder, last.but(state=END_STATES.get(status, "failed"), reason=reason))


def clear_halt(run_dir: RunDirectory) -> None:
    """Forget the halt of a stopped run that is being resumed."""
    (ControlFolder.of(run_dir.root).root / HALT_FILE).unlink(missing_ok=True)


def adopt_run(exported: RunDirectory, target: RunDirectory) -> None:
    """Move the exported run directory into the live one ``target``.

    ``target`` keeps its ``control/`` folder; its control and decision events that the
    exported log lacks (acknowledged after the export step read them, or written by a guided
    propose step) join the log before ``run_end``.
    """
    mine = read_events(exported.events_file)
    keys = {json.dumps(e, sort_keys=True) for e in mine}
    live = read_events(target.events_file) if target.events_file.is_file() else []
    extra = [
        e
        for e in live
        if e.get("type") in LIVE_EVENTS and json.dumps(e, sort_keys=True) not in keys
    ]
    if extra:
        end = [mine.pop()] if mine and mine[-1].get("type") == "run_end" else []
        merged = sorted(mine + extra, key=lambda e: float(e.get("ts") or 0.0)) + end
        lines = "".join(json.dumps(e) + "\n" for e in merged)
        exported.events_file.write_text(lines, encoding="utf-8")
    target.root.mkdir(parents=True, exist_ok=True)
    for entry in exported.root.iterdir():
        destination = target.root / entry.name
        if destination.is_dir() and not destination.is_symlink():
            shutil.rmtree(destination)
        elif destination.exists():
            destination.unlink()
        shutil.move(str(entry), str(destination))


def start_live_run(run_dir: RunDirectory, config: RunConfig, state: str = "running") -> None:
    """Make ``run_dir`` a live run that clients find: its config, an event log (the control
    events until the export adopts it) and ``status.json``."""
    run_dir.root.mkdir(parents=True, exist_ok=True)
    run_dir.write_config(config.model_dump(mode="json"))
    run_dir.events_file.touch()
    folder = ControlFolder.of(run_dir.root)
    status = RunStatus(state, run_dir.run_id, max_cycles=config.early_stopping.max_cycles)
    write_status(folder, status)
