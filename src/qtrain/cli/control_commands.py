"""``qtrain pause | resume | stop | set | status | runs | watch``: clients of a run's control
folder (see :mod:`qtrain.control`); none of them needs the run's process beyond its files."""

from __future__ import annotations

import json
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from qtrain.cli.common import console, out
from qtrain.cli.run_lookup import find_run, require_live, view, wait_for_ack
from qtrain.errors import QtrainError

RunArg = Annotated[str, typer.Argument(help="A run directory, or a run id under --output-dir")]
OutputDir = Annotated[
    Path, typer.Option("--output-dir", help="Where run ids are looked up (runtime.output_dir)")
]
ACK_TIMEOUT_S = 30.0


class After(StrEnum):
    """Where ``qtrain pause`` holds the run."""

    trial = "trial"
    cycle = "cycle"


def _send(run: str, output_dir: Path, command: str, **args: Any) -> dict[str, Any]:
    """Send a command to a live run and wait for its acknowledgement; rejected: one line."""
    from qtrain.control import ControlChannel
    from qtrain.control.folder import ControlFolder

    run_dir = find_run(run, output_dir)
    require_live(view(run_dir))
    sent = ControlChannel(ControlFolder.of(run_dir.root).commands).send(command, **args)
    ack = wait_for_ack(run_dir, sent.id, ACK_TIMEOUT_S)
    if ack is None:
        raise QtrainError(
            f"run {run_dir.run_id} did not acknowledge {command} within {ACK_TIMEOUT_S:.0f} s "
            "(it reads commands after each optimizer step): check `qtrain status`"
        )
    if ack["outcome"] == "rejected":
        raise QtrainError(f"run {run_dir.run_id} rejected {command}: {ack.get('reason')}")
    return ack


def pause(
    run: RunArg,
    after: Annotated[After, typer.Option(help="Hold after the running trial or cycle")] = (
        After.trial
    ),
    now: Annotated[
        bool, typer.Option("--now", help="Save the running trial mid-way and hold at once")
    ] = False,
    output_dir: OutputDir = Path("runs"),
) -> None:
    """Pause a running run: it starts no new work and holds until `qtrain resume`."""
    _send(run, output_dir, "pause", after="now" if now else after.value)
    out.print(f"pause accepted: the run holds after the {'next step' if now else after.value}")


def resume(run: RunArg, output_dir: OutputDir = Path("runs")) -> None:
    """Continue a paused run (a run whose process is gone: `qtrain run --resume RUN`)."""
    _send(run, output_dir, "resume")
    out.print("resumed")


def stop(
    run: RunArg,
    abort: Annotated[
        bool, typer.Option("--abort", help="End at once (resumable from the last trial)")
    ] = False,
    output_dir: OutputDir = Path("runs"),
) -> None:
    """Stop a run gracefully: finish the step, save the trial, report `stopped` (resumable)."""
    _send(run, output_dir, "stop", abort=abort)
    out.print("abort accepted" if abort else "stop accepted: the run saves and ends")


def set_settings(
    run: RunArg,
    settings: Annotated[list[str], typer.Argument(help="key=value ... (see docs/control.md)")],
    output_dir: OutputDir = Path("runs"),
) -> None:
    """Change settings of a running or paused run, from its next cycle's decision on."""
    from qtrain.config import load_config
    from qtrain.config.loader import parse_override
    from qtrain.control.settings import apply_settings

    run_dir = find_run(run, output_dir)
    parsed = dict(parse_override(text) for text in settings)
    try:
        apply_settings(load_config(run_dir.config_file), parsed)  # the same check the run makes
    except ValueError as exc:
        raise QtrainError(str(exc)) from None
    _send(run, output_dir, "set", **{k: json.dumps(v) for k, v in parsed.items()})
    out.print("accepted: " + ", ".join(f"{k}={v}" for k, v in parsed.items()))


def _pending_decision(run: str, output_dir: Path) -> dict[str, Any]:
    """The run's pending decision (guided mode); one line if it waits for none."""
    from qtrain.control.folder import ControlFolder

    run_dir = find_run(run, output_dir)
    run_view = view(run_dir)
    require_live(run_view)
    try:
        pending = json.loads(ControlFolder.of(run_dir.root).decision.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pending = None
    if run_view.state != "waiting-for-decision" or not isinstance(pending, dict):
        raise QtrainError(f"run {run_dir.run_id} waits for no decision (it is {run_view.state})")
    return pending


Trials = Annotated[
    list[int] | None, typer.Option("--trial", help="Only this trial (repeatable; default: all)")
]
Version = Annotated[
    int | None, typer.Option(help="The decision version you saw (default: the current one)")
]


def approve(
    run: RunArg,
    edits: Annotated[
        list[str] | None, typer.Option("--set", help="key=value: edit a proposal before it runs")
    ] = None,
    trial: Trials = None,
    version: Version = None,
    output_dir: OutputDir = Path("runs"),
) -> None:
    """Guided mode: approve the waiting cycle's proposals, optionally edited."""
    from qtrain.config.loader import parse_override

    pending = _pending_decision(run, output_dir)
    settings = dict(parse_override(text) for text in edits or [])
    _send(run, output_dir, "approve", version=version or pending["version"],
          trials=trial or [], set=settings)  # fmt: skip
    what = "edited and approved" if settings else "approved"
    out.print(f"decision {pending['id']} (cycle {pending['cycle']}): {what}")


def reject(
    run: RunArg,
    trial: Trials = None,
    reason: Annotated[str | None, typer.Option(help="Why (kept in the audit trail)")] = None,
    version: Version = None,
    output_dir: OutputDir = Path("runs"),
) -> None:
    """Guided mode: reject proposals; the optimizer proposes others in their place."""
    pending = _pending_decision(run, output_dir)
    _send(run, output_dir, "reject", version=version or pending["version"],
          trials=trial or [], reason=reason)  # fmt: skip
    out.print(f"decision {pending['id']} (cycle {pending['cycle']}): rejected, re-proposed")


def status(
    run: RunArg,
    output_dir: OutputDir = Path("runs"),
    as_json: Annotated[bool, typer.Option("--json", help="Print the status as JSON")] = False,
) -> None:
    """Where a run is: state, cycle/trial/step, the incumbent and its metrics."""
    run_view = view(find_run(run, output_dir))
    st = run_view.status
    if as_json:
        fields = vars(st) if st else {}
        out.print_json(json.dumps({**fields, "state": run_view.state}, default=str))
        return
    resumable = " (resumable: qtrain run --resume)" if run_view.resumable else ""
    out.print(f"run {run_view.run_dir.run_id}: {run_view.state}{resumable}")
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
    if run_view.state == "waiting-for-decision":
        _print_decision(run_view.run_dir.root)


def _print_decision(root: Path) -> None:
    """The pending decision's proposals as a table (guided mode)."""
    from qtrain.cli.progress import format_params
    from qtrain.control.folder import ControlFolder

    try:
        pending = json.loads(ControlFolder.of(root).decision.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
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
