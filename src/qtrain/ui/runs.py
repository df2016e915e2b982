"""What the dashboard shows of runs, read from their folders (never written).

A run is named by its folder's name under the dashboard's root (``--runs DIR``), or is the
one run ``qtrain ui RUN`` was given; any other name is unknown (no path from a URL ever
reaches the file system).
"""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from qtrain.control.folder import ControlFolder
from qtrain.control.run_view import view
from qtrain.events import read_events
from qtrain.rundir import EVENTS_FILE, RunDirectory

RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class UnknownRun(LookupError):
    """A run id the dashboard does not serve."""


@dataclass(frozen=True)
class RunsRoot:
    """The runs one dashboard serves: every run folder under ``folder``, or one run."""

    folder: Path
    single: str | None = None

    @classmethod
    def of(cls, path: Path) -> RunsRoot:
        """A run directory serves that run; any other folder serves the runs under it."""
        if (path / EVENTS_FILE).is_file():
            return cls(path.parent, path.name)
        return cls(path)

    def names(self) -> list[str]:
        """The run ids served, newest first."""
        if self.single is not None:
            return [self.single]
        if not self.folder.is_dir():
            return []
        found = [p for p in self.folder.iterdir() if (p / EVENTS_FILE).is_file()]
        return [p.name for p in sorted(found, key=_started, reverse=True)]

    def run(self, run_id: str) -> RunDirectory:
        """The run directory of ``run_id``; :class:`UnknownRun` if it is not served."""
        if not RUN_NAME.match(run_id) or (self.single is not None and run_id != self.single):
            raise UnknownRun(run_id)
        path = self.folder / run_id
        if self.single is None and not (path / EVENTS_FILE).is_file():
            raise UnknownRun(run_id)  # (the one run of `qtrain run --ui` may not be made yet)
        return RunDirectory(path)


def _started(path: Path) -> float:
    try:
        return (path / EVENTS_FILE).stat().st_ctime
    except OSError:
        return 0.0


def summary(run_dir: RunDirectory) -> dict[str, Any]:
    """One row of the runs list: state, best metric, started, duration, solver, mode."""
    events = _events(run_dir)
    seen = view(run_dir)
    config = _config(run_dir)
    started = next((e["ts"] for e in events if e.get("type") == "run_start"), None)
    picks = [e for e in events if e.get("type") == "selection"]
    best = None
    if picks:
        last = picks[-1]
        best = {"metric": last["metric"], "value": last["value"], "checkpoint": last["incumbent"]}
    return {
        "run_id": run_dir.run_id,
        "state": seen.state,
        "started": started,
        "duration_s": round(events[-1]["ts"] - started, 1) if started and events else None,
        "best": best,
        "solver": (config.get("quantum") or {}).get("solver_type"),
        "mode": (config.get("runtime") or {}).get("mode", "automated"),
    }


def detail(run_dir: RunDirectory) -> dict[str, Any]:
    """A run page's static part: summary, status, resolved config, data report, report,
    the search space (the decision form's fields) and the pending decision."""
    config = _config(run_dir)
    seen = view(run_dir)
    data_report = next(
        (e["report"] for e in _events(run_dir) if e.get("type") == "data_ready"), None
    )
    return {
        **summary(run_dir),
        "status": vars(seen.status) if seen.status else None,
        "alive": seen.alive,
        "config": config,
        "config_yaml": _text(run_dir.config_file),
        "data_report": data_report,
        "report": _json(run_dir.report_json),
        "search_space": {k: v.get("values") for k, v in (config.get("search_space") or {}).items()},
        "max_cycles": (config.get("early_stopping") or {}).get("max_cycles"),
        "trials_per_cycle": (config.get("training") or {}).get("trials_per_cycle"),
        "decision": pending_decision(run_dir),
    }


def detail_status(run_dir: RunDirectory) -> dict[str, Any]:
    """The part of a run page that changes with ``status.json``: state, status, decision."""
    seen = view(run_dir)
    return {
        "state": seen.state,
        "alive": seen.alive,
        "status": vars(seen.status) if seen.status else None,
        "decision": pending_decision(run_dir),
    }


def pending_decision(run_dir: RunDirectory) -> dict[str, Any] | None:
    """The decision a guided run waits for (None: none)."""
    found = _json(ControlFolder.of(run_dir.root).decision)
    waiting = view(run_dir).state == "waiting-for-decision"
    return found if waiting and isinstance(found, dict) else None


def checkpoints(run_dir: RunDirectory, verify: bool = False) -> list[dict[str, Any]]:
    """The run's committed checkpoints: size, metrics, the pointers naming them, and (with
    ``verify``) whether every file still matches its manifest's hash."""
    from qtrain.checkpoints import open_store
    from qtrain.config.schema import StorageConfig

    storage = StorageConfig.model_validate(_config(run_dir).get("storage") or {})
    if storage.kind == "local":
        if not run_dir.checkpoints.is_dir():
            return []
        return _rows(open_store(storage, run_dir.checkpoints, run_dir.run_id), verify)
    with tempfile.TemporaryDirectory(prefix="qtrain-ui-") as cache:  # never in the run folder
        return _rows(open_store(storage, Path(cache), run_dir.run_id), verify)


def _rows(store: Any, verify: bool) -> list[dict[str, Any]]:
    from qtrain.checkpoints import POINTERS
    from qtrain.errors import QtrainError

    pointers = {p: store.get_pointer(p) for p in POINTERS}
    rows = []
    for info in store.list():
        row = {
            "name": info.name, "created": info.created_at.isoformat(),
            "size_bytes": info.size_bytes, "files": info.file_count,
            "metrics": info.metadata.get("metrics", {}),
            "pointers": [p for p, name in pointers.items() if name == info.name], "verified": None,
        }  # fmt: skip
        if verify:
            try:
                store.materialize(info.name)
                row["verified"] = True
            except QtrainError as exc:
                row["verified"], row["problem"] = False, str(exc)
        rows.append(row)
    return rows


def _events(run_dir: RunDirectory) -> list[dict[str, Any]]:
    try:
        return read_events(run_dir.events_file)
    except OSError:
        return []


def _config(run_dir: RunDirectory) -> dict[str, Any]:
    try:
        found = yaml.safe_load(run_dir.config_file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return {}
    return found if isinstance(found, dict) else {}


def _text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return None


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
