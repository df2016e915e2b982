"""Shared fixtures for the hpo tests: small spaces and a synthetic black box."""

from __future__ import annotations

import os

# The surrogates' matrices are tiny: OpenBLAS threads only contend on a busy 2-core machine
# (3-6x slower). This only helps when numpy is first imported after this line; the root
# conftest is the place to set it for the whole suite.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import pytest

from qtrain.hpo.space import SearchSpace


@pytest.fixture
def mixed_space() -> SearchSpace:
    """Ordinal (2, 3 and 4 levels), categorical strings, booleans and list-valued levels."""
    return SearchSpace.from_dict(
        {
            "lr": [1e-4, 3e-4, 1e-3, 3e-3],
            "bs": [8, 16, 32],
            "sched": ["constant", "linear", "cosine"],
            "flag": [True, False],
            "targets": [["q", "v"], ["q", "k", "v", "o"]],
        }
    )


@pytest.fixture
def toy_space() -> SearchSpace:
    """200 configurations: two 5-level ordinals, a 4-level categorical and a boolean."""
    return SearchSpace.from_dict(
        {
            "a": [0, 1, 2, 3, 4],
            "b": [0.1, 0.2, 0.3, 0.4, 0.5],
            "c": ["x", "y", "z", "w"],
            "d": [True, False],
        }
    )


@pytest.fixture
def solver() -> str:
    """The solver chain the QUBO optimizer tests use (through ``qtrain.solvers``)."""
    return "sa"
