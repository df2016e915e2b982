"""``RUN`` on the command line: a run directory, or a run id under the output folder; and
what its control files say about it."""

from __future__ import annotations

from pathlib import Path

from qtrain.control.run_view import RunView, view, wait_for_ack
from qtrain.control.status import LIVE_STATES
from qtrain.errors import QtrainError
from qtrain.rundir import EVENTS_FILE, RunDirectory

__all__ = ["RunView", "find_run", "require_live", "view", "wait_for_ack"]


def find_run(run: str, output_dir: Path) -> RunDirectory:
    """The run directory ``run`` names (a path, or an id under ``output_dir``)."""
    for candidate in (Path(run), output_dir / run):
        if (candidate / EVENTS_FILE).is_file():
            return RunDirectory(candidate)
    raise QtrainError(
        f"no run {run!r}: give a run directory, or a run id under {output_dir} "
        "(`qtrain runs` lists them)"
    )


def require_live(run_view: RunView) -> None:
    """One line unless the run's process is alive to take a command."""
    if not run_view.alive or run_view.state not in LIVE_STATES:
        hint = " (`qtrain run --resume` continues it)" if run_view.resumable else ""
        raise QtrainError(f"run {run_view.run_dir.run_id} is {run_view.state}, not running{hint}")
