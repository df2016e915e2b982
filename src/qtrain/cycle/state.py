"""The run's recorded state besides its history: identity, starting point, last decision."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class RunState:
    """What a runner records between steps; the rest is re-derived from the history.

    Attributes:
        run_id: The run's id (its directory's name).
        baseline: The base model's metrics: cycle 1's trials are measured against them.
        started: When the run started (seconds since the epoch).
        cycle: The last concluded cycle (0: none yet).
        incumbent: The incumbent checkpoint's name (None: the base model).
        stop: Whether early stopping has ended the loop.
        stop_reason: Why it stopped.
    """

    run_id: str
    baseline: dict[str, float]
    started: float = field(default_factory=time.time)
    cycle: int = 0
    incumbent: str | None = None
    stop: bool = False
    stop_reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (``state.json``)."""
        return asdict(self)
