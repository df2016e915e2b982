"""The Hamming trust region: its distance and penalty, and the QUBO optimizer's local moves."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from support.toy_objective import toy_objective

from qtrain.hpo import QuboOptimizer, SearchSpace
from qtrain.hpo.design import axial_points, cover_levels, maximin
from qtrain.hpo.encoding import Encoding
from qtrain.hpo.space import Parameter
from qtrain.hpo.trust_region import TrustRegion, auto_radius, hamming, move_weight


def test_distance_counts_level_steps_and_one_hot_changes(toy_space: SearchSpace) -> None:
    encoding = Encoding(toy_space)  # a, b: domain wall; c: one-hot; d: one bit
    region = TrustRegion(encoding, (2, 2, 0, 0), radius=3)
    assert region.distance((2, 2, 0, 0)) == 0
    assert region.distance((4, 2, 0, 0)) == 2  # two level steps of a
    assert region.distance((2, 2, 3, 0)) == 2  # c changed: one bit off, one on
    assert region.distance((2, 1, 0, 1)) == 2
    assert region.contains((3, 1, 0, 1)) and not region.contains((4, 0, 0, 0))
    grid = np.array([(2, 2, 0, 0), (4, 2, 0, 0), (0, 0, 1, 1)])
    assert hamming(encoding, grid, (2, 2, 0, 0)).tolist() == [0, 2, 7]


def test_penalty_is_weight_times_bits_moved(toy_space: SearchSpace) -> None:
    encoding = Encoding(toy_space)
    region = TrustRegion(encoding, (1, 3, 2, 1), radius=4)
    bqm = region.penalty(0.7)
    rng = np.random.default_rng(0)
    for _ in range(20):
        bits = rng.integers(0, 2, encoding.n_bits)
        sample = dict(zip(encoding.variables, bits.tolist(), strict=True))
        moved = int(np.abs(bits - region.center_bits).sum())
        assert bqm.energy(sample) == pytest.approx(0.7 * moved)


def test_auto_radius_and_move_weight() -> None:
    assert auto_radius(3) == 2 and auto_radius(10) == 4 and auto_radius(30) == 10
    assert move_weight(({0: 2.0, 1: -1.0}, {(0, 1): 1.0}, 0.0)) == pytest.approx(0.5 * 2.5)
    assert move_weight(({}, {}, 0.0)) == 1.0
    with pytest.raises(ValueError, match="radius"):
        TrustRegion(Encoding(SearchSpace.from_dict({"a": [1, 2]})), (0,), radius=0)


def test_maximin_spreads_and_never_repeats_a_reference() -> None:
    pool = [(0,), (1,), (2,), (3,), (4,)]

    def distance(grid: np.ndarray, row: tuple[int, ...]) -> np.ndarray:
        return np.abs(grid[:, 0] - row[0]).astype(float)

    assert maximin(pool, [(0,)], 2, distance) == [(4,), (2,)]
    assert maximin([(0,)], [(0,)], 3, distance) == []
    assert maximin(pool, [], 0, distance) == []


@pytest.mark.parametrize("seed", range(4))
def test_initial_design_stays_in_the_region_around_the_defaults(
    toy_space: SearchSpace, seed: int
) -> None:
    opt = QuboOptimizer(toy_space, solver="sa", seed=seed, n_initial=6, trust_radius=3)
    design = opt.ask_proposals(5)
    defaults = toy_space.key(toy_space.defaults())
    region = TrustRegion(opt.encoding, defaults, 3)
    assert design[0].params == toy_space.defaults()
    assert all(region.contains(toy_space.key(p.params)) for p in design)
    global_opt = QuboOptimizer(toy_space, solver="sa", seed=seed, n_initial=6, trust_radius=0)
    spread = [toy_space.key(p.params) for p in global_opt.ask_proposals(5)]
    assert max(region.distance(k) for k in spread) > 3  # without it the design jumps further


def test_local_proposals_move_little_from_the_incumbent(toy_space: SearchSpace) -> None:
    opt = QuboOptimizer(toy_space, solver="sa", seed=3, n_initial=4, num_reads=32, trust_radius=2)
    for p in opt.ask(4):
        opt.tell(p, toy_objective(p))
    incumbent = {"a": 0, "b": 0.5, "c": "w", "d": False}  # far from the toy optimum
    opt.recenter(incumbent)
    region = TrustRegion(opt.encoding, toy_space.key(incumbent), 2)
    proposals = opt.ask_proposals(3)
    regions = [p.metadata.get("region") for p in proposals]
    assert regions.count("local") == 2 and regions.count("global") <= 1
    for p in proposals:
        if p.metadata.get("region") == "local":
            assert region.contains(toy_space.key(p.params)), p.params
    keys = [toy_space.key(p.params) for p in proposals]
    assert len(set(keys)) == 3


def test_no_trust_region_keeps_every_proposal_global(toy_space: SearchSpace) -> None:
    opt = QuboOptimizer(toy_space, solver="sa", seed=1, n_initial=4, num_reads=16, trust_radius=0)
    for p in opt.ask(4):
        opt.tell(p, toy_objective(p))
    opt.recenter({"a": 0, "b": 0.5, "c": "w", "d": False})
    assert {p.metadata.get("region") for p in opt.ask_proposals(3)} <= {"global", None}


def test_trust_radius_validation_and_config(toy_space: SearchSpace) -> None:
    with pytest.raises(ValueError, match="trust_radius"):
        QuboOptimizer(toy_space, solver="sa", trust_radius=-1)
    assert QuboOptimizer(toy_space, solver="sa").trust_radius == auto_radius(
        Encoding(toy_space).n_bits
    )
    assert list(itertools.islice(iter(toy_space), 1))  # the space iterates (sanity)


def test_cover_levels_puts_every_run_level_in_the_design() -> None:
    def distance(grid: np.ndarray, row: tuple[int, ...]) -> np.ndarray:
        return np.abs(grid - np.array(row)).sum(axis=1).astype(float)

    pool = [(a, r) for a in range(5) for r in range(3)]
    chosen = [(2, 0), (4, 0), (0, 0), (3, 1)]
    covered = cover_levels(chosen, pool, {1: 3}, keep=1, distance=distance)
    assert covered[0] == (2, 0) and {k[1] for k in covered} == {0, 1, 2}
    assert covered[3] == (3, 1)  # the only point of level 1 stays
    assert cover_levels([(2, 0)], pool, {1: 3}, keep=1, distance=distance) == [(2, 0)]  # no room


@pytest.mark.parametrize("seed", range(3))
def test_cycle_one_tries_every_lora_shape(seed: int) -> None:
    space = SearchSpace(
        [
            Parameter("lr", (1e-4, 3e-4, 1e-3, 3e-3, 1e-2), default=3e-4),
            Parameter("sched", ("constant", "linear", "cosine"), default="linear"),
            Parameter("r", (8, 16, 32), default=16, scope="run"),
        ]
    )
    opt = QuboOptimizer(space, solver="sa", seed=seed, n_initial=5)
    design = opt.ask(4)
    assert {p["r"] for p in design} == {8, 16, 32} and design[0] == space.defaults()


LR = [2e-5, 6e-5, 2e-4, 6e-4, 2e-3, 6e-3, 2e-2]


def _lora_space() -> SearchSpace:
    """The benchmark's space: a learning-rate ladder, a schedule, a run-scoped LoRA rank."""
    return SearchSpace(
        [
            Parameter("lr", LR, default=2e-4),
            Parameter("sched", ["constant", "linear", "cosine"], default="linear"),
            Parameter("r", [8, 16], default=16, scope="run"),
        ]
    )


