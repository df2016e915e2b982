"""The cycle engine alone: no model, no data, no files; trial results are made up."""

from __future__ import annotations

import math

import pytest

from qtrain.config import load_config
from qtrain.cycle import CycleEngine, CyclePlan
from qtrain.errors import QtrainError
from qtrain.events import EventLog
from qtrain.history import History, TrialRecord

BASELINE = {"eval_loss": 4.0, "perplexity": 54.6, "exact_match": 0.0}


def config(*overrides: str):
    stopping = ["early_stopping.max_cycles=4", "early_stopping.patience=3"]
    return load_config(None, [*stopping, *overrides])


def finish(plan: CyclePlan, losses: list[float | None]) -> list[TrialRecord]:
    """Made-up results for a plan's trials (a loss each; None: the trial crashed)."""
    records = []
    for t, loss in zip(plan.trials, losses, strict=True):
        if loss is None:
            records.append(t.failed_record("RuntimeError: out of memory"))
            continue
        start, metrics = t.start_checkpoint, {"eval_loss": loss}
        record = TrialRecord(t.cycle, t.trial, t.params, start, t.name, t.steps, metrics)
        record.proposal = t.metadata
        records.append(record)
    return records


def run_cycle(engine: CycleEngine, losses: list[float]) -> tuple[CyclePlan, list[TrialRecord]]:
    engine.open_cycle()
    plan = engine.plan()
    engine.announce(plan)
    records = finish(plan, losses)
    for trial, record in zip(plan.trials, records, strict=True):
        engine.trial_started(trial)
        engine.trial_finished(record)
    engine.conclude(plan, records)
    return plan, records


def test_a_cycle_plans_from_the_incumbent_and_concludes_with_events() -> None:
    seen: list[dict] = []
    events = EventLog(None)
    events.subscribe(seen.append)
    engine = CycleEngine(config(), BASELINE, events=events)
    plan, _ = run_cycle(engine, [3.0, 2.5])
    assert plan.cycle == 1 and plan.start_checkpoint is None and len(plan.trials) == 2
    assert engine.incumbent.checkpoint == "c001-t01" and engine.cycle == 1
    assert [e["type"] for e in seen] == [
        "cycle_start", "proposals", "trial_start", "trial_end", "trial_start", "trial_end",
        "selection", "cycle_end",
    ]  # fmt: skip
    second = engine.plan()
    assert {t.start_checkpoint for t in second.trials} == {"c001-t01"}
    run_scoped = plan.trials[1].params["model.lora.r"]
    assert {t.params["model.lora.r"] for t in second.trials} == {run_scoped}


def test_a_failed_trial_is_recorded_and_a_cycle_of_failures_is_an_error() -> None:
    seen: list[dict] = []
    events = EventLog(None)
    events.subscribe(seen.append)
    engine = CycleEngine(config(), BASELINE, events=events)
    _, records = run_cycle(engine, [None, 2.0])
    assert records[0].status == "failed" and records[0].checkpoint is None
    assert [e["type"] for e in seen].count("trial_failed") == 1
    engine.open_cycle()
    plan = engine.plan()
    with pytest.raises(QtrainError, match="every trial of cycle 2 failed"):
        engine.conclude(plan, finish(plan, [None, None]))


def test_a_restored_engine_decides_and_proposes_as_the_live_one() -> None:
    live = CycleEngine(config(), BASELINE)
    for losses in ([3.0, 2.5], [2.4, 2.6]):
        run_cycle(live, losses)
    restored = CycleEngine(config(), BASELINE, History_of(live.history.records))
    assert (restored.cycle, restored.incumbent, restored.decision) == (
        live.cycle, live.incumbent, live.decision,
    )  # fmt: skip
    assert [t.params for t in restored.plan().trials] == [t.params for t in live.plan().trials]


