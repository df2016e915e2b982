"""A cycle's trials are distinct: run-scoped values follow the incumbent, equal ones go."""

from __future__ import annotations

from qtrain.config import load_config
from qtrain.cycle.plan import distinct_run_scoped, fresh_proposals, without_duplicates
from qtrain.history import TrialRecord
from qtrain.hpo.proposer import Proposal

LR, R = "training.learning_rate", "model.lora.r"


def proposal(lr: float, r: int) -> Proposal:
    return Proposal({LR: lr, R: r}, {"source": f"lr {lr} r {r}"})


def incumbent(r: int) -> TrialRecord:
    return TrialRecord(1, 0, {LR: 0.01, R: r}, None, "c1-t0", 100, {"eval_loss": 1.0})


def test_without_duplicates_keeps_the_first_of_equal_values() -> None:
    kept = without_duplicates([proposal(0.01, 8), proposal(0.02, 8), proposal(0.01, 8)])
    assert [p.params for p in kept] == [{LR: 0.01, R: 8}, {LR: 0.02, R: 8}]
    assert kept[0].metadata == {"source": "lr 0.01 r 8"}


def test_run_scoped_values_follow_the_incumbent_then_equal_trials_go() -> None:
    config = load_config(None, [])
    asked = [proposal(0.01, 16), proposal(0.01, 8), proposal(0.02, 16)]
    assert len(distinct_run_scoped(asked, None, config)) == 3  # cycle 1: r is still free
    fixed = distinct_run_scoped(asked, incumbent(8), config)
    assert [p.params for p in fixed] == [{LR: 0.01, R: 8}, {LR: 0.02, R: 8}]


def test_fresh_proposals_ask_again_until_none_is_a_trial_already_planned() -> None:
    """A person rejected one of two trials: the new one must be neither the trial that stays
    nor a point that the adapter's shape makes equal to it."""
    config = load_config(None, [])
    answers = [[proposal(0.01, 16)], [proposal(0.003, 16), proposal(0.003, 8)], []]
    asked: list[int] = []

    def more(count: int) -> list[Proposal]:
        asked.append(count)
        return answers.pop(0)

    stays = [{LR: 0.01, R: 8}]
    fresh = fresh_proposals(more, 1, stays, incumbent(8), config)
    assert [p.params for p in fresh] == [{LR: 0.003, R: 8}]
    assert asked == [1, 1]  # the first answer was the trial that stays: asked once more


def test_fresh_proposals_are_fewer_only_when_the_proposer_runs_out() -> None:
    config = load_config(None, [])
    answers = [[proposal(0.01, 16)], []]
    fresh = fresh_proposals(lambda n: answers.pop(0), 2, [{LR: 0.01, R: 8}], incumbent(8), config)
    assert fresh == []
