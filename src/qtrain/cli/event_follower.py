"""Follow a run's ``events.jsonl`` like ``tail -f``, from its first line."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

from qtrain.rundir import RunDirectory


def follow(
    run_dir: RunDirectory,
    alive: Callable[[], bool],
    idle_s: float = 5.0,
    sleep: Callable[[float], None] = time.sleep,
    poll_s: float = 0.2,
) -> Iterator[dict[str, Any]]:
    """Every event of the run in order, then new ones as they are written; ends at
    ``run_end``, or when the run's process is gone and nothing was written for ``idle_s``."""
    offset, idle = 0, 0.0
    while True:
        with run_dir.events_file.open("rb") as handle:
            handle.seek(offset)
            data = handle.read()
        end = data.rfind(b"\n") + 1  # a line being written waits for the next read
        offset += end
        lines = data[:end].splitlines()
        for raw in lines:
            try:
                event = json.loads(raw)
            except ValueError:
                continue
            yield event
            if event.get("type") == "run_end":
                return
        idle = 0.0 if lines else idle + poll_s
        if idle >= idle_s and not alive():
            return
        sleep(poll_s)
