"""A failing trial is recorded and the run goes on; a run whose set-up fails still reports."""

import json
from pathlib import Path

import pytest

import qtrain.training.trial as trial_module
from qtrain import QuantumTrainingAgent, load_config

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


def test_every_trial_failing_ends_with_a_report(failed_run: QuantumTrainingAgent) -> None:
    report = json.loads((Path(failed_run.run_dir.root) / "report.json").read_text())
    assert report["status"] == "failed" and "boom" in report["stopped_because"]


def test_a_heartbeat_lost_during_the_final_export_stops_the_run(
    tiny_overrides: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lock's heartbeat runs on a side thread; an I/O error it meets while the best
    checkpoint is exported must not end in ``completed``: the run stops, resumable."""
    agent = QuantumTrainingAgent(load_config(None, tiny_overrides))
    real_export = agent._export

    def export_while_the_disk_fails() -> dict[str, str]:
        exports = real_export()
        assert agent.lock is not None
        agent.lock.failure = OSError(5, "Input/output error", str(agent.lock.path))
        return exports

    monkeypatch.setattr(agent, "_export", export_while_the_disk_fails)
    report = agent.run()
    assert report["status"] == "stopped" and agent.exit_code == 75
    assert "Input/output error" in report["stopped_because"]
    assert "lock.json" in report["stopped_because"]
    monkeypatch.undo()
    resumed = QuantumTrainingAgent(agent.config, resume=Path(agent.run_dir.root)).run()
    assert resumed["status"] == "completed" and resumed["best"] == report["best"]


def test_a_run_whose_lock_was_taken_over_writes_nothing_more(
    tiny_overrides: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process that stalled past the lock's staleness limit, and whose run another process
    took over meanwhile, stops at its next check and leaves the run to the new owner: no
    report, no final status, the new owner's lock untouched."""
    import time

    from qtrain.control.lock import RunBusyError

    def events(root: Path) -> list[dict]:
        return [json.loads(line) for line in (root / "events.jsonl").read_text().splitlines()]

    agent = QuantumTrainingAgent(load_config(None, tiny_overrides))
    real_export = agent._export
    newcomer = {"pid": 4242, "host": "other-host", "started": time.time(), "heartbeat": time.time()}

    def export_then_taken_over() -> dict[str, str]:
        exports = real_export()
        assert agent.lock is not None
        deadline = time.monotonic() + 30
        while agent.lock.lost_to is None and time.monotonic() < deadline:
            agent.lock.path.write_text(json.dumps(newcomer), "utf-8")  # (again: see test_lock)
            time.sleep(0.5)
        return exports

    monkeypatch.setattr(agent, "_export", export_then_taken_over)
    with pytest.raises(RunBusyError, match="process 4242 on other-host took over its lock"):
        agent.run()
    root = Path(agent.run_dir.root)
    assert not (root / "report.json").exists()
    assert json.loads((root / "control" / "lock.json").read_text("utf-8")) == newcomer
    status = json.loads((root / "control" / "status.json").read_text("utf-8"))
    assert status["state"] == "exporting"  # as the run left it: the new owner writes the rest
    assert not [e for e in events(root) if e["type"] in ("control_checks", "run_end")]
    assert agent.controller is not None and not agent.controller._watcher.is_alive()


def test_a_run_failed_by_a_cycle_of_crashes_resumes_by_training_that_cycle_again(
    failed_run: QuantumTrainingAgent, tiny_overrides: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every trial of cycle 1 crashed (say the GPU was taken): once the cause is gone,
    ``--resume`` trains cycle 1 again instead of failing on its recorded crashes."""
    root = Path(failed_run.run_dir.root)
    monkeypatch.undo()  # the trials train again
    config = load_config(root / "config.yaml")
    report = QuantumTrainingAgent(config, resume=root).run()
    assert report["status"] == "completed", report["stopped_because"]
    trials = [(c["cycle"], t["status"]) for c in report["cycles"] for t in c["trials"]]
    assert trials == [(1, "completed"), (1, "completed"), (2, "completed"), (2, "completed")]
    history = [json.loads(line) for line in (root / "history.jsonl").read_text().splitlines()]
    assert [r["status"] for r in history] == ["completed"] * 4  # the crashes were dropped
