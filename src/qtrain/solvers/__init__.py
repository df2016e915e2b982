"""QUBO solvers behind the dimod ``Sampler`` interface, plus composites (tracking, time limit,
fallback) that wrap them.

    >>> from qtrain.solvers import build_solver
    >>> solver = build_solver(["tabu", "sa"], timeout_s=30)
    >>> sampleset = solver.sample_qubo({(0, 0): -1, (0, 1): 2}, num_reads=5, seed=0)
    >>> sampleset.info["solver"], sampleset.info["fallback"]
    ('tabu', [])

Every sampler rejects unknown parameters with ``ConfigError`` and accepts ``num_reads`` and
``seed`` (same seed -> same samples).
"""

from __future__ import annotations

from qtrain.solvers.base import QtrainSampler
from qtrain.solvers.classical import SimulatedAnnealingSampler, TabuSampler
from qtrain.solvers.composites import FallbackComposite, TimeLimitComposite, TrackingComposite
from qtrain.solvers.errors import SolverError, SolverSizeError, SolverTimeoutError
from qtrain.solvers.exact import ExactSampler
from qtrain.solvers.qaoa import QaoaSimSampler
from qtrain.solvers.registry import (
    SOLVER_NAMES,
    available_solvers,
    build_solver,
    make_sampler,
    register_solver,
    unregister_solver,
)

__all__ = [
    "SOLVER_NAMES",
    "ExactSampler",
    "FallbackComposite",
    "QaoaSimSampler",
    "QtrainSampler",
    "SimulatedAnnealingSampler",
    "SolverError",
    "SolverSizeError",
    "SolverTimeoutError",
    "TabuSampler",
    "TimeLimitComposite",
    "TrackingComposite",
    "available_solvers",
    "build_solver",
    "make_sampler",
    "register_solver",
    "unregister_solver",
]
