"""One interface suite that every ask/tell optimizer passes, then QUBO-specific checks."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from support.toy_objective import TOY_OPTIMUM, toy_objective

from qtrain.errors import ConfigError
from qtrain.hpo import Proposal, QuboOptimizer, RandomSearch, SearchSpace, TPESearch
from qtrain.hpo.baselines import AskTellOptimizer

Factory = Callable[..., AskTellOptimizer]


@pytest.fixture(params=["qubo", "qubo-bocs", "random", "tpe"])
def make(request: pytest.FixtureRequest, solver: Any) -> Factory:
    """Build the optimizer under test for a space and seed."""

    def build(space: SearchSpace, seed: int = 0) -> AskTellOptimizer:
        if request.param == "qubo":
            return QuboOptimizer(space, solver=solver, seed=seed, num_reads=16)
        if request.param == "qubo-bocs":
            return QuboOptimizer(
                space,
                solver=solver,
                seed=seed,
                num_reads=16,
                surrogate="bocs",
                surrogate_options={"n_burn": 100},
            )
        cls = RandomSearch if request.param == "random" else TPESearch
        return cls(space, seed=seed)

    return build


def _key(params: dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True)


def _run(opt: AskTellOptimizer, rounds: int, k: int) -> list[list[dict[str, Any]]]:
    asked = []
    for _ in range(rounds):
        batch = opt.ask(k)
        asked.append(batch)
        for params in batch:
            opt.tell(params, toy_objective(params))
    return asked


class TestInterface:
    def test_ask_is_distinct_feasible_and_never_repeats(
        self, make: Factory, toy_space: SearchSpace
    ) -> None:
        opt = make(toy_space)
        asked = _run(opt, rounds=8, k=4)
        flat = [p for batch in asked for p in batch]
        for params in flat:
            toy_space.validate(params)
        assert len({_key(p) for p in flat}) == len(flat) == 32
        assert len(opt.history) == 32

    def test_proposals_carry_metadata(self, make: Factory, toy_space: SearchSpace) -> None:
        opt = make(toy_space)
        for _ in range(3):
            proposals = opt.ask_proposals(3)
            for p in proposals:
                assert isinstance(p, Proposal)
                assert p.metadata["proposer"] == opt.name
                assert p.metadata["repeat"] is False
                json.dumps(p.metadata)
                opt.tell(p.params, toy_objective(p.params))

    def test_deterministic_for_a_seed_and_rebuildable_from_history(
        self, make: Factory, toy_space: SearchSpace
    ) -> None:
        a, b = make(toy_space, seed=3), make(toy_space, seed=3)
        assert _run(a, 4, 3) == _run(b, 4, 3)
        rebuilt = make(toy_space, seed=3)
        for params, value in a.history:
            rebuilt.tell(params, value)
        assert rebuilt.ask(3) == a.ask(3)
        assert _run(make(toy_space, seed=4), 4, 3) != _run(make(toy_space, seed=5), 4, 3)

    def test_exhausted_space_fills_then_flags_repeats(self, make: Factory) -> None:
        space = SearchSpace.from_dict({"x": [1, 2, 3], "y": ["a", "b"]})
        opt = make(space)
        first = opt.ask_proposals(4)
        for p in first:
            opt.tell(p.params, float(p.params["x"]))
        second = opt.ask_proposals(4)
        untried = [p for p in second if not p.metadata["repeat"]]
        assert len(untried) == 2
        assert {_key(p.params) for p in untried}.isdisjoint({_key(p.params) for p in first})
        assert len({_key(p.params) for p in second}) == 4
        # more asked than the space holds: every configuration once, then repeats
        everything = opt.ask(8)
        assert len({_key(p) for p in everything}) == 6 and len(everything) == 8

    def test_fix_keeps_values(self, make: Factory, toy_space: SearchSpace) -> None:
        opt = make(toy_space)
        _run(opt, rounds=2, k=3)
        opt.fix({"c": "y", "d": False})
        assert opt.fixed == {"c": "y", "d": False}
        for _ in range(3):
            batch = opt.ask(4)
            assert all(p["c"] == "y" and p["d"] is False for p in batch)
            assert len({_key(p) for p in batch}) == 4
            for params in batch:
                opt.tell(params, toy_objective(params))
        with pytest.raises(ConfigError, match="cannot fix 'nope'"):
            opt.fix({"nope": 1})
        with pytest.raises(ConfigError, match="not one of"):
            opt.fix({"a": 7})

    def test_tell_best_history_and_validation(self, make: Factory, toy_space: SearchSpace) -> None:
        opt = make(toy_space)
        with pytest.raises(ValueError, match="no finite value"):
            _ = opt.best
        params = toy_space.defaults()
        opt.tell(params, float("nan"))  # a diverged trial counts as the worst
        opt.tell({**params, "a": 3}, 0.5)
        opt.tell({**params, "a": 4}, 0.25)
        assert opt.best == ({**params, "a": 4}, 0.25)
        assert [v for _, v in opt.history][1:] == [0.5, 0.25]
        assert math.isnan(opt.history[0][1])
        assert len(opt.ask(2)) == 2
        with pytest.raises(ConfigError, match="not one of"):
            opt.tell({**params, "a": 9}, 1.0)
        with pytest.raises(ConfigError, match="no value for"):
            opt.tell({"a": 1}, 1.0)
        with pytest.raises(TypeError, match="value must be a number"):
            opt.tell(params, "low")
        with pytest.raises(ValueError, match="positive int"):
            opt.ask(0)


def _evaluations_to_optimum(opt: AskTellOptimizer, budget: int, k: int) -> int:
    while len(opt.history) < budget:
        for params in opt.ask(k):
            value = toy_objective(params)
            opt.tell(params, value)
            if value == TOY_OPTIMUM:
                return len(opt.history)
    return budget + 1


def test_qubo_finds_the_optimum_faster_than_random(toy_space: SearchSpace, solver: Any) -> None:
    seeds = range(4)
    qubo = [_evaluations_to_optimum(QuboOptimizer(toy_space, solver, s), 100, 4) for s in seeds]
    rand = [_evaluations_to_optimum(RandomSearch(toy_space, s), 200, 4) for s in seeds]
    assert np.mean(qubo) < 0.5 * np.mean(rand), (qubo, rand)
    assert max(qubo) <= 60, qubo


def test_qubo_metadata_and_fix_shrinks_the_bqm(toy_space: SearchSpace, solver: Any) -> None:
    opt = QuboOptimizer(toy_space, solver=solver, seed=0, num_reads=16)
    assert opt.n_initial == 5
    first = opt.ask_proposals(5)
    assert [p.metadata["source"] for p in first] == ["initial_design"] * 5
    assert first[0].params == toy_space.defaults()
    for p in first:
        opt.tell(p.params, toy_objective(p.params))
    later = opt.ask_proposals(2)
    meta = later[0].metadata
    assert set(meta) == {
        "proposer",
        "solver",
        "solve_seconds",
        "fit_seconds",
        "energy",
        "fallback",
        "fallback_reasons",
        "surrogate",
        "n_bits",
        "source",
        "repeat",
        "region",
    }
    assert meta["source"] == "qubo" and meta["proposer"] == "qubo" and meta["surrogate"] == "fm"
    assert meta["n_bits"] == opt.encoding.n_bits == 4 + 4 + 4 + 1
    assert meta["fallback"] is False and meta["fallback_reasons"] == []
    assert isinstance(meta["energy"], float) and meta["solve_seconds"] >= 0
    opt.fix({"c": "z"})
    assert opt.ask_proposals(1)[0].metadata["n_bits"] == 4 + 4 + 1


def test_solver_info_reaches_metadata(toy_space: SearchSpace) -> None:
    from dwave.samplers import SimulatedAnnealingSampler

    class Reporting:
        def sample(self, bqm: Any, num_reads: int, seed: int) -> Any:
            sampleset = SimulatedAnnealingSampler().sample(bqm, num_reads=num_reads, seed=seed)
            sampleset.info.update(
                solver="sa",
                solve_seconds=0.5,
                fallback=[{"solver": "azure", "reason": "quota exceeded"}],
            )
            return sampleset

    opt = QuboOptimizer(toy_space, solver=Reporting(), seed=0, n_initial=2)
    for params in opt.ask(2):
        opt.tell(params, toy_objective(params))
    meta = opt.ask_proposals(1)[0].metadata  # one solver call per pass, their times summed
    assert meta["solver"] == "sa" and meta["solve_seconds"] % 0.5 == 0 and meta["fallback"] is True
    assert meta["fallback_reasons"] == [{"solver": "azure", "reason": "quota exceeded"}]


def test_qubo_arguments_are_validated(toy_space: SearchSpace) -> None:
    with pytest.raises(
        ConfigError,
        match=r"needs 13 binary variables, more than quantum"
        r"\.qubo_size_limit=8",
    ):
        QuboOptimizer(toy_space, qubo_size_limit=8)
    with pytest.raises(ValueError, match="unknown surrogate"):
        QuboOptimizer(toy_space, surrogate="gp")
    with pytest.raises(ValueError, match="bad options"):
        QuboOptimizer(toy_space, surrogate_options={"depth": 2})
    with pytest.raises(ValueError, match="num_reads"):
        QuboOptimizer(toy_space, num_reads=0)
    with pytest.raises(ConfigError, match="unknown solver 'dwave': choose from exact, sa"):
        QuboOptimizer(toy_space, solver=["dwave"])
    with pytest.raises(TypeError, match="SearchSpace"):
        QuboOptimizer({"a": [1, 2]})


@pytest.mark.parametrize("cls", [QuboOptimizer, RandomSearch, TPESearch])
def test_allow_repeats_keeps_one_ask_distinct(cls: type, toy_space: SearchSpace) -> None:
    opt = cls(toy_space, seed=1, allow_repeats=True)
    told = set()
    for _ in range(4):
        proposals = opt.ask_proposals(4)
        assert len({_key(p.params) for p in proposals}) == 4
        for p in proposals:
            assert p.metadata["repeat"] == (_key(p.params) in told)
            told.add(_key(p.params))
            opt.tell(p.params, toy_objective(p.params))


@pytest.mark.parametrize("cls", [RandomSearch, TPESearch])
def test_queued_default_comes_first_then_the_search(cls) -> None:
    space = SearchSpace.from_dict({"lr": [1e-4, 1e-3, 1e-2], "r": [8, 16, 32]})
    optimizer = cls(space, seed=3, queue_default=True)
    first = optimizer.ask_proposals(2)
    assert first[0].params == space.defaults() and first[0].metadata["source"] == "default"
    assert first[1].params != space.defaults()
    optimizer.tell(first[0].params, 1.0)
    optimizer.tell(first[1].params, 2.0)
    later = optimizer.ask_proposals(2)
    assert all(p.metadata["source"] != "default" for p in later)
    assert space.defaults() not in [p.params for p in later]
