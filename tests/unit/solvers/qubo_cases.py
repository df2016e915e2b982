"""Shared helpers for the solver tests: seeded random QUBOs."""

from __future__ import annotations

import dimod
import numpy as np


def random_bqm(n: int, seed: int, vartype: str = "BINARY", density: float = 0.6) -> dimod.BQM:
    """A seeded dense-ish random BQM with gaussian linear and quadratic biases."""
    rng = np.random.default_rng(seed)
    return dimod.generators.gnp_random_bqm(
        n, density, vartype, random_state=seed, bias_generator=lambda k: rng.normal(size=k)
    )
