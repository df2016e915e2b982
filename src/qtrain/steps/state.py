"""The run-state folder that flows from step to step, and the cycle engine restored from it."""

from __future__ import annotations

import json
from pathlib import Path

from qtrain.config.loader import validate_config
from qtrain.config.schema import RunConfig
from qtrain.cycle import CycleEngine, RunState
from qtrain.errors import ConfigError, QtrainError
from qtrain.events import EventLog
from qtrain.history import History
from qtrain.rundir import StateFolder, write_json_atomic

__all__ = [
    "RunState",
    "check_pipeline_runs",
    "init_state",
    "parse_config_json",
    "read_state",
    "restore_engine",
    "runs_rungs",
    "write_state",
]


def parse_config_json(config_json: str) -> RunConfig:
    """Validate the pipeline's ``config_json`` parameter (again, inside every step)."""
    try:
        data = json.loads(config_json)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"pipeline parameter config_json is not JSON: {exc.msg}") from None
    if not isinstance(data, dict):
        raise ConfigError("pipeline parameter config_json must be a JSON object (a run config)")
    return validate_config(data, source="pipeline parameter config_json")


def check_pipeline_runs(config: RunConfig) -> None:
    """Refuse, as one line, a config that sets a key only the in-process runner runs yet."""
    in_process_only = (("quantum.default_lineage", config.quantum.default_lineage),)
    for key, is_set in in_process_only:
        if is_set:
            raise QtrainError(
                f"{key} runs in-process only in this version: unset it to run the config "
                "as a pipeline"
            )


def runs_rungs(config: RunConfig) -> bool:
    """Whether the config's cycles run successive halving (``training.rung_steps``, k >= 2):
    the pipeline then trains rungs, halves, and continues the winner."""
    return bool(config.training.rung_steps) and config.training.trials_per_cycle > 1


def write_state(folder: Path, state: RunState) -> None:
    """Write ``state.json`` atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    write_json_atomic(StateFolder(folder).state_file, state.to_dict())


def read_state(folder: Path | str) -> RunState:
    """Read ``state.json`` of a run-state folder; a missing or damaged one is a clear error."""
    path = StateFolder(Path(folder)).state_file
    try:
        return RunState(**json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise QtrainError(f"{path} is missing: the run-state input is not a qtrain state") from None
    except (json.JSONDecodeError, TypeError) as exc:
        raise QtrainError(f"{path} is damaged ({exc}); re-run the pipeline") from None


def init_state(folder: Path, config: RunConfig, state: RunState) -> None:
    """Create a run-state folder: resolved config, state, empty history and events."""
    files = StateFolder(folder)
    files.write_config(config.model_dump(mode="json"))
    files.history_file.touch()
    files.events_file.touch()  # kept if the step already wrote events
    write_state(folder, state)


def restore_engine(config: RunConfig, folder: Path, record: bool = False) -> CycleEngine:
    """The cycle engine as the run left it in state folder ``folder`` (no model, no data).

    With ``record``, later events and trials are appended to the folder's files (a step
    writes only into its own output folder, a copy of its input). Trials recorded after the
    state's last concluded cycle (the halve step's halved ones) are the open cycle's
    :attr:`CycleEngine.pending` trials.
    """
    files = StateFolder(folder)
    state = read_state(folder)
    history = History.load(files.history_file)
    if not record:
        history.path = None
    events = EventLog(files.events_file if record else None)
    return CycleEngine(config, state.baseline, history, concluded=state.cycle, events=events)
