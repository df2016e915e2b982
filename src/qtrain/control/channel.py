"""The command channel: ``control/commands.jsonl``, append-only, read from an offset.

Any process may append a command (one JSON line, written under an exclusive ``flock`` and
fsynced); the run's writer reads what was appended since it last looked. Checking costs one
``stat`` when nothing is new, so the runner can look after every optimizer step.
"""

from __future__ import annotations

import fcntl
import getpass
import json
import os
import socket
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

#: The commands a run understands.
COMMANDS = ("pause", "resume", "stop", "set", "approve", "reject")


@dataclass(frozen=True)
class Command:
    """One command: what, with which arguments, sent by whom, when."""

    command: str
    args: dict[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    who: str = field(default_factory=lambda: f"{_user()}@{socket.gethostname()}:{os.getpid()}")
    when: float = field(default_factory=lambda: round(time.time(), 3))

    def to_dict(self) -> dict[str, Any]:
        """The command as its JSON line's object."""
        return asdict(self)


@dataclass(frozen=True)
class BadLine:
    """A line of the channel that is no command (a corrupt or hand-edited file)."""

    line: int
    reason: str


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


class ControlChannel:
    """Appends commands to ``path`` and reads the ones appended since the last read."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._offset = 0
        self._line = 0

    def send(self, command: str, sender: str | None = None, **args: Any) -> Command:
        """Append a command; returns it (its ``id`` is what acknowledgements name).

        ``sender`` is who the audit trail names (default: user@host:pid).
        """
        if command not in COMMANDS:
            raise ValueError(f"unknown command {command!r}: choose from {', '.join(COMMANDS)}")
        sent = (
            Command(command, dict(args))
            if sender is None
            else Command(command, dict(args), who=sender)
        )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = (json.dumps(sent.to_dict(), sort_keys=False) + "\n").encode("utf-8")
        with self.path.open("ab") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        return sent

    def skip_existing(self) -> None:
        """Start reading at the current end (a resumed run ignores commands sent before)."""
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return
        with self.path.open("rb") as handle:
            data = handle.read(size)
        end = data.rfind(b"\n") + 1
        self._offset, self._line = end, data[:end].count(b"\n")

    def receive(self) -> list[Command | BadLine]:
        """The complete lines appended since the last call, parsed (cheap when none)."""
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return []
        if size <= self._offset:
            return []
        with self.path.open("rb") as handle:
            handle.seek(self._offset)
            data = handle.read(size - self._offset)
        end = data.rfind(b"\n") + 1  # a line still being written waits for the next call
        self._offset += end
        out: list[Command | BadLine] = []
        for raw in data[:end].splitlines():
            self._line += 1
            out.append(_parse(raw, self._line))
        return out


def _parse(raw: bytes, line: int) -> Command | BadLine:
    try:
        item = json.loads(raw)
        if not isinstance(item, dict) or item.get("command") not in COMMANDS:
            raise ValueError(f"not a command of {', '.join(COMMANDS)}")
        args = item.get("args") or {}
        if not isinstance(args, dict):
            raise ValueError("args must be an object")
        return Command(
            str(item["command"]),
            args,
            str(item.get("id") or f"line-{line}"),
            str(item.get("who") or "unknown"),
            float(item.get("when") or 0.0),
        )
    except (ValueError, TypeError, UnicodeDecodeError) as exc:
        return BadLine(line, f"line {line} of the control channel is no command: {exc}")
