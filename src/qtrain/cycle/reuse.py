"""Proposals reused between ``quantum.optimization_frequency`` cycles.

A cycle that does not ask the proposer repeats the last asked cycle's trials as they were
trained (a guided decision included), with the run-scoped values (the adapter's shape)
following the incumbent's; when that would make two of them the same trial it asks instead.
The live engine and one restored from the history (every pipeline step) both take what they
repeat from :func:`asked_proposals` of each concluded cycle, so they agree.
"""

from __future__ import annotations

from qtrain.config.schema import RunConfig
from qtrain.cycle.lineage import LINEAGE_SOURCE
from qtrain.cycle.plan import fix_run_scoped, without_duplicates
from qtrain.history import TrialRecord
from qtrain.hpo.proposer import Proposal


def asked_proposals(trials: list[TrialRecord]) -> list[Proposal] | None:
    """What a cycle that reuses proposals repeats of a concluded cycle's ``trials``: the
    proposer's trials as they were trained (a guided decision included); None when the
    cycle itself reused them (any of its proposer's trials is marked ``reused``)."""
    asked = [r for r in trials if r.proposal.get("source") != LINEAGE_SOURCE]
    if any(r.proposal.get("reused") for r in asked):
        return None
    return [Proposal(dict(r.params), dict(r.proposal)) for r in asked]


def reuse(
    proposals: list[Proposal], incumbent: TrialRecord | None, config: RunConfig
) -> list[Proposal] | None:
    """``proposals`` again (marked ``reused``) for a cycle that does not ask the proposer;
    None when following the incumbent's run-scoped values (:func:`fix_run_scoped`) would
    make two of them the same trial."""
    reused = [Proposal(dict(p.params), {**p.metadata, "reused": True}) for p in proposals]
    fixed = fix_run_scoped(reused, incumbent, config)
    return reused if len(without_duplicates(fixed)) == len(without_duplicates(reused)) else None
