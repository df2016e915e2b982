"""The step functions, chained by hand, make the in-process agent's decisions and metrics."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qtrain.config import load_config
from qtrain.steps import (
    evaluate_trial,
    export_run,
    preprocess,
    propose,
    read_state,
    select,
    should_continue,
    train_trial,
)


def run_steps(config_json: str, root: Path) -> Path:
    """Chain the steps the way the pipeline does, each output in its own folder."""
    data, state, incumbent = root / "data", root / "state-0", root / "base"
    preprocess(config_json, data, state, incumbent)
    cycle = 0
    while True:
        cycle += 1
        trials = propose(config_json, state)
        checkpoints, records = [], []
        for proposal in trials:
            checkpoint = root / f"ckpt-{cycle}-{proposal['trial']}"
            record = root / f"record-{cycle}-{proposal['trial']}"
            train_trial(config_json, data, incumbent, proposal, checkpoint)
            evaluate_trial(config_json, data, checkpoint, record)
            checkpoints.append(checkpoint)
            records.append(record)
        new_state, new_incumbent = root / f"state-{cycle}", root / f"incumbent-{cycle}"
        select(config_json, state, incumbent, checkpoints, records, new_state, new_incumbent)
        state, incumbent = new_state, new_incumbent
        if not should_continue(state):
            break
    run_dir = root / "run"
    export_run(config_json, state, incumbent, data, run_dir)
    return run_dir


def history(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]


VARIANTS = {
    "default": [],
    # one trial per cycle (no exploit trial), proposals reused every other cycle, a score
    "k1-every-2nd-cycle-exact-match": [
        "training.trials_per_cycle=1",
        "quantum.optimization_frequency=2",
        "evaluation.selection_metric=exact_match",
    ],
}


class FailOnCall:
    """Makes the n-th training call of an engine raise, as an out-of-memory trial would."""

    def __init__(self, n: int) -> None:
        import qtrain.training.trial as trial

        self.n, self.calls, self.real = n, 0, trial.train_model

    def __call__(self, *args, **kwargs):
        self.calls += 1
        if self.calls == self.n:
            raise RuntimeError("injected: CUDA out of memory")
        return self.real(*args, **kwargs)


def compare_engines(tmp_path: Path, overrides: list[str], prepare=lambda: None) -> list[dict]:
    from qtrain.agent import QuantumTrainingAgent

    prepare()
    config = load_config(None, [*overrides, "runtime.run_id=inproc"])
    agent_report = QuantumTrainingAgent(config).run()

    prepare()
    steps_config = load_config(None, [*overrides, "runtime.run_id=steps"])
    run_dir = run_steps(steps_config.model_dump_json(), tmp_path / "steps")
    steps_report = json.loads((run_dir / "report.json").read_text())

    expected, got = history(Path(agent_report["run_dir"])), history(run_dir)
    keys = ("cycle", "trial", "params", "checkpoint", "status", "error")
    assert [tuple(r[k] for k in keys) for r in got] == [tuple(r[k] for k in keys) for r in expected]
    for a, b in zip(expected, got, strict=True):
        assert b["metrics"] == pytest.approx(a["metrics"], rel=1e-4, abs=1e-6)
        for key in ("solver", "source", "reused"):
            assert b["proposal"].get(key) == a["proposal"].get(key), key
    assert steps_report["best"]["checkpoint"] == agent_report["best"]["checkpoint"]
    assert steps_report["stopped_because"] == agent_report["stopped_because"]
    assert steps_report["proposer"] == agent_report["proposer"]
    best = steps_report["best"]["checkpoint"]
    assert (run_dir / "checkpoints" / best / "manifest.json").is_file()
    assert (run_dir / "export" / "adapter" / "adapter_model.safetensors").is_file()
    lines = (run_dir / "events.jsonl").read_text().splitlines()
    types = [json.loads(line)["type"] for line in lines]
    assert types[0] == "run_start" and types[-1] == "run_end"
    assert types.count("cycle_end") == len({r["cycle"] for r in got})
    assert types.count("trial_failed") == sum(r["status"] == "failed" for r in got)
    return got


@pytest.mark.slow
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_steps_match_the_in_process_agent(
    tmp_path: Path, tiny_overrides: list[str], variant: str
) -> None:
    overrides = [
        *tiny_overrides, "early_stopping.max_cycles=3", "runtime.export_merged=false",
        *VARIANTS[variant],
    ]  # fmt: skip
    compare_engines(tmp_path, overrides)


@pytest.mark.slow
def test_a_failed_trial_is_recorded_alike(
    tmp_path: Path, tiny_overrides: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import qtrain.training.trial as trial

    def fail_cycle_2_trial_1() -> None:  # the 4th training call in both engines
        monkeypatch.setattr(trial, "train_model", FailOnCall(4))

    monkeypatch.setattr(trial, "train_model", trial.train_model)  # restored after the test
    compare_engines(
        tmp_path, [*tiny_overrides, "runtime.export_merged=false"], fail_cycle_2_trial_1
    )


def test_an_edited_config_json_must_fit_the_compiled_dag(tmp_path: Path) -> None:
    from qtrain.errors import QtrainError

    config = load_config(None, ["early_stopping.max_cycles=4"])
    with pytest.raises(QtrainError, match="compiled for 3"):
        preprocess(
            config.model_dump_json(), tmp_path / "d", tmp_path / "s", tmp_path / "b",
            {"max_cycles": 3, "trials_per_cycle": config.training.trials_per_cycle},
        )  # fmt: skip
    assert not (tmp_path / "s").exists()


def test_gate_reads_the_stop_decision(tmp_path: Path) -> None:
    from qtrain.steps.state import RunState, write_state

    write_state(tmp_path, RunState(run_id="r", baseline={}, stop=False))
    assert should_continue(tmp_path) is True
    write_state(tmp_path, RunState(run_id="r", baseline={}, stop=True, stop_reason="max_cycles"))
    assert should_continue(tmp_path) is False
    assert read_state(tmp_path).stop_reason == "max_cycles"


def test_publish_run_copies_onto_the_runs_volume_and_never_overwrites(tmp_path: Path) -> None:
    from qtrain.errors import QtrainError
    from qtrain.steps.export import publish_run

    run = tmp_path / "artifact"
    run.mkdir()
    (run / "report.json").write_text("{}")
    mount = tmp_path / "mnt"
    config = load_config(
        None,
        [f"runtime.output_dir={mount / 'runs'}", "kubeflow.runs_pvc=qtrain-checkpoints",
         f"kubeflow.runs_mount_path={mount}"],
    )  # fmt: skip
    target = publish_run(run, config, "r1")
    assert target == mount / "runs" / "r1" and (target / "report.json").read_text() == "{}"
    with pytest.raises(QtrainError, match="never overwrites"):
        publish_run(run, config, "r1")
    elsewhere = config.model_copy(
        update={"runtime": config.runtime.model_copy(update={"output_dir": str(tmp_path / "x")})}
    )
    with pytest.raises(QtrainError, match="not on the runs volume"):
        publish_run(run, elsewhere, "r2")
