"""FallbackComposite, TimeLimitComposite, TrackingComposite, build_solver and the registry."""

from __future__ import annotations

import abc
import threading
from collections.abc import Iterator
from typing import Any

import dimod
import numpy as np
import pytest
from dimod.testing import assert_composite_api, assert_sampler_api
from qubo_cases import random_bqm

from qtrain.errors import ConfigError
from qtrain.solvers import (
    FallbackComposite,
    SolverError,
    SolverTimeoutError,
    TimeLimitComposite,
    TrackingComposite,
    available_solvers,
    build_solver,
    make_sampler,
    register_solver,
    unregister_solver,
)


class _TestSampler(dimod.Sampler):
    """A stand-in child: accepts num_reads/seed and counts its calls."""

    name = "fake"

    def __init__(self) -> None:
        self.calls = 0

    @property
    def parameters(self) -> dict[str, list]:
        return {"num_reads": [], "seed": []}

    @property
    def properties(self) -> dict[str, Any]:
        return {}

    def sample(self, bqm: dimod.BinaryQuadraticModel, **parameters: Any) -> dimod.SampleSet:
        self.calls += 1
        return self._answer(bqm)

    @abc.abstractmethod
    def _answer(self, bqm: dimod.BinaryQuadraticModel) -> dimod.SampleSet:
        """The canned answer of this test sampler."""


class Broken(_TestSampler):
    """Raises like a failing remote service."""

    def _answer(self, bqm: dimod.BinaryQuadraticModel) -> dimod.SampleSet:
        raise RuntimeError("quota exceeded\nsecond line of detail")


class Empty(_TestSampler):
    """Returns a sample set without samples."""

    def _answer(self, bqm: dimod.BinaryQuadraticModel) -> dimod.SampleSet:
        samples = np.empty((0, bqm.num_variables), dtype=np.int8)
        return dimod.SampleSet.from_samples_bqm((samples, list(bqm.variables)), bqm)


