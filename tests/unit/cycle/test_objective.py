"""The context bits a cycle's trials are told with (which cycle, how far the start came)."""

from __future__ import annotations

from qtrain.cycle.objective import CONTEXT_BITS, cycle_context
from qtrain.history import TrialRecord


def _record(cycle: int, checkpoint: str, loss: float) -> TrialRecord:
    return TrialRecord(
        cycle=cycle,
        trial=0,
        params={},
        start_checkpoint=None,
        checkpoint=checkpoint,
        steps=10,
        metrics={"eval_loss": loss},
    )


def test_cycle_context_bits() -> None:
    recorded = [_record(1, "c1", 2.0), _record(2, "c2", 0.4)]
    baseline = {"eval_loss": 4.0}
    assert len(CONTEXT_BITS) == 6
    assert cycle_context(1, None, recorded, baseline) == (0, 0, 0, 0, 0, 0)
    assert cycle_context(2, "c1", recorded, baseline) == (1, 0, 0, 1, 0, 0)
    assert cycle_context(3, "c2", recorded, baseline) == (1, 1, 0, 1, 1, 1)
    assert cycle_context(5, "gone", recorded, baseline)[:3] == (1, 1, 1)