def test_an_engine_restored_mid_cycle_plans_that_cycle_again() -> None:
    live = CycleEngine(config(), BASELINE)
    run_cycle(live, [3.0, 2.5])
    plan = live.plan()
    first = finish(plan, [2.2, 2.3])[0]  # trial 0 of cycle 2 finished, then the run stopped
    stopped = History_of([*live.history.records, first])
    resumed = CycleEngine(config(), BASELINE, stopped, concluded=1)
    assert resumed.cycle == 1 and resumed.pending == [first]
    again = resumed.plan()
    assert [untimed(t.to_dict()) for t in again.trials] == [
        untimed(t.to_dict()) for t in plan.trials
    ]
    result = resumed.conclude(again, [first, finish(again, [2.2, 2.3])[1]])
    assert result.incumbent.checkpoint == "c002-t00" and resumed.pending == []
    with pytest.raises(QtrainError, match="cannot restore the run"):
        CycleEngine(config(), BASELINE, stopped, concluded=0)


def test_early_stopping_ends_the_loop_with_its_reason() -> None:
    engine = CycleEngine(config("early_stopping.max_cycles=2"), BASELINE)
    run_cycle(engine, [3.0, 2.5])
    assert not engine.decision.stop
    run_cycle(engine, [2.4, 2.6])
    assert engine.decision.stop and engine.decision.reason == "max_cycles 2 reached"
    state = engine.run_state("r1", started=0.0)
    assert (state.cycle, state.incumbent, state.stop) == (2, "c002-t00", True)


def untimed(trial: dict) -> dict:
    """A planned trial without how long proposing it took."""
    meta = {k: v for k, v in trial["metadata"].items() if not k.endswith("_seconds")}
    return {**trial, "metadata": meta}


def History_of(records: list[TrialRecord]) -> History:
    history = History()
    history.records.extend(records)
    return history


def test_successive_halving_continues_the_best_rung_and_records_the_others() -> None:
    seen: list[dict] = []
    events = EventLog(None)
    events.subscribe(seen.append)
    engine = CycleEngine(config("training.rung_steps=20", "training.trials_per_cycle=3"),
                         BASELINE, events=events)  # fmt: skip
    engine.open_cycle()
    plan = engine.plan()
    assert {(t.rung_steps, t.steps) for t in plan.trials} == {(20, 100)}
    winner = engine.halve(plan, {0: 3.1, 1: 2.9, 2: float("nan")})
    assert winner.trial == 1 and seen[-1]["type"] == "halving" and seen[-1]["winner"] == 1
    halved = plan.trials[0].halved_record(3.1, {"steps": 20.0})
    assert (halved.status, halved.steps, halved.checkpoint) == ("halved", 20, None)
    crashed = plan.trials[2].failed_record("RuntimeError: out of memory")
    kept = finish(plan, [None, 2.0, None])[1]
    kept.rung = {"steps": 20.0, "eval_loss": 2.9}
    result = engine.conclude(plan, [halved, kept, crashed])
    assert result.incumbent is kept  # a halved trial is never the incumbent
    # the optimizer compares the cycle's trials at the rung (no exploit trial in cycle 1)
    assert engine.objective(halved) == pytest.approx(math.log(3.1 / 4.0))
    assert engine.objective(kept) == pytest.approx(math.log(2.9 / 4.0))
    with pytest.raises(QtrainError, match="every trial of cycle 2 failed in its rung"):
        engine.halve(engine.plan(), {})


