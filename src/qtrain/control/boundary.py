"""Commands at a cycle boundary, for a run with no process between its steps (a pipeline).

A Kubeflow run cannot hold: its gate step reads the command channel between cycles, and a
``stop`` or a ``pause`` ends the run there (a pause is a stop that says so; a new pipeline
run continues it). Every command is acknowledged as the in-process
:class:`~qtrain.control.controller.RunController` does: a ``control`` event ``accepted`` or
``rejected`` when read, ``done`` when it took effect. Nothing is kept between two reads but
the event log: a command is new while no event names its id, so a process that only watches
(the kfp-local launcher) and the gate can both read, under the channel's lock.

``resume`` is refused (a new pipeline run continues a stopped one); ``set`` takes only
``early_stopping.max_cycles``, up to the cycles compiled into the pipeline. ``approve`` and
``reject`` (guided mode) are reviewed against the pending decision by the reader's
``decide`` hook (none: refused); the propose step that waits for them carries them out.
"""

from __future__ import annotations

import dataclasses
import fcntl
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from qtrain.control.channel import BadLine, Command, ControlChannel
from qtrain.control.settings import parse_value
from qtrain.events import EventLog, read_events

MAX_CYCLES = "early_stopping.max_cycles"
#: What a command that ends a pipeline run makes of it.
HALTS = {"stop": "stopped", "pause": "paused"}
#: Reviews a guided decision's ``approve``/``reject``: why it is refused (None: accepted).
Decide = Callable[[Command], str | None]


@dataclass(frozen=True)
class Halt:
    """Why a pipeline run ends at a cycle boundary: ``status`` (``stopped``, ``paused``,
    ``completed``), the reason, and the command (its id) that asked for it."""

    status: str
    reason: str
    command: str
    id: str
    cycle: int

    def to_dict(self) -> dict[str, Any]:
        """The JSON-able record (``control/halt.json``)."""
        return asdict(self)


@dataclass(frozen=True)
class Boundary:
    """What one read found: the commands it accepted, the halt (None: go on), and every
    accepted command not yet done (``pending``: what a waiting propose step carries out)."""

    accepted: list[Command]
    halt: Halt | None
    pending: list[Command] = dataclasses.field(default_factory=list)


def outcomes(events: Iterable[dict[str, Any]]) -> dict[str, set[str]]:
    """{command id: the outcomes its ``control`` events recorded}."""
    found: dict[str, set[str]] = {}
    for event in events:
        if event.get("type") == "control" and event.get("id"):
            found.setdefault(str(event["id"]), set()).add(str(event.get("outcome")))
    return found


def review(command: Command, compiled_cycles: int, decide: Decide | None = None) -> str | None:
    """Why a pipeline run refuses ``command`` (None: it takes it)."""
    if command.command in HALTS:
        return None
    if command.command in ("approve", "reject") and decide is not None:
        return decide(command)
    if command.command == "resume":
        return (
            "a pipeline run does not hold: a pause ends it at the next cycle boundary, and "
            "`qtrain run --engine kfp-local --resume RUN` (or `qtrain submit --resume RUN`) "
            "continues it"
        )
    if command.command != "set":
        return f"{command.command}: a pipeline run takes stop, pause and set {MAX_CYCLES}"
    for key, raw in command.args.items():
        if key != MAX_CYCLES:
            return f"set {key}: a pipeline run takes only {MAX_CYCLES} (the rest is compiled in)"
        value = parse_value(raw)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            return f"set {MAX_CYCLES}={value!r}: a whole number of cycles, at least 1"
        if value > compiled_cycles:
            return (
                f"set {MAX_CYCLES}={value}: beyond the {compiled_cycles} cycles compiled into "
                f"this pipeline (the limit is {compiled_cycles})"
            )
    return None


def max_cycles_set(events: Iterable[dict[str, Any]]) -> int | None:
    """The last ``early_stopping.max_cycles`` a ``set`` made effective (None: none)."""
    value = None
    for event in events:
        if event.get("type") == "control" and event.get("command") == "set":
            args = event.get("args") or {}
            if event.get("outcome") == "done" and MAX_CYCLES in args:
                value = int(parse_value(args[MAX_CYCLES]))
    return value


def take_commands(
    commands: Path,
    events_file: Path,
    compiled_cycles: int,
    cycle: int | None,
    decide: Decide | None = None,
) -> Boundary:
    """Acknowledge the commands of channel ``commands`` that no event of ``events_file``
    names; at a boundary (``cycle``: the cycles concluded) carry out the accepted ones.

    A watcher passes ``cycle=None``: it accepts or rejects, and nothing takes effect.
    ``decide`` reviews ``approve``/``reject`` against a pending decision (see
    :func:`qtrain.control.decision.review_pending`).
    """
    with locked(commands):
        seen = read_events(events_file) if events_file.is_file() else []
        known = outcomes(seen)
        log = EventLog(events_file)
        accepted: list[Command] = []
        pending: list[Command] = []
        halt: Halt | None = None
        try:
            for item in ControlChannel(commands).receive():
                if isinstance(item, BadLine):
                    if f"line-{item.line}" not in known:
                        ack(log, f"line-{item.line}", "?", "rejected", reason=item.reason)
                    continue
                got = known.get(item.id, set())
                if got & {"rejected", "done"}:
                    continue
                if not got:
                    reason = review(item, compiled_cycles, decide)
                    ack(log, item.id, item.command, "rejected" if reason else "accepted",
                         reason=reason)  # fmt: skip
                    if reason:
                        continue
                    accepted.append(item)
                pending.append(item)
                if cycle is not None:
                    halt = _carry_out(log, item, cycle, halt)
            if cycle is not None and halt is None:
                limit = max_cycles_set(read_events(events_file))
                if limit is not None and cycle >= limit:
                    reason = f"{MAX_CYCLES}={limit} reached (set while running)"
                    halt = Halt("completed", reason, "set", "", cycle)
        finally:
            log.close()
    return Boundary(accepted, halt, pending)


def _carry_out(log: EventLog, command: Command, cycle: int, halt: Halt | None) -> Halt | None:
    """Make an accepted command take effect at this boundary; the (first) halt it makes."""
    if command.command == "set":
        ack(log, command.id, "set", "done", args=dict(command.args))
        return halt
    if command.command not in HALTS:  # a decision whose propose step ended without it
        ack(log, command.id, command.command, "rejected", reason="its decision is gone")
        return halt
    ack(log, command.id, command.command, "done")
    if halt is not None:
        return halt
    verb = "stop" if command.command == "stop" else "pause"
    note = "" if verb == "stop" else " (a pipeline run cannot hold: it ended here)"
    reason = f"{verb} requested by {command.who} after cycle {cycle}{note}"
    return Halt(HALTS[command.command], reason, command.command, command.id, cycle)


def ack(log: EventLog, command_id: str, command: str, outcome: str, **fields: Any) -> None:
    if fields.get("reason") is None:
        fields.pop("reason", None)
    log.emit("control", id=command_id, command=command, outcome=outcome, **fields)


@contextmanager
def locked(commands: Path) -> Iterator[None]:
    """Hold the channel's lock (the one senders take), so two readers never ack twice."""
    commands.parent.mkdir(parents=True, exist_ok=True)
    with commands.open("ab") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
