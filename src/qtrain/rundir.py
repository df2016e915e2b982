"""The layout of one run's directory: ``<output_dir>/<run_id>/``."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from qtrain.config.schema import RunConfig
from qtrain.errors import QtrainError
from qtrain.fsio import write_atomic


@dataclass(frozen=True)
class RunDirectory:
    """Paths inside a run directory; every writer goes through here."""

    root: Path

    @property
    def run_id(self) -> str:
        """The run's id (the folder name)."""
        return self.root.name

    @property
    def config_file(self) -> Path:
        """The fully resolved config the run used."""
        return self.root / "config.yaml"

    @property
    def events_file(self) -> Path:
        """``events.jsonl``: one JSON object per event."""
        return self.root / "events.jsonl"

    @property
    def history_file(self) -> Path:
        """``history.jsonl``: one record per finished trial."""
        return self.root / "history.jsonl"

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
        return self.root / "report.json"

    @property
    def report_md(self) -> Path:
        """Human-readable run report."""
        return self.root / "report.md"


def new_run_id() -> str:
    """A sortable, unique-enough id: UTC time plus 4 random hex digits."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + os.urandom(2).hex()


def create_run_directory(config: RunConfig) -> RunDirectory:
    """Create a fresh run directory and write the resolved config; never reuse an existing one."""
    run_id = config.runtime.run_id or new_run_id()
    root = config.output_path() / run_id
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
    run_dir.config_file.write_text(
        yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False), encoding="utf-8"
    )
    return run_dir


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