def test_the_default_lineage_lives_on_until_it_is_the_incumbent() -> None:
    engine = CycleEngine(config("quantum.default_lineage=true"), BASELINE)
    defaults = {name: spec.default for name, spec in engine.config.search_space.items()}
    plan, _ = run_cycle(engine, [3.4, 3.2])  # the default (trial 0) loses to a collapse
    assert plan.trials[0].params == defaults and engine.incumbent.checkpoint == "c001-t01"
    assert engine.lineage.checkpoint == "c001-t00"

    engine.open_cycle()
    second = engine.plan()
    lineage = second.trials[-1]
    assert len(second.trials) == 3 and lineage.metadata["source"] == "default-lineage"
    assert (lineage.params, lineage.start_checkpoint) == (defaults, "c001-t00")
    records = finish(second, [3.19, 3.18, 2.5])  # the default's lineage passes the collapse
    for record in records:
        engine.trial_finished(record)
    engine.conclude(second, records)
    assert engine.incumbent.checkpoint == engine.lineage.checkpoint == "c002-t02"

    third = engine.plan()  # the exploit trial now continues the lineage: nothing added
    assert len(third.trials) == 2 and third.trials[0].params == defaults
    restored = CycleEngine(engine.config, BASELINE, History_of(engine.history.records))
    assert restored.lineage == engine.lineage


def test_a_restored_engine_reuses_only_the_proposers_proposals_beside_the_lineage() -> None:
    overrides = ("quantum.default_lineage=true", "quantum.optimization_frequency=2")
    live = CycleEngine(config(*overrides), BASELINE)
    run_cycle(live, [3.4, 3.2])  # the default loses: cycles 2 and 3 carry a lineage trial
    run_cycle(live, [3.19, 3.18, 3.3])
    third, _ = run_cycle(live, [3.17, 3.1, 3.16])  # a proposal wins: the lineage goes on beside
    assert third.trials[-1].metadata["source"] == "default-lineage"
    restored = CycleEngine(live.config, BASELINE, History_of(live.history.records))
    fourth = [untimed(t.to_dict()) for t in restored.plan().trials]  # a reusing cycle
    assert fourth == [untimed(t.to_dict()) for t in live.plan().trials]
    assert [t["metadata"].get("reused") for t in fourth[:2]] == [True, True]
    assert len(fourth) == 3 and fourth[2]["metadata"]["source"] == "default-lineage"


def test_reconfigure_takes_qtrain_sets_settings() -> None:
    from qtrain.control.settings import apply_settings

    engine = CycleEngine(config("early_stopping.max_cycles=2"), BASELINE)
    run_cycle(engine, [3.0, 2.5])
    run_cycle(engine, [2.0, 1.5])
    assert engine.decision.stop  # max_cycles 2 reached ...
    engine = CycleEngine(config("early_stopping.max_cycles=2"), BASELINE)
    run_cycle(engine, [3.0, 2.5])
    new_default = engine.config.search_space["training.learning_rate"].values[0]
    settings = {
        "early_stopping.max_cycles": 3,
        "training.steps_per_cycle": 7,
        "search_space.training.learning_rate.default": new_default,
    }
    engine.reconfigure(apply_settings(engine.config, settings))
    run_cycle(engine, [2.0, 1.5])
    assert not engine.decision.stop  # ... unless extended first
    plan = engine.plan()
    assert {t.steps for t in plan.trials} == {7}
    assert engine.proposer.space.defaults()["training.learning_rate"] == new_default


class ScriptedProposer:
    """Cycle 1: the defaults at LoRA r 16 and r 8; later: a new learning rate each time."""

    name = "scripted"

    def __init__(self) -> None:
        self.asked: list[int] = []

    def propose(self, n: int, history: list[TrialRecord], cycle: int) -> list:
        from qtrain.hpo.proposer import Proposal

        self.asked.append(cycle)
        base = {"training.learning_rate": 0.01, "training.lr_scheduler": "linear",
                "training.warmup_ratio": 0.05, "model.lora.r": 16}  # fmt: skip
        if cycle == 1:
            return [Proposal(base, {}), Proposal({**base, "model.lora.r": 8}, {})]
        return [Proposal({**base, "training.learning_rate": lr}, {}) for lr in (0.003, 0.006)]


