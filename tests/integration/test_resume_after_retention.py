"""A run that stops while retention deletes old checkpoints resumes to the uninterrupted
result. Retention runs only after ``cycle_end`` is recorded: before, a stop in that window
resumed into the cycle whose start checkpoint retention had just deleted, and the resume
failed (found by the fault benchmark: a blob outage at the end of cycle 10)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qtrain import QuantumTrainingAgent, load_config
from qtrain.events import read_events

pytestmark = pytest.mark.slow


class Crash(Exception):
    """Stands in for the machine going away."""


class CrashAtRetention:
    """Raise :class:`Crash` when retention has deleted checkpoints after cycle ``cycle``."""

    def __init__(self, cycle: int) -> None:
        self.cycle, self.ended = cycle, 0

    def __call__(self, event: dict) -> None:
        if event["type"] == "cycle_end":
            self.ended = event["cycle"]
        elif event["type"] == "retention" and self.ended == self.cycle:
            raise Crash("machine lost while old checkpoints were deleted")


def test_a_stop_during_retention_resumes_to_the_uninterrupted_result(
    tiny_overrides: list[str], tmp_path: Path
) -> None:
    common = [*tiny_overrides, "early_stopping.max_cycles=3", "early_stopping.patience=5",
              "storage.keep_last=1"]  # fmt: skip
    crashed = QuantumTrainingAgent(
        load_config(None, [*common, "runtime.run_id=r1"]),
        listeners=(CrashAtRetention(2),),
    )
    with pytest.raises(Crash):
        crashed.run()
    run_dir = crashed.run_dir
    assert run_dir is not None
    types = [e["type"] for e in read_events(run_dir.events_file)]
    last = {kind: max(i for i, t in enumerate(types) if t == kind) for kind in set(types)}
    assert last["retention"] > last["cycle_end"]  # it stopped after cycle 2 was recorded

    resumed = QuantumTrainingAgent(load_config(run_dir.config_file), resume=run_dir.root).run()
    reference = QuantumTrainingAgent(
        load_config(None, [*common, "runtime.run_id=r2", f"runtime.output_dir={tmp_path / 'ref'}"])
    ).run()
    assert resumed["status"] == "completed"

    def trials(report: dict) -> list:
        return [(t["checkpoint"], t["metrics"]) for c in report["cycles"] for t in c["trials"]]

    assert trials(resumed) == trials(reference)
    assert resumed["best"]["checkpoint"] == reference["best"]["checkpoint"]
    assert json.loads((run_dir.root / "report.json").read_text())["status"] == "completed"
