"""A failing trial is recorded and the run goes on; a run whose set-up fails still reports."""

import json
from pathlib import Path

import pytest

import qtrain.training.trial as trial_module
from qtrain import QuantumTrainingAgent, load_config
from qtrain.errors import QtrainError

pytestmark = pytest.mark.slow


def test_failed_trial_is_recorded_and_the_run_continues(
    tiny_overrides: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = trial_module.run_trial

    def flaky(spec, *args, **kwargs):
        if spec.trial == 1:
            raise RuntimeError("CUDA out of memory (simulated)")
        return real(spec, *args, **kwargs)

    monkeypatch.setattr(trial_module, "run_trial", flaky)
    report = QuantumTrainingAgent(
        load_config(
            None, [*tiny_overrides, "quantum.solver_type=random", "runtime.export_merged=false"]
        )
    ).run()
    assert report["status"] == "completed"
    trials = [t for c in report["cycles"] for t in c["trials"]]
    assert [t["status"] for t in trials] == ["completed", "failed"] * 2
    assert "out of memory" in trials[1]["error"]
    assert report["best"]["trial"] == 0


def test_every_trial_failing_ends_with_a_report(
    tiny_overrides: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(spec, *args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(trial_module, "run_trial", broken)
    agent = QuantumTrainingAgent(load_config(None, tiny_overrides))
    with pytest.raises(QtrainError, match="every trial of cycle 1 failed"):
        agent.run()
    report = json.loads((Path(agent.run_dir.root) / "report.json").read_text())
    assert report["status"] == "failed" and "boom" in report["stopped_because"]
