"""Restore a cycle engine's decisions from a recorded history, silently."""

from __future__ import annotations

from typing import Any, Protocol

from qtrain.errors import QtrainError
from qtrain.history import TrialRecord


class Decider(Protocol):
    """What replaying needs of the engine: its cycle and its decision step."""

    cycle: int

    def decide(self, cycle: int, trials: list[TrialRecord]) -> Any:
        """Make a concluded cycle's decision again (no events, no store changes)."""


def replay(engine: Decider, records: list[TrialRecord], concluded: int | None) -> list[TrialRecord]:
    """Re-make the decisions of the first ``concluded`` recorded cycles (default: all);
    returns the open cycle's finished trials (the engine's ``pending``)."""
    cycles = sorted({r.cycle for r in records})
    last = cycles[-1] if cycles else 0
    concluded = last if concluded is None else concluded
    if not 0 <= last - concluded <= 1:
        raise QtrainError(
            f"history records cycle {last} but cycle {concluded} is the last concluded: "
            "cannot restore the run"
        )
    pending: list[TrialRecord] = []
    for cycle in cycles:
        if cycle != engine.cycle + 1:
            raise QtrainError(f"history skips cycle {engine.cycle + 1}: cannot replay it")
        trials = sorted((r for r in records if r.cycle == cycle), key=lambda r: r.trial)
        if cycle > concluded:  # the open cycle: its finished trials wait for the rest
            pending = trials
            break
        engine.decide(cycle, trials)
    return pending
