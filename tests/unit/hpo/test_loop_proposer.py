"""The agent-facing proposers: fixed, and ask/tell optimizers wrapped per cycle."""

import pytest

from qtrain.config import load_config
from qtrain.history import TrialRecord
from qtrain.hpo import FixedProposer, make_proposer


def _record(cycle: int, trial: int, params: dict, loss: float, checkpoint: str) -> TrialRecord:
    return TrialRecord(cycle, trial, params, None, checkpoint, 10, {"eval_loss": loss})


def test_fixed_proposer_uses_configured_values_and_distinct_seeds() -> None:
    config = load_config(None, ["quantum.solver_type=fixed", "training.seed=7"])
    proposals = FixedProposer(config).propose(3, [], 1)
    assert [p.params["training.seed"] for p in proposals] == [7, 8, 9]
    assert all(
        p.params["training.learning_rate"] == config.training.learning_rate for p in proposals
    )


@pytest.mark.parametrize("solver_type", ["sa", "random", "optuna-tpe"])
def test_optimizer_proposer_tells_history_fixes_run_scope_and_exploits(solver_type: str) -> None:
    config = load_config(None, [f"quantum.solver_type={solver_type}"])
    told: list[float] = []
    incumbent: list[TrialRecord] = []
    proposer = make_proposer(
        config,
        objective=lambda r: told.append(r.metrics["eval_loss"]) or r.metrics["eval_loss"],
        incumbent=lambda: incumbent[-1] if incumbent else None,
    )
    first = proposer.propose(2, [], 1)
    assert first[0].params != first[1].params
    assert all(p.metadata["proposer"] == proposer.name for p in first)
    history = [
        _record(1, i, p.params, loss, f"c001-t0{i}")
        for i, (p, loss) in enumerate(zip(first, [0.5, 0.9], strict=True))
    ]
    incumbent.append(history[0])
    second = proposer.propose(2, history, 2)
    assert told == [0.5, 0.9]
    assert second[0].metadata["source"] == "incumbent"
    assert second[0].params == history[0].params
    assert second[1].params not in (history[0].params, history[1].params)
    assert {p.params["model.lora.r"] for p in second} == {history[0].params["model.lora.r"]}
    proposer.propose(2, history, 3)
    assert told == [0.5, 0.9]  # each finished trial is told exactly once
