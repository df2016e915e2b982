"""The dashboard's buttons: commands through the run's control channel, as the CLI sends
them, named ``ui:<name>`` in the audit trail; the run's acknowledgement is the answer."""

from __future__ import annotations

from typing import Any

from qtrain.control.channel import ControlChannel
from qtrain.control.folder import ControlFolder
from qtrain.control.run_view import ACK_TIMEOUT_S, acknowledged, view, wait_for_ack
from qtrain.control.status import LIVE_STATES
from qtrain.errors import QtrainError
from qtrain.rundir import RunDirectory

#: What each button may send, and the arguments it may carry.
ALLOWED = {
    "pause": ("after",),
    "resume": (),
    "stop": ("abort",),
    "approve": ("version", "trials", "set"),
    "reject": ("version", "trials", "reason"),
}


class Refused(Exception):
    """A command the dashboard does not send, or the run refused (the message says why)."""


def send(run_dir: RunDirectory, who: str, command: str, args: dict[str, Any]) -> dict[str, Any]:
    """Send ``command`` to the live run and wait for its acknowledgement (blocking: call it
    off the event loop); :class:`Refused` with the reason otherwise."""
    if command not in ALLOWED:
        raise Refused(f"unknown command {command!r}: the dashboard sends {', '.join(ALLOWED)}")
    extra = sorted(set(args) - set(ALLOWED[command]))
    if extra:
        raise Refused(f"{command} takes no {', '.join(extra)}")
    if command == "pause" and args.get("after", "trial") not in ("trial", "cycle", "now"):
        raise Refused("pause after: trial, cycle or now")
    seen = view(run_dir)
    if not seen.alive or seen.state not in LIVE_STATES:
        raise Refused(f"run {run_dir.run_id} is {seen.state}, not running")
    channel = ControlChannel(ControlFolder.of(run_dir.root).commands)
    sent = channel.send(command, sender=who, **args)
    try:
        return acknowledged(run_dir.run_id, command, wait_for_ack(run_dir, sent.id, ACK_TIMEOUT_S))
    except QtrainError as refused:
        raise Refused(str(refused)) from None
