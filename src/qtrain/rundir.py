"""Every file name of a run, in one place: nothing else in qtrain spells one.

- :class:`RunDirectory`: ``<output_dir>/<run_id>/``, what a finished run leaves;
- :class:`StateFolder`: the run state that flows from pipeline step to pipeline step
  (``config.yaml``, ``state.json``, ``history.jsonl``, ``events.jsonl``);
- :class:`TrialFolder`: one trial's checkpoint folder (weights, ``trial.json``,
  ``metrics.json``, ``samples.json``) and the records the pipeline steps pass along;
- the names a remote checkpoint store keeps next to the checkpoints (``RUN_FILE``,
  ``HISTORY_FILE``) and the prepared data's files.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from qtrain.errors import QtrainError
from qtrain.fsio import write_atomic

CONFIG_FILE = "config.yaml"
EVENTS_FILE = "events.jsonl"
HISTORY_FILE = "history.jsonl"
STATE_FILE = "state.json"
REPORT_JSON = "report.json"
REPORT_MD = "report.md"
RUN_FILE = "run.json"
"""The run's identity and base-model metrics, kept in a remote store for resuming."""

TRIAL_FILE = "trial.json"
METRICS_FILE = "metrics.json"
SAMPLES_FILE = "samples.json"
PROPOSAL_FILE = "proposal.json"
FAILURE_FILE = "failure.json"
RECORD_FILE = "record.json"
RUNG_FILE = "rung.json"
BASE_MARKER = "base.json"
TRAINER_SCRATCH = "_trainer"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
ADAPTER_CONFIG = "adapter_config.json"
FULL_WEIGHTS = "model.safetensors"
WEIGHT_FILES = (ADAPTER_WEIGHTS, FULL_WEIGHTS, "model.safetensors.index.json")

TRAIN_ROWS_FILE = "train.jsonl"
EVAL_ROWS_FILE = "eval.jsonl"
DATA_REPORT_FILE = "report.json"

KFP_LOCAL_ROOT = ".kfp-local"
KFP_LOCAL_LOG = "kfp-local.log"
#: In a pipeline's ``run`` artifact, ``export/`` holds only this note: the export itself is
#: the export step's ``model`` artifact (the merged model is uploaded once).
EXPORT_ELSEWHERE_FILE = "EXPORT.md"
AZURE_JOBS_DIR = "azure-jobs"


def checkpoint_name(cycle: int, trial: int) -> str:
    """The name of trial ``trial`` of cycle ``cycle``'s checkpoint: ``c001-t00``."""
    return f"c{cycle:03d}-t{trial:02d}"


@dataclass(frozen=True)
class _StateFiles:
    """The files a run directory and a pipeline state folder share."""

    root: Path

    @property
    def config_file(self) -> Path:
        """The fully resolved config the run used."""
        return self.root / CONFIG_FILE

    @property
    def events_file(self) -> Path:
        """``events.jsonl``: one JSON object per event."""
        return self.root / EVENTS_FILE

    @property
    def history_file(self) -> Path:
        """``history.jsonl``: one record per finished trial."""
        return self.root / HISTORY_FILE

    def write_config(self, resolved: dict[str, Any]) -> None:
        """Write the resolved config (a ``RunConfig.model_dump(mode='json')``) as YAML."""
        self.root.mkdir(parents=True, exist_ok=True)
        text = yaml.safe_dump(resolved, sort_keys=False)
        write_atomic(self.config_file, text.encode("utf-8"))  # qtrain set rewrites it mid-run


@dataclass(frozen=True)
class RunDirectory(_StateFiles):
    """Paths inside a run directory; every writer goes through here."""

    @property
    def run_id(self) -> str:
        """The run's id (the folder name)."""
        return self.root.name

    @property
    def checkpoints(self) -> Path:
        """Root of the local checkpoint store."""
        return self.root / "checkpoints"

    @property
    def data_dir(self) -> Path:
        """Prepared data and its preprocessing report."""
        return self.root / "data"

    @property
    def export_dir(self) -> Path:
        """Final exports: the adapter and the merged model."""
        return self.root / "export"

    @property
    def report_json(self) -> Path:
        """Machine-readable run report."""
        return self.root / REPORT_JSON

    @property
    def report_md(self) -> Path:
        """Human-readable run report."""
        return self.root / REPORT_MD

    @property
    def rungs_dir(self) -> Path:
        """Successive halving's scratch: the rungs of the running cycle (trainer states)."""
        return self.root / "rungs"

    @property
    def kfp_local_log(self) -> Path:
        """kfp.local's log of a ``--engine kfp-local`` run."""
        return self.root / KFP_LOCAL_LOG

    def write_report(self, report: dict[str, Any], markdown: str) -> None:
        """Write ``report.json`` (atomically) and ``report.md``."""
        write_json_atomic(self.report_json, report)
        self.report_md.write_text(markdown, encoding="utf-8")


