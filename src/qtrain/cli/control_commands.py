"""``qtrain pause | resume | stop | set | approve | reject``: clients of a run's control
folder (see :mod:`qtrain.control`); none of them needs the run's process beyond its files."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from qtrain.cli.common import out
from qtrain.cli.run_lookup import find_run, require_live, view, wait_for_ack
from qtrain.control.run_view import ACK_TIMEOUT_S, acknowledged
from qtrain.errors import QtrainError

RunArg = Annotated[str, typer.Argument(help="A run directory, or a run id under --output-dir")]
OutputDir = Annotated[
    Path, typer.Option("--output-dir", help="Where run ids are looked up (runtime.output_dir)")
]
Pipeline = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="RUN is a pipeline run submitted with this config (kubeflow.control): reach its "
        "channel in its store (the runs volume or Azure Blob)",
    ),
]
#: The states in which a pipeline run's steps still read its channel.
TAKES_COMMANDS = ("starting", "running", "waiting-for-decision")


class After(StrEnum):
    """Where ``qtrain pause`` holds the run."""

    trial = "trial"
    cycle = "cycle"


def _send(
    run: str, output_dir: Path, command: str, pipeline: Path | None = None, **args: Any
) -> dict[str, Any] | None:
    """Send a command to a live run and wait for its acknowledgement; rejected: one line.

    None: a pipeline run's gate reads it at the next cycle boundary (said to the user).
    """
    if pipeline is not None:
        return _send_to_pipeline(pipeline, run, command, **args)
    from qtrain.control import ControlChannel
    from qtrain.control.folder import ControlFolder

    run_dir = find_run(run, output_dir)
    require_live(view(run_dir))
    sent = ControlChannel(ControlFolder.of(run_dir.root).commands).send(command, **args)
    return acknowledged(run_dir.run_id, command, wait_for_ack(run_dir, sent.id, ACK_TIMEOUT_S))


def _pipeline_view(config_path: Path, run: str) -> tuple[Any, Any]:
    """The config and the channel's view of pipeline run ``run``; one line unless live."""
    from qtrain.config import load_config
    from qtrain.control.status import LIVE_STATES
    from qtrain.steps import run_channel

    config = load_config(config_path)
    seen = run_channel.look(config, run)
    if seen.state in LIVE_STATES and seen.state not in TAKES_COMMANDS:
        raise QtrainError(f"pipeline run {run} is {seen.state}: it takes no more commands")
    if seen.state not in LIVE_STATES:
        raise QtrainError(
            f"pipeline run {run} is {seen.state}, not running (`qtrain submit --resume RUN` "
            "continues a stopped one)"
        )
    return config, seen


def _send_to_pipeline(config_path: Path, run: str, command: str, **args: Any) -> Any:
    """Append ``command`` to a pipeline run's channel; wait for the acknowledgement where a
    step reads at once (a guided propose step waiting for its decision)."""
    from qtrain.control.boundary import review
    from qtrain.control.channel import Command
    from qtrain.steps import run_channel

    config, seen = _pipeline_view(config_path, run)
    refused = review(Command(command, args), config.early_stopping.max_cycles)
    if command not in ("approve", "reject") and refused:  # the gate's own check, here first
        raise QtrainError(f"pipeline run {run} refuses it: {refused}")
    sent = run_channel.send(config, run, command, **args)
    if seen.state != "waiting-for-decision":
        out.print(
            f"{command} sent ({sent.id}): pipeline run {run} reads it after its current cycle "
            "(`qtrain status RUN --config ...` shows the acknowledgement)"
        )
        return None
    ack = run_channel.wait_for_ack(config, run, sent.id, ACK_TIMEOUT_S)
    return acknowledged(run, command, ack)


def pause(
    run: RunArg,
    after: Annotated[After, typer.Option(help="Hold after the running trial or cycle")] = (
        After.trial
    ),
    now: Annotated[
        bool, typer.Option("--now", help="Save the running trial mid-way and hold at once")
    ] = False,
    output_dir: OutputDir = Path("runs"),
    pipeline: Pipeline = None,
) -> None:
    """Pause a running run: it starts no new work and holds until `qtrain resume` (a
    pipeline run ends at its next cycle boundary; `qtrain submit --resume` continues it)."""
    if _send(run, output_dir, "pause", pipeline, after="now" if now else after.value):
        where = "next step" if now else after.value
        out.print(f"pause accepted: the run holds after the {where}")


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
    pipeline: Pipeline = None,
) -> None:
    """Stop a run gracefully: finish the step, save the trial, report `stopped` (resumable)."""
    if _send(run, output_dir, "stop", pipeline, abort=abort):
        out.print("abort accepted" if abort else "stop accepted: the run saves and ends")


def set_settings(
    run: RunArg,
    settings: Annotated[list[str], typer.Argument(help="key=value ... (see docs/control.md)")],
    output_dir: OutputDir = Path("runs"),
    pipeline: Pipeline = None,
) -> None:
    """Change settings of a running or paused run, from its next cycle's decision on."""
    from qtrain.config import load_config
    from qtrain.config.loader import parse_override
    from qtrain.control.settings import apply_settings

    parsed = dict(parse_override(text) for text in settings)
    if pipeline is None:
        try:  # the same check the run makes (a pipeline's gate: checked when sent)
            apply_settings(load_config(find_run(run, output_dir).config_file), parsed)
        except ValueError as exc:
            raise QtrainError(str(exc)) from None
    if _send(run, output_dir, "set", pipeline, **{k: json.dumps(v) for k, v in parsed.items()}):
        out.print("accepted: " + ", ".join(f"{k}={v}" for k, v in parsed.items()))


def _pending_decision(run: str, output_dir: Path, pipeline: Path | None) -> dict[str, Any]:
    """The run's pending decision (guided mode); one line if it waits for none."""
    from qtrain.control.folder import ControlFolder

    if pipeline is not None:
        _, seen = _pipeline_view(pipeline, run)
        if seen.state != "waiting-for-decision" or not isinstance(seen.decision, dict):
            raise QtrainError(f"pipeline run {run} waits for no decision (it is {seen.state})")
        return seen.decision
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
    pipeline: Pipeline = None,
) -> None:
    """Guided mode: approve the waiting cycle's proposals, optionally edited."""
    from qtrain.config.loader import parse_override

    pending = _pending_decision(run, output_dir, pipeline)
    settings = dict(parse_override(text) for text in edits or [])
    _send(run, output_dir, "approve", pipeline, version=version or pending["version"],
          trials=trial or [], set=settings)  # fmt: skip
    what = "edited and approved" if settings else "approved"
    out.print(f"decision {pending['id']} (cycle {pending['cycle']}): {what}")


def reject(
    run: RunArg,
    trial: Trials = None,
    reason: Annotated[str | None, typer.Option(help="Why (kept in the audit trail)")] = None,
    version: Version = None,
    output_dir: OutputDir = Path("runs"),
    pipeline: Pipeline = None,
) -> None:
    """Guided mode: reject proposals; the optimizer proposes others in their place."""
    pending = _pending_decision(run, output_dir, pipeline)
    _send(run, output_dir, "reject", pipeline, version=version or pending["version"],
          trials=trial or [], reason=reason)  # fmt: skip
    out.print(f"decision {pending['id']} (cycle {pending['cycle']}): rejected, re-proposed")