class Sleeper(_TestSampler):
    """Blocks until released (or 10 s), far past the composite's timeout."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def _answer(self, bqm: dimod.BinaryQuadraticModel) -> dimod.SampleSet:
        self.release.wait(10)
        return dimod.SampleSet.from_samples_bqm([dict.fromkeys(bqm.variables, 0)], bqm)


@pytest.fixture
def sleeper() -> Iterator[Sleeper]:
    """A Sleeper whose worker thread is released when the test ends."""
    sampler = Sleeper()
    yield sampler
    sampler.release.set()


BQM = random_bqm(6, seed=4)
GROUND = dimod.ExactSolver().sample(BQM).first.energy


@pytest.mark.parametrize(
    ("first", "reason"),
    [
        (Broken(), "RuntimeError: quota exceeded"),
        (Empty(), "SolverError: returned no samples"),
        (make_sampler("exact", max_variables=3), "SolverSizeError: solver 'exact' accepts at most"),
    ],
    ids=["raises", "empty", "too-large"],
)
def test_next_solver_answers_when_first_fails(first: dimod.Sampler, reason: str) -> None:
    chain = TrackingComposite(FallbackComposite([("first", first), ("sa", make_sampler("sa"))]))
    sampleset = chain.sample(BQM, num_reads=5, seed=0)
    assert sampleset.info["solver"] == "sa"
    [failure] = sampleset.info["fallback"]
    assert failure["solver"] == "first"
    assert failure["reason"].startswith(reason)
    assert "\n" not in failure["reason"]
    assert sampleset.first.energy == pytest.approx(GROUND)
    assert sampleset.info["solve_seconds"] > 0


def test_timeout_moves_on(sleeper: Sleeper) -> None:
    # The next child is exact on 6 variables (milliseconds), so 1 s is ample even under load.
    children = [("slow", sleeper), ("exact", make_sampler("exact"))]
    chain = TrackingComposite(
        FallbackComposite([(name, TimeLimitComposite(child, 1)) for name, child in children])
    )
    sampleset = chain.sample(BQM, seed=0)
    assert sampleset.info["solver"] == "exact"
    assert sampleset.info["fallback"] == [
        {"solver": "slow", "reason": "SolverTimeoutError: no answer within timeout_s=1 s"}
    ]
    assert sampleset.info["solve_seconds"] < 5


def test_all_failing_lists_every_reason(sleeper: Sleeper) -> None:
    children = [("a", Broken()), ("b", Empty()), ("c", sleeper)]
    chain = FallbackComposite([(name, TimeLimitComposite(child, 0.1)) for name, child in children])
    with pytest.raises(SolverError) as caught:
        chain.sample(BQM)
    message = str(caught.value)
    assert "\n" not in message
    for part in ("a: RuntimeError: quota", "b: SolverError: returned no samples", "c: Solver"):
        assert part in message


def test_time_limit_alone_raises_timeout_and_passes_answers_through(sleeper: Sleeper) -> None:
    limited = TimeLimitComposite(sleeper, 0.05)
    assert_sampler_api(limited)
    assert_composite_api(limited)
    assert limited.parameters == sleeper.parameters
    assert limited.properties["timeout_s"] == 0.05
    with pytest.raises(SolverTimeoutError, match=r"^no answer within timeout_s=0\.05 s$"):
        limited.sample(BQM)
    sampleset = TimeLimitComposite(make_sampler("exact"), 30).sample(BQM, seed=0)
    assert sampleset.first.energy == pytest.approx(GROUND)
    assert "solver" not in sampleset.info  # tracking is another composite's job


def test_time_limit_reraises_the_childs_error_and_validates_timeout() -> None:
    with pytest.raises(RuntimeError, match="quota exceeded"):
        TimeLimitComposite(Broken(), 5).sample(BQM)
    with pytest.raises(ConfigError, match="'tabu'.*'timeot'"):
        TimeLimitComposite(make_sampler("tabu"), 5).sample(BQM, timeot=5)
    for bad in (0, -1.0, None):
        with pytest.raises(ConfigError, match="timeout_s must be a positive number"):
            TimeLimitComposite(make_sampler("sa"), bad)


def test_build_solver_stacks_one_concern_per_composite() -> None:
    solver = build_solver("tabu,sa", timeout_s=10)
    assert isinstance(solver, TrackingComposite)
    [fallback] = solver.children
    assert isinstance(fallback, FallbackComposite)
    assert all(isinstance(child, TimeLimitComposite) for child in fallback.children)
    assert solver.properties["child_properties"]["tabu"]["timeout_s"] == 10
    untimed = build_solver("tabu,sa").child
    assert not any(isinstance(child, TimeLimitComposite) for child in untimed.children)


def test_parameters_are_filtered_per_child() -> None:
    broken = Broken()
    chain = FallbackComposite([("broken", broken), ("sa", make_sampler("sa"))])
    # num_sweeps is SA's only: the Broken child (which takes num_reads/seed) never sees it.
    sampleset = chain.sample(BQM, num_reads=3, seed=1, num_sweeps=50)
    assert sampleset.info["solver"] == "sa"
    assert sum(sampleset.record.num_occurrences) == 3
    assert broken.calls == 1


def test_parameter_no_child_accepts_is_rejected_up_front() -> None:
    broken = Broken()
    chain = FallbackComposite([("broken", broken), ("sa", make_sampler("sa"))])
    with pytest.raises(ConfigError, match=r"'broken,sa'.*'num_sweep'.*did you mean 'num_sweeps'"):
        chain.sample(BQM, num_sweep=10)
    assert broken.calls == 0


def test_composite_api_and_validation() -> None:
    chain = build_solver(["tabu", "sa"])
    assert_sampler_api(chain)
    assert_composite_api(chain)
    assert chain.properties["chain"] == ["tabu", "sa"]
    with pytest.raises(ConfigError, match="twice"):
        build_solver("sa,sa")
    with pytest.raises(ConfigError, match="timeout_s"):
        build_solver("sa", timeout_s=0)
    with pytest.raises(ConfigError, match="'exact'.*not in the chain"):
        build_solver("sa", options={"exact": {"max_variables": 5}})
    with pytest.raises(ConfigError, match="at least one"):
        build_solver([])


def test_build_solver_single_name_has_same_info_keys() -> None:
    sampleset = build_solver("sa").sample(BQM, num_reads=4, seed=2)
    assert {"solver", "fallback", "solve_seconds"} <= set(sampleset.info)
    assert sampleset.info["solver"] == "sa"
    assert sampleset.info["fallback"] == []


def test_build_solver_options_reach_the_solver() -> None:
    chain = build_solver("exact,sa", options={"exact": {"max_variables": 4}})
    sampleset = chain.sample(BQM, seed=0)
    assert sampleset.info["solver"] == "sa"
    assert "at most 4 variables" in sampleset.info["fallback"][0]["reason"]


def test_tracking_composite_records_solver_and_time() -> None:
    tracked = TrackingComposite(make_sampler("tabu"))
    assert_composite_api(tracked)
    sampleset = tracked.sample(BQM, seed=0)
    assert sampleset.info["solver"] == "tabu"
    assert sampleset.info["solve_seconds"] > 0
    with pytest.raises(ConfigError, match="'tabu'.*'timeot'"):
        tracked.sample(BQM, timeot=5)


def test_unknown_solver_name_suggests_close_match() -> None:
    with pytest.raises(ConfigError, match=r"'qaoa_sim'.*did you mean 'qaoa-sim'.*exact, sa"):
        make_sampler("qaoa_sim")
    with pytest.raises(ConfigError, match="'sa' does not accept"):
        make_sampler("sa", max_variable=3)


def test_register_solver_plugs_in_without_editing_the_registry() -> None:
    class Fixed(_TestSampler):
        def _answer(self, bqm: dimod.BinaryQuadraticModel) -> dimod.SampleSet:
            return dimod.SampleSet.from_samples_bqm([dict.fromkeys(bqm.variables, 1)], bqm)

    register_solver("plugin", Fixed)
    try:
        assert "plugin" in available_solvers()
        assert isinstance(make_sampler("plugin"), Fixed)
        sampleset = build_solver(["plugin", "sa"]).sample(BQM, seed=0)
        assert sampleset.info["solver"] == "plugin"
        with pytest.raises(ValueError, match="already registered"):
            register_solver("plugin", Broken)
    finally:
        unregister_solver("plugin")
    assert "plugin" not in available_solvers()
    with pytest.raises(ValueError, match="built-in"):
        unregister_solver("sa")


class LeakySas(_TestSampler):
    """Fails with a service message that carries a SAS URL and an account key."""

    def _answer(self, bqm: dimod.BinaryQuadraticModel) -> dimod.SampleSet:
        raise RuntimeError(
            "job failed: output at https://acct.blob.core.windows.net/job-1/out?sv=2024&"
            "sig=TOPSECRETSIG (AccountKey=KEYKEYKEY; Bearer eyJTOKEN)"
        )


def test_fallback_reasons_carry_no_credentials() -> None:
    chain = FallbackComposite([("leaky", LeakySas()), ("sa", make_sampler("sa"))])
    [failure] = chain.sample(BQM, num_reads=5, seed=0).info["fallback"]
    for secret in ("TOPSECRETSIG", "KEYKEYKEY", "eyJTOKEN", "sv=2024"):
        assert secret not in failure["reason"]
    assert "https://acct.blob.core.windows.net/job-1/out" in failure["reason"]
