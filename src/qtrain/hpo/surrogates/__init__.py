"""Surrogate models whose fitted form is a QUBO, by name: ``fm`` and ``bocs``."""

from __future__ import annotations

from typing import Any

from qtrain.hpo.surrogates.base import QuadraticForm, Surrogate
from qtrain.hpo.surrogates.bocs import BayesianQuadraticRegression
from qtrain.hpo.surrogates.fm import FactorizationMachine

__all__ = [
    "SURROGATES",
    "BayesianQuadraticRegression",
    "FactorizationMachine",
    "QuadraticForm",
    "Surrogate",
    "make_surrogate",
]

#: Surrogate classes by name.
SURROGATES: dict[str, type[Surrogate]] = {
    "fm": FactorizationMachine,
    "bocs": BayesianQuadraticRegression,
}


def make_surrogate(name: str, seed: int = 0, **options: Any) -> Surrogate:
    """A new surrogate of the named kind; unknown names or options raise ``ValueError``."""
    if name not in SURROGATES:
        raise ValueError(f"unknown surrogate {name!r}; choose from {', '.join(SURROGATES)}")
    try:
        return SURROGATES[name](seed=seed, **options)
    except TypeError as err:
        raise ValueError(f"bad options for surrogate {name!r}: {err}") from None
