"""Choosing the incumbent: the best evaluated trial by the selection metric."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal

from qtrain.history import TrialRecord

if TYPE_CHECKING:
    from qtrain.config.schema import RunConfig


class IncumbentSelector:
    """Ranks trials by one metric; ties break on eval_loss, then on the earlier trial."""

    def __init__(self, metric: str, direction: Literal["min", "max"]) -> None:
        self.metric = metric
        self.direction = direction

    @classmethod
    def from_config(cls, config: RunConfig) -> IncumbentSelector:
        """Ranks by ``evaluation.selection_metric``."""
        return cls(config.evaluation.selection_metric, config.selection_direction)

    def key(self, record: TrialRecord) -> tuple[float, float, int, int]:
        """Sort key where smaller is better."""
        value = record.metrics[self.metric]
        signed = value if self.direction == "min" else -value
        if not math.isfinite(signed):  # a diverged trial ranks below every finite one
            signed = math.inf
        return (signed, record.metrics.get("eval_loss", 0.0), record.cycle, record.trial)

    def best(self, records: Iterable[TrialRecord]) -> TrialRecord | None:
        """The best completed record, or None when there is none."""
        done = [r for r in records if r.status == "completed" and self.metric in r.metrics]
        return min(done, key=self.key) if done else None

    def better(self, candidate: TrialRecord, incumbent: TrialRecord | None) -> bool:
        """Whether ``candidate`` should replace ``incumbent``."""
        return incumbent is None or self.key(candidate) < self.key(incumbent)
