"""The ``quantum`` section: how the next hyperparameters are proposed.

Solver and proposer names are checked against :mod:`qtrain.names` (the built-ins, solvers
added with ``register_solver`` and the ``qtrain.solvers`` entry points) without importing
any solver.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from qtrain import names
from qtrain.config.azure_quantum import AzureQuantumConfig


def _check_name(kind: str, name: str, choices: Iterable[str]) -> str:
    """Return ``name`` if it is one of ``choices``, else raise a one-line ``ValueError``."""
    choices = list(choices)
    if name in choices:
        return name
    close = difflib.get_close_matches(name, choices, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ValueError(f"unknown {kind} {name!r}{hint}; choose from {', '.join(choices)}")


class QuantumConfig(BaseModel):
    """How the next hyperparameters are proposed (the QUBO optimizer or a baseline)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    solver_type: str = Field(
        "fixed",
        description="A QUBO solver (sa, tabu, exact, qaoa-sim, azure, or one a plug-in "
        "registers) drives the QUBO optimizer; fixed, random and optuna-tpe are baselines",
        json_schema_extra={"examples": [*names.BASELINE_PROPOSERS, *names.BUILTIN_SOLVERS]},
    )
    surrogate: Literal["fm", "bocs"] = Field(
        "fm",
        description="fm = factorization machine (FMQA); bocs = Bayesian quadratic "
        "regression with Thompson sampling",
    )
    fallback: list[str] = Field(
        default_factory=lambda: ["sa"],
        description="Solvers tried in order when solver_type fails, times out or is too small",
        json_schema_extra={
            "items": {"type": "string", "examples": list(names.BUILTIN_SOLVERS)},
            "examples": [["sa"], ["tabu", "sa"]],
        },
    )
    optimization_frequency: int = Field(1, ge=1, description="Re-optimize every N cycles")
    qubo_size_limit: int = Field(256, ge=2)
    num_reads: int = Field(64, ge=1)
    timeout_s: float | None = Field(60.0, gt=0)
    initial_design: int | None = Field(
        None, ge=1, description="Results needed before the surrogate is used (default: auto)"
    )
    encoding: Literal["auto", "onehot", "domain_wall"] = "auto"
    trust_radius: int | None = Field(
        None,
        ge=0,
        description="Local moves: the initial design and half of each cycle's QUBO proposals "
        "stay within this many bits of the incumbent's settings (the defaults before one); "
        "null: a third of the QUBO's bits, at least 2; 0: every proposal global",
    )
    default_lineage: bool = Field(
        False,
        description="Keep the search space's defaults training from their own checkpoint "
        "every cycle (in-process only): a proposal that collapses is dropped as soon as the "
        "default's lineage passes it",
    )
    exploit_incumbent: bool = Field(
        True, description="With >= 2 trials per cycle, one repeats the incumbent's settings"
    )
    solver_options: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Per-solver constructor options, e.g. {qaoa-sim: {max_variables: 16}}",
    )
    azure: AzureQuantumConfig = Field(
        default_factory=AzureQuantumConfig,
        description="The azure solver: workspace, target, shots, QAOA layers, time limits",
    )
    seed: int = 0

    @field_validator("solver_type")
    @classmethod
    def _known_proposer(cls, name: str) -> str:
        return _check_name("solver or proposer", name, names.proposer_names())

    @field_validator("fallback")
    @classmethod
    def _known_solvers(cls, chain: list[str]) -> list[str]:
        for name in chain:
            _check_name("solver", name, names.solver_names())
        return chain
