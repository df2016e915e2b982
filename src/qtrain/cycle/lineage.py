"""The default's lineage: the search space's defaults, trained on from their own checkpoint.

With ``quantum.default_lineage`` a run keeps two lineages alive, as in population-based
training: the incumbent's (what the proposals start from) and the defaults' (what a user
would have trained anyway). Each cycle the defaults continue from their own last checkpoint,
unless a planned trial already does that (the exploit trial, when the defaults' lineage is
the incumbent). The incumbent is the best trial of either, so a proposal that collapses
(a loss plateau that beats a slow default for a while) is dropped as soon as the default's
lineage passes it.
"""

from __future__ import annotations

from typing import Any

from qtrain.config.schema import RunConfig
from qtrain.cycle.plan import TrialPlan
from qtrain.history import TrialRecord

#: ``TrialRecord.proposal["source"]`` of a trial added to carry the lineage on.
LINEAGE_SOURCE = "default-lineage"


def default_params(config: RunConfig) -> dict[str, Any]:
    """The search space's defaults (the lineage's settings)."""
    return {name: spec.default for name, spec in config.search_space.items()}


def continues(params: dict[str, Any], start: str | None, head: TrialRecord | None,
              defaults: dict[str, Any]) -> bool:  # fmt: skip
    """Whether a trial with ``params`` from ``start`` continues the lineage ending at ``head``."""
    same = all(params.get(name) == value for name, value in defaults.items())
    return same and start == (head.checkpoint if head else None)


def next_head(
    trials: list[TrialRecord], head: TrialRecord | None, defaults: dict[str, Any]
) -> TrialRecord | None:
    """The lineage's head after a cycle: its completed continuation, else the old head."""
    for record in trials:
        if record.status == "completed" and continues(
            record.params, record.start_checkpoint, head, defaults
        ):
            return record
    return head


def lineage_trial(
    trials: list[TrialPlan], head: TrialRecord | None, defaults: dict[str, Any], name: str
) -> TrialPlan | None:
    """The trial to add to a planned cycle so that the lineage goes on (None: one does).

    Only a trial that trains in full carries the lineage: a successive-halving candidate may
    be halved, so with rungs the defaults also train in full beside them.
    """
    if not trials:
        return None
    start = head.checkpoint if head else None
    if any(not t.rung_steps and continues(t.params, t.start_checkpoint, head, defaults)
           for t in trials):  # fmt: skip
        return None
    first = trials[0]
    metadata = {"proposer": name, "source": LINEAGE_SOURCE}
    return TrialPlan(first.cycle, len(trials), dict(defaults), metadata, start, first.steps)
