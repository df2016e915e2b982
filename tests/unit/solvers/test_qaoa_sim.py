"""qaoa-sim internals: the statevector against a textbook simulation, and its info."""

from __future__ import annotations

import numpy as np
import pytest
from qubo_cases import random_bqm

from qtrain.errors import ConfigError
from qtrain.solvers import make_sampler
from qtrain.solvers._statevector import basis_energies, bits_of, qaoa_state


def _reference_state(cost: np.ndarray, gammas: list[float], betas: list[float]) -> np.ndarray:
    """One qubit at a time in double precision: the obvious, slow QAOA simulation."""
    n = int(np.log2(cost.size))
    state = np.full(cost.size, 1 / np.sqrt(cost.size), dtype=complex)
    for gamma, beta in zip(gammas, betas, strict=True):
        state = state * np.exp(-1j * gamma * cost)
        rx = np.array([[np.cos(beta), -1j * np.sin(beta)], [-1j * np.sin(beta), np.cos(beta)]])
        for k in range(n):
            view = state.reshape(2**k, 2, -1)
            state = np.einsum("ab,ibj->iaj", rx, view).reshape(-1)
    return state


@pytest.mark.parametrize("n", [1, 4, 5, 7, 11])
def test_statevector_matches_reference(n: int) -> None:
    cost = np.random.default_rng(n).normal(size=2**n)
    expected = _reference_state(cost, [0.3, 0.9], [-0.4, 0.2])
    assert np.allclose(qaoa_state(cost, [0.3, 0.9], [-0.4, 0.2]), expected, atol=1e-5)


@pytest.mark.parametrize("vartype", ["BINARY", "SPIN"])
def test_basis_energies_match_bqm(vartype: str) -> None:
    bqm = random_bqm(7, seed=1, vartype=vartype)
    order = list(bqm.variables)
    bits = bits_of(np.arange(2**7), 7)
    values = bits if vartype == "BINARY" else 2 * bits - 1
    assert np.allclose(basis_energies(bqm, order), bqm.energies((values, order)))


def test_info_and_reads() -> None:
    bqm = random_bqm(6, seed=3)
    sampleset = make_sampler("qaoa-sim").sample(bqm, num_reads=50, seed=0, layers=1)
    info = sampleset.info
    assert len(info["angles"]["gamma"]) == len(info["angles"]["beta"]) == 1
    assert 0 < info["best_probability"] <= 1
    assert 0 < info["ground_probability"] <= 1
    assert info["expected_energy"] >= basis_energies(bqm, list(bqm.variables)).min()
    assert sum(sampleset.record.num_occurrences) == 50
    assert list(sampleset.record.energy) == sorted(sampleset.record.energy)


def test_bad_qaoa_parameter_values() -> None:
    with pytest.raises(ConfigError, match="layers"):
        make_sampler("qaoa-sim").sample(random_bqm(3, seed=0), layers=0)
    with pytest.raises(ConfigError, match="restarts"):
        make_sampler("qaoa-sim").sample(random_bqm(3, seed=0), restarts=99)


def test_scale_and_offset_free() -> None:
    """Angles are optimised on the normalised cost, so scaling the QUBO changes nothing."""
    bqm = random_bqm(6, seed=8)
    scaled = bqm.copy()
    scaled.scale(25.0)
    scaled.offset += 7.0
    sampler = make_sampler("qaoa-sim")
    plain, big = sampler.sample(bqm, seed=4), sampler.sample(scaled, seed=4)
    assert np.array_equal(plain.record.sample, big.record.sample)
    for key in ("gamma", "beta"):
        assert plain.info["angles"][key] == pytest.approx(big.info["angles"][key], abs=1e-6)
    assert big.info["expected_energy"] == pytest.approx(25.0 * plain.info["expected_energy"] + 7.0)
