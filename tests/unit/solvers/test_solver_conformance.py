"""The conformance suite every registered qtrain solver passes (dimod.testing style)."""

from __future__ import annotations

import dimod
import numpy as np
import pytest
from dimod.testing import assert_sampler_api, assert_sampleset_energies
from qubo_cases import random_bqm

from qtrain.errors import ConfigError
from qtrain.solvers import SolverSizeError, available_solvers, make_sampler
from qtrain.solvers._statevector import basis_energies

# Extra constructor options a solver needs to run offline in tests (e.g. a fake endpoint).
TEST_OPTIONS: dict[str, dict] = {}


# Solvers that need a service run this suite against a local fake (tests/unit/solvers/azure).
REMOTE_SOLVERS = {"azure"}


@pytest.fixture(params=[name for name in available_solvers() if name not in REMOTE_SOLVERS])
def name(request: pytest.FixtureRequest) -> str:
    """Every registered solver name that runs without a service."""
    return request.param


def sampler_for(name: str, **options: object) -> dimod.Sampler:
    """A fresh sampler for ``name`` with the test options."""
    return make_sampler(name, **{**TEST_OPTIONS.get(name, {}), **options})


class TestSolverConformance:
    """API, determinism, validity, optimality and parameter strictness of every solver."""

    def test_sampler_api(self, name: str) -> None:
        sampler = sampler_for(name)
        assert_sampler_api(sampler)
        assert {"num_reads", "seed"} <= set(sampler.parameters)
        assert "max_variables" in sampler.properties

    def test_same_seed_same_samples(self, name: str) -> None:
        bqm = random_bqm(7, seed=3)
        first = sampler_for(name).sample(bqm, num_reads=20, seed=11)
        again = sampler_for(name).sample(bqm, num_reads=20, seed=11)
        assert np.array_equal(first.record.sample, again.record.sample)
        assert np.array_equal(first.record.num_occurrences, again.record.num_occurrences)
        assert first.variables == again.variables

    @pytest.mark.parametrize("vartype", ["BINARY", "SPIN"])
    def test_samples_valid_and_energies_correct(self, name: str, vartype: str) -> None:
        bqm = random_bqm(6, seed=5, vartype=vartype)
        sampleset = sampler_for(name).sample(bqm, num_reads=10, seed=1)
        assert len(sampleset) >= 1
        assert sampleset.vartype is bqm.vartype
        assert set(sampleset.variables) == set(bqm.variables)
        assert set(np.unique(sampleset.record.sample)) <= set(bqm.vartype.value)
        assert_sampleset_energies(sampleset, bqm)

    def test_sample_qubo_and_ising(self, name: str) -> None:
        sampler = sampler_for(name)
        qubo = sampler.sample_qubo({(0, 0): -1.0, (1, 1): -1.0, (0, 1): 3.0}, seed=0)
        assert qubo.first.energy == pytest.approx(-1.0)
        ising = sampler.sample_ising({"a": 1.0}, {("a", "b"): -1.0}, seed=0)
        assert ising.first.energy == pytest.approx(-2.0)

    @pytest.mark.parametrize(("n", "seed"), [(6, 0), (7, 5), (8, 1), (10, 2)])
    def test_best_sample_on_random_qubos(self, name: str, n: int, seed: int) -> None:
        """exact/sa/tabu return the ground state; qaoa-sim samples it for n <= 8.

        qaoa-sim (p=2, 200 reads): over 100 seeded instances (n=6..10, these generators) the
        ground state was always sampled; its probability was at least 5.4% for n <= 8 (a miss
        in 200 reads: < 1e-4) but only 1.7% at n = 10 (a miss: ~3%). So at n = 10 the test
        asserts the weaker property that held with a wide margin: the best sample is among
        the lowest 5% of the 2^n states and the expected energy is below the spectrum's mean
        (what a uniformly random guess gets; measured at least 1.27 std below).
        """
        bqm = random_bqm(n, seed)
        spectrum = basis_energies(bqm, list(bqm.variables))
        ground = spectrum.min()
        sampleset = sampler_for(name).sample(bqm, num_reads=200 if name == "qaoa-sim" else 10)
        best = sampleset.first.energy
        if name == "qaoa-sim" and n > 8:
            assert np.sum(spectrum < best - 1e-9) <= 0.05 * spectrum.size
            assert sampleset.info["expected_energy"] < spectrum.mean() - spectrum.std()
        else:
            assert best == pytest.approx(ground, abs=1e-9)

    def test_empty_problem_gives_one_empty_sample(self, name: str) -> None:
        bqm = dimod.BinaryQuadraticModel({}, {}, 1.5, "BINARY")
        sampleset = sampler_for(name).sample(bqm, seed=0)
        assert len(sampleset) == 1
        assert sampleset.first.energy == 1.5

    def test_unknown_parameter_is_rejected(self, name: str) -> None:
        with pytest.raises(ConfigError, match=rf"{name}.*'num_readz'.*did you mean 'num_reads'"):
            sampler_for(name).sample(random_bqm(3, seed=0), num_readz=5)

    def test_bad_num_reads_is_rejected(self, name: str) -> None:
        with pytest.raises(ConfigError, match="num_reads"):
            sampler_for(name).sample(random_bqm(3, seed=0), num_reads=0)

    def test_max_variables_limit(self, name: str) -> None:
        sampler = sampler_for(name, max_variables=4)
        assert sampler.properties["max_variables"] == 4
        sampler.sample(random_bqm(4, seed=0), seed=0)
        with pytest.raises(SolverSizeError, match=rf"{name}.*at most 4 variables"):
            sampler.sample(random_bqm(5, seed=0), seed=0)


@pytest.mark.parametrize("name", ["exact", "qaoa-sim"])
def test_enumerating_solvers_refuse_more_than_20_variables(name: str) -> None:
    sampler = make_sampler(name)
    assert sampler.properties["max_variables"] == 20
    with pytest.raises(SolverSizeError, match="at most 20"):
        sampler.sample(random_bqm(21, seed=0, density=0.1))


def test_bad_max_variables_option() -> None:
    with pytest.raises(ConfigError, match="max_variables"):
        make_sampler("exact", max_variables=0)


def test_exact_num_reads_keeps_lowest_states() -> None:
    bqm = random_bqm(6, seed=2)
    everything = make_sampler("exact").sample(bqm)
    best = make_sampler("exact").sample(bqm, num_reads=3)
    assert len(everything) == 64
    assert list(best.record.energy) == sorted(everything.record.energy)[:3]
