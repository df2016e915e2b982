"""The last step: export the incumbent and assemble the run directory; and the failure report.

The exported folder has the in-process runner's layout (``qtrain.rundir.RunDirectory``):
``config.yaml``, ``events.jsonl``, ``history.jsonl``, ``data/``, ``checkpoints/`` (the
selected checkpoint, committed with its manifest, and the incumbent/best/latest pointers),
``export/`` and ``report.json``/``report.md``.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

from qtrain.config.schema import RunConfig
from qtrain.cycle.closing import RunOutcome, export_incumbent, finish_run
from qtrain.errors import QtrainError
from qtrain.events import EventLog
from qtrain.rundir import EXPORT_ELSEWHERE_FILE, RunDirectory, StateFolder, TrialFolder
from qtrain.steps.run_control import adopt_run, finish_status, read_halt
from qtrain.steps.state import parse_config_json, read_state, restore_engine


def export_run(
    config_json: str,
    state_dir: Path,
    incumbent_dir: Path,
    data_dir: Path,
    run_dir: Path,
    model_out: Path | None = None,
    report_out: Path | None = None,
) -> dict[str, Any]:
    """Export the selected checkpoint, write the run directory ``run_dir``; return the report.

    ``model_out`` and ``report_out`` (the component's Model and Markdown outputs) receive a
    copy of ``export/`` and of ``report.md``.
    """
    from qtrain.checkpoints import open_store
    from qtrain.data import load_prepared
    from qtrain.training.session import ModelSession

    config = parse_config_json(config_json)
    state = read_state(state_dir)
    source, layout = StateFolder(state_dir), RunDirectory(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    for src, dst in (
        (source.config_file, layout.config_file),
        (source.history_file, layout.history_file),
        (source.events_file, layout.events_file),
    ):
        shutil.copy2(src, dst)
    shutil.copytree(data_dir, layout.data_dir, dirs_exist_ok=True)
    engine = restore_engine(config, state_dir)
    events = EventLog(layout.events_file)
    incumbent = engine.incumbent
    exports: dict[str, str] = {}
    if incumbent is not None and incumbent.checkpoint and TrialFolder(incumbent_dir).has_weights():
        name = incumbent.checkpoint
        store = open_store(config.storage, layout.checkpoints, state.run_id)
        store.commit_from(
            incumbent_dir, name,
            {"cycle": incumbent.cycle, "trial": incumbent.trial, "metrics": incumbent.metrics},
        )  # fmt: skip
        for pointer in ("incumbent", "best", "latest"):
            store.set_pointer(pointer, name)
        # from the local input the store was just given: no re-read (or download) of it
        exports = export_incumbent(incumbent_dir, name, layout, ModelSession(config), events)
    halt = read_halt(config, state.run_id) if not state.stop else None
    status, reason = (halt.status, halt.reason) if halt else ("completed", state.stop_reason)
    outcome = RunOutcome(
        status, reason, time.time() - state.started, run_id=state.run_id,
        extra={"exports": exports, "data": load_prepared(data_dir).report},
    )  # fmt: skip
    report = finish_run(engine, config, layout, events, outcome)
    finish_status(config, state.run_id, status, reason)
    if report_out is not None:
        shutil.copyfile(layout.report_md, report_out)
    if config.kubeflow.runs_pvc:  # the volume's copy of the run is whole
        publish_run(run_dir, config, state.run_id)
    if model_out is not None:  # (nothing to export: a guided run paused before cycle 1)
        move_export(layout, model_out)
    return report


def move_export(layout: RunDirectory, model_out: Path) -> None:
    """Move the export (adapter, merged model) into the ``model`` artifact, leaving a note in
    the run's ``export/``: the merged model, tens of GB for phi-4, is uploaded once."""
    model_out.mkdir(parents=True, exist_ok=True)
    if not layout.export_dir.is_dir():
        return
    for entry in layout.export_dir.iterdir():
        shutil.move(str(entry), str(model_out / entry.name))
    (layout.export_dir / EXPORT_ELSEWHERE_FILE).write_text(
        "The export (adapter, merged model) is the export step's `model` output artifact.\n",
        encoding="utf-8",
    )


def publish_run(run_dir: Path, config: RunConfig, run_id: str) -> Path:
    """Copy the finished run directory to ``runtime.output_dir/<run_id>`` (the runs volume).

    The copy is written aside and renamed into place; an existing run is never overwritten.
    """
    mount = Path(config.kubeflow.runs_mount_path)
    target = config.output_path() / run_id
    if not target.resolve().is_relative_to(mount.resolve()):
        raise QtrainError(
            f"runtime.output_dir {config.runtime.output_dir} is not on the runs volume "
            f"mounted at kubeflow.runs_mount_path={mount}: put it under that path"
        )
    partial = target.with_name(f".{run_id}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    shutil.copytree(run_dir, partial)
    if config.kubeflow.control and target.is_dir():  # the live run: control/ and its events
        adopt_run(RunDirectory(partial), RunDirectory(target))
        partial.rmdir()
        return target
    if target.exists():
        raise QtrainError(f"{target} already exists: qtrain never overwrites a run")
    os.rename(partial, target)
    return target


def failure_report(config_json: str, status: dict[str, Any]) -> str:
    """Markdown for the pipeline's exit handler: the final status and the failing task."""
    state = status.get("state", "UNKNOWN")
    lines = [
        "# qtrain pipeline run",
        "",
        f"- status: **{state}**",
        f"- pipeline job: `{status.get('pipelineJobResourceName', '?')}`",
        f"- task: `{status.get('pipelineTaskName', '?')}`",
    ]
    error = status.get("error") or {}
    if error.get("message"):
        lines.append(f"- error: {error['message']}")
    try:
        config = parse_config_json(config_json)
        lines.append(f"- model: `{config.model.name}`, solver: `{config.quantum.solver_type}`")
    except Exception as exc:  # the report must be written even for a bad config
        lines.append(f"- config: invalid ({exc})")
    if state not in ("SUCCEEDED", "COMPLETE"):
        lines += ["", "The run did not complete; earlier artifacts (checkpoints, state) are kept."]
    return "\n".join(lines) + "\n"
