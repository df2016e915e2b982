"""``exact``: brute force over every state with dimod's ExactSolver (small problems only)."""

from __future__ import annotations

from typing import Any, ClassVar

import dimod

from qtrain.solvers.base import QtrainSampler


class ExactSampler(QtrainSampler):
    """Every one of the 2^n states, lowest energy first; at most 20 variables by default.

    ``num_reads`` keeps the ``num_reads`` lowest-energy states (None, the default, keeps all);
    ``seed`` is accepted for a uniform interface and ignored: the result is deterministic.
    """

    name: ClassVar[str] = "exact"
    default_max_variables: ClassVar[int | None] = 20
    num_reads_may_be_none: ClassVar[bool] = True

    def _sample(self, bqm: dimod.BinaryQuadraticModel, **parameters: Any) -> dimod.SampleSet:
        sampleset = dimod.ExactSolver().sample(bqm)
        num_reads = parameters.get("num_reads")
        if num_reads is not None:
            return sampleset.truncate(num_reads)
        # ExactSolver enumerates in state order; return lowest energy first like the others.
        return sampleset.truncate(len(sampleset))