@dataclass(frozen=True)
class StateFolder(_StateFiles):
    """The run-state folder a pipeline step reads and the next step's copy it writes."""

    @property
    def state_file(self) -> Path:
        """``state.json``: identity, base-model metrics and the last stop decision."""
        return self.root / STATE_FILE

    def copy_to(self, target: Path) -> StateFolder:
        """Copy the four files into ``target`` (steps never modify their inputs)."""
        target.mkdir(parents=True, exist_ok=True)
        for name in (CONFIG_FILE, STATE_FILE, HISTORY_FILE, EVENTS_FILE):
            shutil.copy2(self.root / name, target / name)
        return StateFolder(target)

    def is_complete(self) -> bool:
        """Whether ``state.json`` parses and the config and history are there."""
        try:
            json.loads(self.state_file.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return False
        return self.config_file.is_file() and self.history_file.is_file()


@dataclass(frozen=True)
class TrialFolder:
    """One trial's checkpoint folder, or a pipeline step's record of it."""

    root: Path

    @property
    def trial_file(self) -> Path:
        """``trial.json``: name, params, start checkpoint, train metrics, effective config."""
        return self.root / TRIAL_FILE

    @property
    def metrics_file(self) -> Path:
        """``metrics.json``: evaluation and training metrics."""
        return self.root / METRICS_FILE

    @property
    def samples_file(self) -> Path:
        """``samples.json``: a few generations with their references."""
        return self.root / SAMPLES_FILE

    @property
    def proposal_file(self) -> Path:
        """``proposal.json``: the trial a train step was given."""
        return self.root / PROPOSAL_FILE

    @property
    def failure_file(self) -> Path:
        """``failure.json``: why a train step's trial failed."""
        return self.root / FAILURE_FILE

    @property
    def record_file(self) -> Path:
        """``record.json``: the history record an evaluate step wrote."""
        return self.root / RECORD_FILE

    @property
    def rung_file(self) -> Path:
        """``rung.json``: a successive-halving rung's steps, eval loss and training summary."""
        return self.root / RUNG_FILE

    @property
    def base_marker(self) -> Path:
        """``base.json``: this folder stands for the base model (no weights)."""
        return self.root / BASE_MARKER

    @property
    def trainer_scratch(self) -> Path:
        """The trainer's working folder while training into this folder (removed after)."""
        return self.root / TRAINER_SCRATCH

    def has_weights(self) -> bool:
        """Whether the folder holds trained weights (False: it stands for the base model)."""
        return any((self.root / name).is_file() for name in WEIGHT_FILES)


def new_run_id() -> str:
    """A sortable, unique-enough id: UTC time plus 4 random hex digits."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + os.urandom(2).hex()


def create_run_directory(
    parent: Path, run_id: str | None, resolved: dict[str, Any]
) -> RunDirectory:
    """Create ``parent/run_id`` and write the resolved config; never reuse an existing one."""
    root = parent / (run_id or new_run_id())
    try:
        root.mkdir(parents=True, exist_ok=False)
    except FileExistsError:
        raise QtrainError(
            f"run directory {root} already exists: choose another runtime.run_id "
            "(qtrain never overwrites a run)"
        ) from None
    except OSError as exc:
        raise QtrainError(f"cannot create run directory {root}: {exc.strerror}") from None
    run_dir = RunDirectory(root)
    run_dir.write_config(resolved)
    return run_dir


def read_json(path: Path) -> Any:
    """Read a JSON file qtrain wrote; a missing one is a one-line error naming it."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise QtrainError(f"{path} is missing: the step's input is incomplete") from None


def write_json_atomic(path: Path, payload: Any) -> None:
    """Write JSON through a temp file and rename, so readers never see half a file.

    Numpy scalars are written as numbers, anything else json cannot write as a string.
    """
    write_atomic(path, (json.dumps(payload, indent=2, default=json_default) + "\n").encode())


def json_default(value: Any) -> Any:
    """``json.dumps``'s ``default`` for qtrain's files: numpy scalars as numbers, else str."""
    if hasattr(value, "item"):
        return value.item()
    return str(value)


# -- the control plane (qtrain.control.folder.ControlFolder) ------------------------------------
CONTROL_DIR = "control"
SUSPENDED_DIR = "suspended"
COMMANDS_FILE = "commands.jsonl"
STATUS_FILE = "status.json"
LOCK_FILE = "lock.json"
SUSPENDED_FILE = "suspended.json"
DECISION_FILE = "decision.json"
HALT_FILE = "halt.json"
"""``control/halt.json``: the stop or pause a pipeline run's gate took at a cycle boundary."""
#: A pipeline run's control files kept as run files of a blob checkpoint store.
CONTROL_RUN_FILES = {
    COMMANDS_FILE: "control-commands.jsonl",
    STATUS_FILE: "control-status.json",
    HALT_FILE: "control-halt.json",
    DECISION_FILE: "control-decision.json",
    EVENTS_FILE: "control-events.jsonl",
}
