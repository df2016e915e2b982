import itertools

import numpy as np
import pytest

from qtrain.hpo.surrogates import (
    BayesianQuadraticRegression,
    FactorizationMachine,
    make_surrogate,
)

D = 8
ALL_BITS = np.array(list(itertools.product([0, 1], repeat=D)), dtype=float)


def _quadratic(seed: int) -> np.ndarray:
    """A random sparse quadratic function, evaluated on every bit vector of length D."""
    rng = np.random.default_rng(seed)
    h = rng.normal(size=D)
    J = np.triu(rng.normal(size=(D, D)) * (rng.random((D, D)) < 0.3), 1)
    return ALL_BITS @ h + np.einsum("ni,ij,nj->n", ALL_BITS, J, ALL_BITS)


def _qubo_energies(model: object) -> np.ndarray:
    linear, quadratic, offset = model.qubo()
    out = np.full(len(ALL_BITS), offset)
    for i, h in linear.items():
        out += h * ALL_BITS[:, i]
    for (i, j), q in quadratic.items():
        assert i < j
        out += q * ALL_BITS[:, i] * ALL_BITS[:, j]
    return out


@pytest.mark.parametrize("name", ["fm", "bocs"])
@pytest.mark.parametrize("seed", [0, 1])
def test_fitted_qubo_ground_state_is_the_true_optimum(name: str, seed: int) -> None:
    f = _quadratic(seed)
    rows = np.random.default_rng(seed).choice(len(ALL_BITS), 100, replace=False)
    model = make_surrogate(name, seed=seed).fit(ALL_BITS[rows], f[rows])
    energies = _qubo_energies(model)
    assert int(np.argmin(energies)) == int(np.argmin(f))
    assert np.corrcoef(energies, f)[0, 1] > 0.9
    np.testing.assert_allclose(model.predict(ALL_BITS), energies, atol=1e-8)


@pytest.mark.parametrize("cls", [FactorizationMachine, BayesianQuadraticRegression])
def test_seeded_fits_are_deterministic(cls: type) -> None:
    f = _quadratic(3)
    a = cls(seed=5).fit(ALL_BITS[:40], f[:40]).qubo()
    b = cls(seed=5).fit(ALL_BITS[:40], f[:40]).qubo()
    assert a == b


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="unknown surrogate 'gp'"):
        make_surrogate("gp")
    with pytest.raises(ValueError, match="bad options"):
        make_surrogate("fm", depth=3)
    with pytest.raises(ValueError, match="n_factors"):
        FactorizationMachine(n_factors=0)
    with pytest.raises(ValueError, match="prior"):
        BayesianQuadraticRegression(prior="laplace")
    with pytest.raises(ValueError, match="only 0 and 1"):
        FactorizationMachine().fit(np.array([[0.5, 1.0]]), np.array([1.0]))
    with pytest.raises(RuntimeError, match="fit"):
        FactorizationMachine().qubo()


@pytest.mark.parametrize("name", ["fm", "bocs"])
def test_constant_targets_fit(name: str) -> None:
    model = make_surrogate(name).fit(ALL_BITS[:5], np.ones(5))
    np.testing.assert_allclose(model.predict(ALL_BITS[:5]), 1.0, atol=0.2)
