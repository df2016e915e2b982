"""The run-state folder that flows from step to step, and the decision agent rebuilt from it."""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from qtrain.config.loader import validate_config
from qtrain.config.schema import RunConfig
from qtrain.errors import ConfigError, QtrainError
from qtrain.events import EventLog
from qtrain.history import History, TrialRecord
from qtrain.rundir import write_json_atomic

if TYPE_CHECKING:
    from qtrain.agent.loop import QuantumTrainingAgent

STATE_FILE = "state.json"
CONFIG_FILE = "config.yaml"
HISTORY_FILE = "history.jsonl"
EVENTS_FILE = "events.jsonl"
BASE_MARKER = "base.json"
WEIGHT_FILES = ("adapter_model.safetensors", "model.safetensors", "model.safetensors.index.json")


@dataclass
class RunState:
    """What a step needs besides the history: identity, starting point and last decision."""

    run_id: str
    baseline: dict[str, float]
    started: float = field(default_factory=time.time)
    cycle: int = 0
    incumbent: str | None = None
    stop: bool = False
    stop_reason: str | None = None


def parse_config_json(config_json: str) -> RunConfig:
    """Validate the pipeline's ``config_json`` parameter (again, inside every step)."""
    try:
        data = json.loads(config_json)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"pipeline parameter config_json is not JSON: {exc.msg}") from None
    if not isinstance(data, dict):
        raise ConfigError("pipeline parameter config_json must be a JSON object (a run config)")
    return validate_config(data, source="pipeline parameter config_json")


def write_state(folder: Path, state: RunState) -> None:
    """Write ``state.json`` atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    write_json_atomic(folder / STATE_FILE, asdict(state))


def read_state(folder: Path | str) -> RunState:
    """Read ``state.json`` of a run-state folder; a missing or damaged one is a clear error."""
    path = Path(folder) / STATE_FILE
    try:
        return RunState(**json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise QtrainError(f"{path} is missing: the run-state input is not a qtrain state") from None
    except (json.JSONDecodeError, TypeError) as exc:
        raise QtrainError(f"{path} is damaged ({exc}); re-run the pipeline") from None


def init_state(folder: Path, config: RunConfig, state: RunState) -> None:
    """Create a run-state folder: resolved config, state, empty history and events."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / CONFIG_FILE).write_text(
        yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False), encoding="utf-8"
    )
    (folder / HISTORY_FILE).touch()
    (folder / EVENTS_FILE).touch()
    write_state(folder, state)


def copy_state(src: Path, dst: Path) -> None:
    """Copy a run-state folder (steps never modify their inputs)."""
    dst.mkdir(parents=True, exist_ok=True)
    for name in (CONFIG_FILE, STATE_FILE, HISTORY_FILE, EVENTS_FILE):
        shutil.copy2(src / name, dst / name)


def history_records(folder: Path) -> list[TrialRecord]:
    """The finished trials recorded in a run-state folder."""
    return History.load(folder / HISTORY_FILE).records


def decision_agent(
    config: RunConfig, folder: Path, record_to: Path | None = None, with_proposer: bool = False
) -> QuantumTrainingAgent:
    """An agent without model or data whose decisions are those of the run so far.

    It replays the recorded cycles (see ``QuantumTrainingAgent.replay``). With
    ``record_to`` (a copied state folder), later events and trials are appended there.
    Only the propose step needs ``with_proposer`` (and the solver's credentials).
    """
    from qtrain.agent.loop import QuantumTrainingAgent

    state = read_state(folder)
    agent = QuantumTrainingAgent(config)
    agent.prepare_decisions(state.baseline, with_proposer=with_proposer)
    agent.replay(history_records(folder))
    if record_to is not None:
        attach_state(agent, record_to)
    return agent


def attach_state(agent: QuantumTrainingAgent, folder: Path) -> None:
    """Append the agent's later events and trials to the state folder ``folder``."""
    agent.events = EventLog(folder / EVENTS_FILE)
    agent.history.path = folder / HISTORY_FILE


def has_weights(checkpoint_dir: Path) -> bool:
    """Whether a checkpoint folder holds trained weights (False: it stands for the base)."""
    return any((checkpoint_dir / name).is_file() for name in WEIGHT_FILES)


def read_json(path: Path) -> Any:
    """Read a JSON file written by a step; a missing one names the file."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise QtrainError(f"{path} is missing: the step's input is incomplete") from None
