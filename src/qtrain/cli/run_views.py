"""``qtrain status | runs | watch``: read-only views of runs (their control folders and
event logs, or a pipeline run's channel in its store); they never change a run."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from qtrain.cli.common import console, out
from qtrain.cli.control_commands import OutputDir, Pipeline, RunArg
from qtrain.cli.run_lookup import find_run, view


def status(
    run: RunArg,
    output_dir: OutputDir = Path("runs"),
    as_json: Annotated[bool, typer.Option("--json", help="Print the status as JSON")] = False,
    pipeline: Pipeline = None,
) -> None:
    """Where a run is: state, cycle/trial/step, the incumbent and its metrics."""
    if pipeline is not None:
        from qtrain.config import load_config
        from qtrain.steps import run_channel

        seen = run_channel.look(load_config(pipeline), run)
        run_id, state, st, pending, hint = run, seen.state, seen.status, seen.decision, ""
    else:
        run_view = view(find_run(run, output_dir))
        run_id, state, st = run_view.run_dir.run_id, run_view.state, run_view.status
        pending = _read_decision(run_view.run_dir.root)
        hint = " (resumable: qtrain run --resume)" if run_view.resumable else ""
    if as_json:
        fields = vars(st) if st else {}
        out.print_json(json.dumps({**fields, "state": state}, default=str))
        return
    out.print(f"run {run_id}: {state}{hint}")
    if st is None:
        return
    cycle = f"cycle {st.cycle}" + (f" of {st.max_cycles}" if st.max_cycles else "")
    trial = f", trial {st.trial}" if st.trial is not None else ""
    step = f", step {st.step}/{st.total_steps}" if st.step is not None and st.total_steps else ""
    out.print(cycle + trial + step)
    if st.incumbent:
        metrics = ", ".join(f"{k} {v:.4g}" for k, v in st.metrics.items() if "rows" not in k)
        out.print(f"incumbent {st.incumbent}: {metrics}")
    if st.reason:
        out.print(f"why: {st.reason}")
    if state == "waiting-for-decision" and pending:
        _print_decision(pending)


def _read_decision(root: Path) -> dict[str, Any] | None:
    from qtrain.control.folder import ControlFolder

    try:
        found = json.loads(ControlFolder.of(root).decision.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def _print_decision(pending: dict[str, Any]) -> None:
    """The pending decision's proposals as a table (guided mode)."""
    from qtrain.cli.progress import format_params

    table = Table(title=f"decision {pending['id']} v{pending['version']}, cycle {pending['cycle']}")
    for col in ("trial", "from", "params"):
        table.add_column(col)
    for p in pending["proposals"]:
        meta = p["metadata"]
        table.add_row(str(p["trial"]), str(meta.get("source", meta.get("proposer", ""))),
                      format_params(p["params"]))  # fmt: skip
    out.print(table)


def runs(output_dir: OutputDir = Path("runs")) -> None:
    """The runs under an output folder: state and best metric."""
    from qtrain.rundir import EVENTS_FILE, RunDirectory

    table = Table(title=f"runs in {output_dir}")
    for col in ("run", "state", "cycle", "incumbent", "eval_loss"):
        table.add_column(col, no_wrap=True)
    found = sorted(p for p in output_dir.iterdir() if (p / EVENTS_FILE).is_file()) if (
        output_dir.is_dir()
    ) else []  # fmt: skip
    for path in found:
        run_view = view(RunDirectory(path))
        st = run_view.status
        loss = st.metrics.get("eval_loss") if st else None
        table.add_row(
            path.name, run_view.state, str(st.cycle) if st else "-",
            (st.incumbent or "-") if st else "-", f"{loss:.4f}" if loss is not None else "-",
        )  # fmt: skip
    if not found:
        console.print(f"no runs in {output_dir}")
        return
    out.print(table)


def watch(
    run: RunArg,
    output_dir: OutputDir = Path("runs"),
    idle_s: Annotated[
        float, typer.Option(help="Stop following a run whose process is gone after this long")
    ] = 5.0,
) -> None:
    """Follow a run's live progress from any terminal (re-attach any time)."""
    from qtrain.cli.event_follower import follow
    from qtrain.cli.progress import RunProgress
    from qtrain.config import load_config

    run_dir = find_run(run, output_dir)
    cfg = load_config(run_dir.config_file)
    progress = RunProgress(console, cfg.early_stopping.max_cycles, cfg.training.trials_per_cycle)
    with progress:
        for event in follow(run_dir, lambda: view(run_dir).alive, idle_s, time.sleep):
            progress(event)
    out.print(f"run {run_dir.run_id}: {view(run_dir).state}")
