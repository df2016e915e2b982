"""What a kfp-local run leaves under its pipeline root, read back: the newest run state a
task wrote, and the run directory the export step wrote (with its export restored)."""

import shutil
from pathlib import Path

from qtrain.errors import QtrainError
from qtrain.rundir import EXPORT_ELSEWHERE_FILE, STATE_FILE, RunDirectory, StateFolder


def latest_state(outputs: Path) -> StateFolder | None:
    """The newest complete run-state folder a task wrote (None: preprocess never finished)."""
    folders = [StateFolder(found.parent) for found in outputs.rglob(STATE_FILE)]
    complete = [folder for folder in folders if folder.is_complete()]
    if not complete:
        return None
    return max(complete, key=lambda folder: folder.state_file.stat().st_mtime)


def find_exported_run(root: Path) -> RunDirectory:
    """The run directory the export task wrote (its output artifact is called ``run``)."""
    reports = (RunDirectory(p).report_json for p in root.rglob("run") if p.is_dir())
    found = [RunDirectory(r.parent) for r in reports if r.is_file()]
    if len(found) != 1:
        raise QtrainError(
            f"expected one exported run under {root}, found {len(found)}: the pipeline did not "
            "reach its export step"
        )
    return found[0]


def restore_export(run: RunDirectory, outputs: Path) -> None:
    """Put the export step's ``model`` artifact back in the run's ``export/`` (a pipeline
    uploads it once, as that artifact)."""
    note = run.export_dir / EXPORT_ELSEWHERE_FILE
    models = [p for p in outputs.rglob("model") if p.is_dir() and p.parent == run.root.parent]
    if not note.is_file() or len(models) != 1:
        return
    note.unlink()
    shutil.copytree(models[0], run.export_dir, dirs_exist_ok=True)
