"""The base class of qtrain's samplers: strict parameters, a size limit, a solver name."""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import Any, ClassVar

import dimod
import numpy as np

from qtrain.solvers._params import check_max_variables, check_num_reads, check_seed, reject_unknown
from qtrain.solvers.errors import SolverSizeError


class QtrainSampler(dimod.Sampler):
    """A dimod sampler that rejects unknown parameters and problems above ``max_variables``.

    Subclasses set :attr:`name` and :attr:`default_max_variables`, list their own parameters
    in :meth:`_solver_parameters` (``num_reads`` and ``seed`` are added for every solver) and
    implement :meth:`_sample`, which receives only validated parameters.

    Args:
        max_variables: Largest number of variables accepted; None = the solver's default
            (:attr:`default_max_variables`, itself None for no limit).
    """

    name: ClassVar[str] = "qtrain"
    default_max_variables: ClassVar[int | None] = None
    num_reads_may_be_none: ClassVar[bool] = False

    def __init__(self, max_variables: int | None = None) -> None:
        limit = check_max_variables(f"solver {self.name!r}", max_variables)
        self.max_variables: int | None = self.default_max_variables if limit is None else limit

    def _solver_parameters(self) -> dict[str, list[str]]:
        """The solver-specific sample parameters (dimod's ``parameters`` format)."""
        return {}

    @property
    def parameters(self) -> dict[str, list[str]]:
        """Every keyword ``sample`` accepts: ``num_reads``, ``seed`` and the solver's own."""
        return {"num_reads": [], "seed": [], **self._solver_parameters()}

    @property
    def properties(self) -> dict[str, Any]:
        """``solver`` (the registry name) and ``max_variables`` (None = no limit)."""
        return {"solver": self.name, "max_variables": self.max_variables}

    def sample(self, bqm: dimod.BinaryQuadraticModel, **parameters: Any) -> dimod.SampleSet:
        """Sample ``bqm``; unknown parameters raise ``ConfigError``, oversize ``SolverSizeError``.

        Args:
            bqm: The binary quadratic model to minimise.
            **parameters: ``num_reads``, ``seed`` (same seed -> same samples) and the solver's
                own parameters (see :attr:`parameters`).
        """
        owner = f"solver {self.name!r}"
        reject_unknown(owner, parameters, self.parameters)
        if "num_reads" in parameters:
            check_num_reads(owner, parameters["num_reads"], allow_none=self.num_reads_may_be_none)
        check_seed(owner, parameters.get("seed"))
        self.check_size(bqm)
        if bqm.num_variables == 0:
            # dimod's ExactSolver and dwave's tabu return no samples here; answer uniformly.
            empty = np.empty((1, 0), dtype=np.int8)
            return dimod.SampleSet.from_samples_bqm((empty, []), bqm)
        return self._sample(bqm, **parameters)

    def check_size(self, bqm: dimod.BinaryQuadraticModel) -> None:
        """Raise :class:`SolverSizeError` if ``bqm`` has more than ``max_variables`` variables."""
        if self.max_variables is not None and bqm.num_variables > self.max_variables:
            raise SolverSizeError(
                f"solver {self.name!r} accepts at most {self.max_variables} variables, "
                f"the problem has {bqm.num_variables}: use 'sa' or 'tabu', or a smaller problem"
            )

    @abc.abstractmethod
    def _sample(self, bqm: dimod.BinaryQuadraticModel, **parameters: Any) -> dimod.SampleSet:
        """Sample ``bqm`` with already validated ``parameters``."""


def with_defaults(parameters: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    """``parameters`` with ``defaults`` filled in where a key is missing."""
    return {**defaults, **parameters}
