"""QAOA angles for a remote run: optimised locally when small, a fixed ramp when large.

Why: on a remote target every evaluation of the expected energy is a paid, queued job, so a
variational loop against the service is out of the question for a per-cycle proposer. Up to
``local_optimize_max_qubits`` (14 by default: 2^14 amplitudes, well under a second per
optimisation) the angles are optimised exactly as ``qaoa-sim`` does, on the local NumPy
statevector of the normalised cost, and the circuit runs once remotely for its samples.
Above that the local simulation gets expensive (about a minute at 20 qubits on two cores) and
impossible past ~26, so a linear-ramp schedule (an annealing-like warm start, the first of
``qaoa-sim``'s restarts) is used unchanged. Both work on the cost normalised to unit spread,
so the ramp does not depend on the QUBO's scale.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import dimod
import numpy as np

from qtrain.solvers._statevector import basis_energies
from qtrain.solvers.azure.circuit import ising_scale
from qtrain.solvers.qaoa import _RAMP_WIDTHS, QaoaSimSampler, _ramp


def qaoa_angles(
    bqm: dimod.BinaryQuadraticModel,
    order: Sequence[Hashable],
    layers: int,
    local_optimize_max_qubits: int,
) -> tuple[list[float], list[float], str]:
    """``(gammas, betas, method)`` with method ``local-optimised`` or ``linear-ramp``."""
    n = len(order)
    if 0 < n <= local_optimize_max_qubits:
        energies = basis_energies(bqm, order)
        scale = ising_scale(bqm) or 1.0
        # Same normalisation as the circuit: offset (the spectrum's mean) removed, unit spread.
        cost = (energies - energies.mean()) / scale
        params = {"layers": layers, "maxiter": 100, "restarts": 2}
        x, _ = QaoaSimSampler._optimise(cost, params)
        method = "local-optimised"
    else:
        x = _ramp(layers, _RAMP_WIDTHS[0])
        method = "linear-ramp"
    x = np.asarray(x, dtype=float)
    return x[:layers].tolist(), x[layers:].tolist(), method
