"""What the optimizer minimises for a finished trial: the change it made to its start."""

from __future__ import annotations

import math

from qtrain.cycle.selection import IncumbentSelector
from qtrain.history import TrialRecord


def trial_objective(
    record: TrialRecord,
    recorded: list[TrialRecord],
    baseline: dict[str, float],
    selector: IncumbentSelector,
) -> float:
    """The value the optimizer is told for ``record`` (lower is better).

    Trials start from different checkpoints in different cycles, so the raw metric mostly
    says how late the trial ran. The objective is the change the trial made to the
    checkpoint it started from (found in ``recorded``; None: the base model, measured by
    ``baseline``): ``log(after / before)`` for a loss, ``before - after`` for a score.
    Within a cycle (same start) it ranks trials like the metric.
    """
    metric = selector.metric
    start = record.start_checkpoint
    if start is None:
        start_metrics = baseline
    else:
        start_metrics = next((r.metrics for r in recorded if r.checkpoint == start), {})
    before = start_metrics.get(metric)
    after = record.metrics.get(metric, float("nan"))
    if before is None:
        return after if selector.direction == "min" else -after
    if selector.direction == "min":
        return math.log(max(after, 1e-12) / max(before, 1e-12))
    return before - after