def test_star_points_move_one_parameter_to_each_end_of_the_region() -> None:
    space = _lora_space()
    region = TrustRegion(Encoding(space), (2, 1, 1), radius=2)
    star = axial_points(space, (2, 1, 1), region.contains, np.random.default_rng(0))
    assert set(star[:2]) == {(0, 1, 1), (4, 1, 1)}  # lr to both ends in the region first
    assert set(star[2:]) == {(2, 0, 1), (2, 2, 1)}  # then each other schedule; r left alone
    unseen = axial_points(space, (2, 1, 1), lambda k: k != (4, 1, 1), np.random.default_rng(0))
    assert (6, 1, 1) in unseen and (0, 1, 1) in unseen  # the farthest admissible level


@pytest.mark.parametrize("seed", range(6))
def test_cycle_one_tries_both_ends_of_the_learning_rate_and_every_lora_shape(seed: int) -> None:
    opt = QuboOptimizer(_lora_space(), solver="sa", seed=seed, n_initial=2)
    design = [(p.params["lr"], p.params["r"]) for p in opt.ask_proposals(4)]
    assert design[0] == (2e-4, 16)  # the defaults
    assert {lr for lr, _ in design} >= {2e-5, 2e-3}  # as far as half the trust radius goes
    assert {r for _, r in design} == {8, 16}
