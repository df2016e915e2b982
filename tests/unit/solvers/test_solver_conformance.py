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


@pytest.fixture(params=available_solvers())
def name(request: pytest.FixtureRequest) -> str:
    """Every registered solver name."""
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

    @pytest.mark.parametrize(("n", "seed"), [(6, 0), (8, 1), (10, 2)])
    def test_best_sample_on_random_qubos(self, name: str, n: int, seed: int) -> None:
        """exact/sa/tabu find the ground state; qaoa-sim lands in the bottom of the spectrum.

        qaoa-sim (p=2) does not reliably sample the ground state: over 100 seeded instances
        (n=6..10, 200 reads) it missed it 10 times, because the optimised state puts under
        0.1% on a ground state that is nearly degenerate with its neighbours. So for it the
        test asserts what does hold on every instance measured: the best sample is among the
        lowest 5% of all 2^n states, and the expected energy is below the spectrum's mean
        (what a uniformly random guess gets).
        """
        bqm = random_bqm(n, seed)
        spectrum = basis_energies(bqm, list(bqm.variables))
        ground = spectrum.min()
        sampleset = sampler_for(name).sample(bqm, num_reads=200 if name == "qaoa-sim" else 10)
        best = sampleset.first.energy
        if name == "qaoa-sim":
            better_states = int(np.sum(spectrum < best - 1e-9))
            assert better_states <= 0.05 * spectrum.size
            assert sampleset.info["expected_energy"] < spectrum.mean()
        else:
            assert best == pytest.approx(ground, abs=1e-9)

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