def test_reused_proposals_that_the_adapters_shape_makes_one_trial_are_asked_again() -> None:
    """With optimization_frequency 3, cycle 2 would reuse cycle 1's proposals; once the
    winner's LoRA r is fixed, two that differed only in r would be the same trial twice, so
    the proposer is asked again, and cycle 3 reuses those (also after a restore)."""
    overrides = ("quantum.optimization_frequency=3", "early_stopping.max_cycles=4")
    proposer = ScriptedProposer()
    live = CycleEngine(config(*overrides), BASELINE, proposer=proposer)
    run_cycle(live, [3.0, 2.5])  # r 8 wins: the adapter's shape is r 8 from now on
    second, _ = run_cycle(live, [2.4, 2.3])
    assert proposer.asked == [1, 2]  # reusing would have trained r 8 at lr 1e-2 twice
    assert [t.params["training.learning_rate"] for t in second.trials] == [0.003, 0.006]
    assert {t.params["model.lora.r"] for t in second.trials} == {8}
    again = ScriptedProposer()
    restored = CycleEngine(live.config, BASELINE, History_of(live.history.records), proposer=again)
    third = [untimed(t.to_dict()) for t in restored.plan().trials]
    assert third == [untimed(t.to_dict()) for t in live.plan().trials]
    assert proposer.asked == [1, 2] and again.asked == []  # cycle 3 reuses cycle 2's
    assert [t["params"]["training.learning_rate"] for t in third] == [0.003, 0.006]
    assert all(t["metadata"].get("reused") for t in third)


class ShapeBlindProposer(ScriptedProposer):
    """Proposes cycle 1's two LoRA shapes in every cycle (it ignores run scope)."""

    def propose(self, n: int, history: list[TrialRecord], cycle: int) -> list:
        return super().propose(n, history, 1)


def test_an_asked_cycle_trains_proposals_that_the_adapters_shape_makes_equal_once() -> None:
    """A proposer that leaves the run-scoped LoRA r free proposes r 16 and r 8 again in cycle
    2; with r fixed to the incumbent's they are one trial, and it is trained once."""
    engine = CycleEngine(config(), BASELINE, proposer=ShapeBlindProposer())
    first, _ = run_cycle(engine, [3.0, 2.5])
    assert len(first.trials) == 2
    second = engine.plan()
    assert [t.params["model.lora.r"] for t in second.trials] == [8]
    assert second.trials[0].params["training.learning_rate"] == 0.01


def test_a_reusing_cycle_repeats_what_was_trained_after_a_guided_change_restored_too() -> None:
    """A person replaced a proposal in an asked cycle (guided mode): the next, reusing cycle
    repeats the trained one, in the live engine and in one restored from the history (as
    every pipeline step is); before, the live engine repeated the proposer's original."""
    import dataclasses

    overrides = ("quantum.optimization_frequency=3", "early_stopping.max_cycles=4")
    live = CycleEngine(config(*overrides), BASELINE, proposer=ScriptedProposer())
    live.open_cycle()
    plan = live.plan()
    chosen = {**plan.trials[1].params, "model.lora.r": 16, "training.learning_rate": 0.02}
    trials = [plan.trials[0], dataclasses.replace(plan.trials[1], params=chosen,
                                                  metadata={"source": "guided-edit"})]  # fmt: skip
    plan = CyclePlan(plan.cycle, plan.start_checkpoint, trials)
    records = finish(plan, [3.0, 2.5])
    for trial, record in zip(plan.trials, records, strict=True):
        live.trial_started(trial)
        live.trial_finished(record)
    live.conclude(plan, records)
    restored = CycleEngine(live.config, BASELINE, History_of(live.history.records),
                           proposer=ScriptedProposer())  # fmt: skip
    second = [untimed(t.to_dict()) for t in restored.plan().trials]
    assert second == [untimed(t.to_dict()) for t in live.plan().trials]
    assert [t["params"]["training.learning_rate"] for t in second] == [0.01, 0.02]
    assert all(t["metadata"].get("reused") for t in second)
