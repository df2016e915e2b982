"""A run's event log as Server-Sent Events, resumable by byte offset.

Each event's SSE id is the byte offset of its line in ``events.jsonl``. The log is
append-only (a resume appends; a torn last line is never given an id, since only complete
lines are sent), so a browser that reconnects with ``Last-Event-ID: N`` gets exactly the
lines after the one at ``N``: no gap and no duplicate. A page opened late replays the run
from its first byte. A complete line that is not JSON (a damaged log) is skipped with an
SSE comment; nothing is ever written to the run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Line:
    """One complete line of the log: its byte offset, and its event (None: not JSON)."""

    offset: int
    event: dict | None


def read_lines(path: Path, offset: int) -> tuple[list[Line], int]:
    """The complete lines from byte ``offset`` on, and the offset after the last of them."""
    try:
        with path.open("rb") as handle:
            handle.seek(offset)
            data = handle.read()
    except FileNotFoundError:
        return [], offset
    end = data.rfind(b"\n") + 1  # a line still being written waits for the next read
    lines, position = [], offset
    for raw in data[:end].splitlines(keepends=True):
        try:
            event = json.loads(raw)
            lines.append(Line(position, event if isinstance(event, dict) else None))
        except (json.JSONDecodeError, UnicodeDecodeError):
            lines.append(Line(position, None))
        position += len(raw)
    return lines, offset + end


def resume_offset(path: Path, last_event_id: str | None) -> int:
    """Where to read from after ``Last-Event-ID`` (the offset of the last line the browser
    got): the start of the next line; from the start when there is none or it is not a line
    start of this log."""
    if not last_event_id or not last_event_id.isdigit():
        return 0
    offset = int(last_event_id)
    try:
        with path.open("rb") as handle:
            if offset > 0:
                handle.seek(offset - 1)
                if handle.read(1) != b"\n":
                    return 0
            else:
                handle.seek(0)
            line = handle.readline()
    except OSError:
        return 0
    return offset + len(line) if line.endswith(b"\n") else 0


def format_sse(line: Line) -> str:
    """One SSE message for ``line`` (a comment for a line that is no event)."""
    if line.event is None:
        return f": line at byte {line.offset} is not an event: skipped\n\n"
    return f"id: {line.offset}\ndata: {json.dumps(line.event)}\n\n"
