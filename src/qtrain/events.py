"""The run's event stream: one JSON object per line in ``events.jsonl``, plus live listeners."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

Listener = Callable[[dict[str, Any]], None]


class EventLog:
    """Appends events to a JSONL file (flushed per event) and forwards them to listeners."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._file = None
        if path is not None:  # None: listeners only (e.g. replaying decisions, nothing to keep)
            path.parent.mkdir(parents=True, exist_ok=True)
            torn = _ends_torn(path)
            self._file = path.open("a", encoding="utf-8")
            if torn:  # a line cut by a crash or a full disk stays one bad line, not two
                self._file.write("\n")
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()

    def subscribe(self, listener: Listener) -> None:
        """Call ``listener(event)`` for every later event (e.g. the CLI's progress display)."""
        self._listeners.append(listener)

    def emit(self, event_type: str, **fields: Any) -> dict[str, Any]:
        """Record one event; values must be JSON-serialisable."""
        event = {"ts": round(time.time(), 3), "type": event_type, **fields}
        line = json.dumps(event, default=_jsonable, sort_keys=False)
        if self._file is not None:
            with self._lock:
                self._file.write(line + "\n")
                self._file.flush()
        # Listeners see exactly what the file holds (paths as strings, numpy scalars as numbers).
        recorded = json.loads(line)
        for listener in self._listeners:
            listener(recorded)
        return recorded

    def sync(self) -> None:
        """Make every event so far durable (fsync): before a change that relies on them, such
        as retention deleting what a recorded ``cycle_end`` no longer needs."""
        if self._file is not None:
            with self._lock:
                self._file.flush()
                os.fsync(self._file.fileno())

    def close(self) -> None:
        """Close the file; later emits are an error."""
        if self._file is not None:
            self._file.close()


def read_events(path: Path) -> list[dict[str, Any]]:
    """All events of a run, in order (a torn last line from a crash is ignored)."""
    events = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return events


def _jsonable(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")


def _ends_torn(path: Path) -> bool:
    """Whether ``path`` holds bytes after its last newline (a line cut short)."""
    try:
        with path.open("rb") as handle:
            if handle.seek(0, os.SEEK_END) == 0:
                return False
            handle.seek(-1, os.SEEK_END)
            return handle.read(1) != b"\n"
    except FileNotFoundError:
        return False
