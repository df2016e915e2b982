"""``sa`` and ``tabu``: the dwave-samplers heuristics behind qtrain's strict interface."""

from __future__ import annotations

from typing import Any, ClassVar

import dimod

from qtrain.errors import MissingExtraError
from qtrain.solvers.base import QtrainSampler, with_defaults


def _dwave_samplers() -> Any:
    """The ``dwave.samplers`` module, or a one-line error naming the extra to install."""
    try:
        from dwave import samplers
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingExtraError("dwave-samplers", "quantum", "The 'sa' and 'tabu' solvers") from exc
    return samplers


class SimulatedAnnealingSampler(QtrainSampler):
    """``sa``: dwave-samplers simulated annealing; its parameters (num_sweeps, beta_range, ...).

    qtrain's default is ``num_reads=10`` (dwave-samplers': 1).
    """

    name: ClassVar[str] = "sa"
    defaults: ClassVar[dict[str, Any]] = {"num_reads": 10}

    def __init__(self, max_variables: int | None = None) -> None:
        super().__init__(max_variables)
        self._child = _dwave_samplers().SimulatedAnnealingSampler()

    def _solver_parameters(self) -> dict[str, list[str]]:
        return dict(self._child.parameters)

    def _sample(self, bqm: dimod.BinaryQuadraticModel, **parameters: Any) -> dimod.SampleSet:
        return self._child.sample(bqm, **with_defaults(parameters, self.defaults))


class TabuSampler(QtrainSampler):
    """``tabu``: dwave-samplers multistart tabu search; its parameters (timeout in ms, ...).

    qtrain's defaults are ``num_reads=10``, ``num_restarts=1`` and ``timeout=60000`` (ms):
    each read stops after a fixed number of restarts, so the same seed gives the same samples
    (dwave-samplers' own default stops on a 20 ms clock, which is not reproducible; a run that
    ends on ``timeout`` is not either). A restart costs ~15 ms even on tiny problems; raise
    ``num_restarts`` for a longer search on large ones.
    """

    name: ClassVar[str] = "tabu"
    defaults: ClassVar[dict[str, Any]] = {"num_reads": 10, "num_restarts": 1, "timeout": 60_000}

    def __init__(self, max_variables: int | None = None) -> None:
        super().__init__(max_variables)
        self._child = _dwave_samplers().TabuSampler()

    def _solver_parameters(self) -> dict[str, list[str]]:
        return dict(self._child.parameters)

    def _sample(self, bqm: dimod.BinaryQuadraticModel, **parameters: Any) -> dimod.SampleSet:
        return self._child.sample(bqm, **with_defaults(parameters, self.defaults))
