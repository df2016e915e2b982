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

    Trials of a successive-halving cycle (``record.rung``) are compared where they all ran,
    at the rung, on eval loss: ``log(loss / exploit's loss)`` against the cycle's exploit
    trial (the incumbent's settings), or against the start where there is none.
    """
    metric = selector.metric
    start = record.start_checkpoint
    if start is None:
        start_metrics = baseline
    else:
        start_metrics = next((r.metrics for r in recorded if r.checkpoint == start), {})
    if record.rung:
        exploit = next(
            (r for r in recorded
             if r.cycle == record.cycle and r.rung and r.proposal.get("source") == "incumbent"),
            None,
        )  # fmt: skip
        reference = exploit.rung["eval_loss"] if exploit else start_metrics.get("eval_loss")
        loss = record.rung["eval_loss"]
        return math.log(max(loss, 1e-12) / max(reference, 1e-12)) if reference else loss
    before = start_metrics.get(metric)
    after = record.metrics.get(metric, float("nan"))
    if before is None:
        return after if selector.direction == "min" else -after
    if selector.direction == "min":
        return math.log(max(after, 1e-12) / max(before, 1e-12))
    return before - after


#: The context bits (thermometer-coded): which cycle, and how far the start checkpoint's eval
#: loss has come down from the base model's.
CONTEXT_BITS = ("cycle>=2", "cycle>=3", "cycle>=4", "start<=0.5x", "start<=0.25x", "start<=0.1x")


def cycle_context(
    cycle: int, start: str | None, recorded: list[TrialRecord], baseline: dict[str, float]
) -> tuple[int, ...]:
    """The :data:`CONTEXT_BITS` of a cycle that starts from checkpoint ``start`` (None: the
    base model, whose eval loss is ``baseline``'s)."""
    base = baseline.get("eval_loss")
    if start is None:
        loss = base
    else:
        loss = next((r.metrics.get("eval_loss") for r in recorded if r.checkpoint == start), None)
    ratio = loss / base if loss is not None and base else 1.0
    cycles = [int(cycle >= c) for c in (2, 3, 4)]
    return (*cycles, *(int(ratio <= r) for r in (0.5, 0.25, 0.1)))
