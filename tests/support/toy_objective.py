"""A synthetic black box for the optimizer tests (over the hpo tests' ``toy_space``)."""

from __future__ import annotations

from typing import Any

_TABLE = {"x": 0.3, "y": -0.5, "z": 0.2, "w": 0.8}


def toy_objective(p: dict[str, Any]) -> float:
    """A quadratic black box over ``toy_space`` with interactions; optimum -0.5."""
    a, b = p["a"], round(p["b"] * 10) - 1
    return (
        0.3 * (a - 3) ** 2
        + 0.4 * (b - 1) ** 2
        + _TABLE[p["c"]]
        + (0.8 if p["d"] and p["c"] == "y" else 0.0)
        - 0.3 * p["d"]
        + 0.2 * (a == 4) * (b == 1)
    )


TOY_OPTIMUM = -0.5
