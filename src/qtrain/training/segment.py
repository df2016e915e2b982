"""A trial in segments: its first steps and saved trainer state, from which it continues.

A pause (``qtrain pause --now``) or a graceful stop ends a trial's training early with the
trainer's full state saved; :class:`TrialSuspended` carries that :class:`Segment`, and a
later ``run_trial(..., resume=segment)`` (in this process or a resumed one) trains the rest
so that the trial ends exactly where an uninterrupted one would.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from qtrain.training.sft import TrainSummary


def mean_loss(first: TrainSummary, then: TrainSummary) -> float:
    """The mean training loss over two segments' steps."""
    steps = first.steps + then.steps
    total = first.train_loss * first.steps + then.train_loss * then.steps
    return total / steps if steps else then.train_loss


@dataclass(frozen=True)
class Segment:
    """The first steps of a trial and its saved trainer state (adapter, optimizer, scheduler,
    RNG), from which the rest of the trial continues exactly."""

    checkpoint: Path
    steps: int
    summary: TrainSummary

    def to_dict(self) -> dict[str, Any]:
        """The segment as plain JSON (``control/suspended.json``)."""
        return {"checkpoint": str(self.checkpoint), "steps": self.steps,
                "summary": asdict(self.summary)}  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Segment:
        """Read :meth:`to_dict`'s output back."""
        summary = TrainSummary(**data["summary"])
        return cls(Path(data["checkpoint"]), int(data["steps"]), summary)


class TrialSuspended(Exception):
    """A trial stopped before its schedule's end on request; ``segment`` continues it."""

    def __init__(self, segment: Segment) -> None:
        super().__init__(f"suspended after {segment.steps} steps")
        self.segment = segment
