"""The QUBO optimizer and the baselines as the agent's proposer, end to end on CPU."""

import json
from pathlib import Path

import pytest

from qtrain import QuantumTrainingAgent, load_config
from qtrain.events import read_events

pytestmark = pytest.mark.slow


def _run(overrides: list[str]) -> tuple[dict, list[dict]]:
    report = QuantumTrainingAgent(load_config(None, overrides)).run()
    return report, read_events(Path(report["run_dir"]) / "events.jsonl")


def _trials(report: dict) -> list[dict]:
    return [t | {"cycle": c["cycle"]} for c in report["cycles"] for t in c["trials"]]


@pytest.mark.parametrize("solver_type", ["sa", "tabu", "random", "optuna-tpe"])
def test_proposers_drive_the_loop(solver_type: str, tiny_overrides: list[str]) -> None:
    report, events = _run(
        [*tiny_overrides, f"quantum.solver_type={solver_type}", "runtime.export_merged=false"]
    )
    trials = _trials(report)
    assert [t["cycle"] for t in trials] == [1, 1, 2, 2]
    assert report["proposer"].endswith(solver_type)
    # distinct within a cycle; run-scoped LoRA rank fixed to the incumbent's after cycle 1
    for cycle in (1, 2):
        params = [t["params"] for t in trials if t["cycle"] == cycle]
        assert params[0] != params[1]
    cycle1_best = min(
        (t for t in trials if t["cycle"] == 1), key=lambda t: t["metrics"]["eval_loss"]
    )
    assert {t["params"]["model.lora.r"] for t in trials if t["cycle"] == 2} == {
        cycle1_best["params"]["model.lora.r"]
    }
    assert all(
        t["start_checkpoint"] == cycle1_best["checkpoint"] for t in trials if t["cycle"] == 2
    )
    sources = [t["proposal"]["source"] for t in trials if t["cycle"] == 2]
    assert sources[0] == "incumbent"
    proposal_events = [e for e in events if e["type"] == "proposals"]
    assert len(proposal_events) == 2
    explored = trials[3]["proposal"]
    if solver_type in ("sa", "tabu"):
        assert explored["source"] == "qubo"
        assert explored["solver"] == solver_type and explored["solve_seconds"] >= 0
        assert explored["fallback"] is False and "energy" in explored
        assert proposal_events[1]["proposals"][1]["metadata"]["solver"] == solver_type


def test_failing_solver_falls_back_and_records_why(tiny_overrides: list[str]) -> None:
    report, _ = _run(
        [
            *tiny_overrides,
            "quantum.solver_type=exact",
            "quantum.fallback=[tabu]",
            "quantum.solver_options={exact: {max_variables: 2}}",
            "runtime.export_merged=false",
        ]
    )
    explored = _trials(report)[3]["proposal"]
    assert explored["source"] == "qubo"
    assert explored["solver"] == "tabu" and explored["fallback"] is True
    reasons = explored["fallback_reasons"]
    assert reasons[0]["solver"] == "exact" and "2" in reasons[0]["reason"]


def test_optimization_frequency_reuses_proposals(tiny_overrides: list[str]) -> None:
    report, _ = _run(
        [
            *tiny_overrides,
            "quantum.solver_type=sa",
            "quantum.optimization_frequency=2",
            "runtime.export_merged=false",
        ]
    )
    trials = _trials(report)
    first, second = trials[:2], trials[2:]
    assert not any(t["proposal"].get("reused") for t in first)
    incumbent_r = min(first, key=lambda t: t["metrics"]["eval_loss"])["params"]["model.lora.r"]
    assert {t["params"]["model.lora.r"] for t in second} == {incumbent_r}  # the shape is fixed
    assert len({json.dumps(t["params"], sort_keys=True) for t in second}) == 2  # two trials
    following = [{**t["params"], "model.lora.r": incumbent_r} for t in first]
    if all(t["proposal"].get("reused") for t in second):  # cycle 1's proposals, reused
        assert [t["params"] for t in second] == following
    else:  # reusing them would have trained one configuration twice: the proposer was asked
        assert following[0] == following[1]
        assert not any(t["proposal"].get("reused") for t in second)
    # the history on disk still says what cycle 1 really trained
    history = [
        json.loads(line)
        for line in (Path(report["run_dir"]) / "history.jsonl").read_text().splitlines()
    ]
    assert [h["params"] for h in history[:2]] == [t["params"] for t in first]
    assert len({h["params"]["model.lora.r"] for h in history[:2]}) == 2
