"""``qtrain ui``: the live dashboard (see :mod:`qtrain.ui`), and its start beside a run."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated, Any

import typer

from qtrain.cli.common import console
from qtrain.errors import QtrainError

Host = Annotated[
    str,
    typer.Option(
        help="Interface to listen on; anything but loopback is reachable by others: put TLS "
        "in front (docs/dashboard.md)"
    ),
]
Port = Annotated[int, typer.Option(help="Port (0: a free one)")]
User = Annotated[
    str | None, typer.Option(help="Who decisions made in the page are from (ui:<user>)")
]
AllowedHost = Annotated[
    list[str] | None,
    typer.Option("--allowed-host", help="Another Host/Origin name to accept (a proxy's)"),
]


def ui(
    run: Annotated[
        str | None, typer.Argument(help="One run directory (default: the runs under --runs)")
    ] = None,
    runs: Annotated[Path, typer.Option(help="A folder of runs (runtime.output_dir)")] = Path(
        "runs"
    ),
    host: Host = "127.0.0.1",
    port: Port = 8765,
    user: User = None,
    allowed_host: AllowedHost = None,
) -> None:
    """Serve the live dashboard: runs, curves, proposals, checkpoints, controls, decisions."""
    from qtrain.rundir import EVENTS_FILE
    from qtrain.ui.runs import RunsRoot
    from qtrain.ui.server import bind

    if run is not None:
        path = Path(run) if Path(run).is_dir() else runs / run
        if not (path / EVENTS_FILE).is_file():
            raise QtrainError(
                f"{run} is not a run directory (it has no {EVENTS_FILE}): give a run folder, "
                "or --runs DIR for the runs under DIR"
            )
        root = RunsRoot.of(path)
    elif runs.exists() and not runs.is_dir():
        raise QtrainError(f"--runs {runs} is not a folder")
    else:
        root = RunsRoot(runs)
    dashboard = bind(root, host, port, user, allowed_host or [])
    announce(dashboard.url)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C ends serving
        dashboard.serve()


def announce(url: str) -> None:
    """Print the dashboard's URL (with its token) once."""
    console.print(f"dashboard: {url}", soft_wrap=True, highlight=False)


def start_beside_run(config: Any, port: int, resume_dir: Path | None) -> tuple[Any, Any]:
    """Serve the dashboard for the run ``config`` is about to start (its ``run_id`` fixed
    now, so the URL can name it) or continue; returns the config to run and the dashboard."""
    from qtrain.rundir import new_run_id
    from qtrain.ui.runs import RunsRoot
    from qtrain.ui.server import bind

    if resume_dir is not None:
        root = RunsRoot.of(resume_dir)
    else:
        run_id = config.runtime.run_id or new_run_id()
        config = config.model_copy(
            update={"runtime": config.runtime.model_copy(update={"run_id": run_id})}
        )
        root = RunsRoot(config.output_path(), run_id)
    dashboard = bind(root, port=port)
    announce(dashboard.url)
    return config, dashboard.start()
