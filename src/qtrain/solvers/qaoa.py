"""``qaoa-sim``: QAOA simulated locally on a NumPy statevector (no quantum SDK needed)."""

from __future__ import annotations

from typing import Any, ClassVar

import dimod
import numpy as np

from qtrain.errors import ConfigError
from qtrain.solvers._statevector import (
    basis_energies,
    bits_of,
    expected_cost,
    probabilities,
    qaoa_state,
)
from qtrain.solvers.base import QtrainSampler, with_defaults

# Linear-ramp warm starts (annealing-like schedules), one per restart, in this order. With the
# cost normalised to unit spread and |+>^n the top eigenstate of sum X, gamma > 0 pairs with
# beta < 0 (checked numerically); ramp widths cover short and long "anneals".
_RAMP_WIDTHS = (0.75, 1.5, 0.4, 2.5, 1.0)


def _ramp(layers: int, width: float) -> np.ndarray:
    """Linear-ramp angles ``[gamma_1..gamma_p, beta_1..beta_p]`` of total ``width``."""
    steps = (np.arange(layers) + 0.5) / layers
    return np.concatenate([width * steps, -width * (1.0 - steps)])


class QaoaSimSampler(QtrainSampler):
    """QAOA with ``layers`` rounds of phase ``exp(-i gamma E)`` and mixer ``RX(2 beta)``.

    The whole diagonal cost (2^n energies) is computed once; (gamma, beta) are optimised with
    COBYLA on the expected energy of the cost normalised to zero mean and unit spread (so
    angles do not depend on the QUBO's scale), from ``restarts`` deterministic linear-ramp
    warm starts, ``maxiter`` evaluations each. ``num_reads`` bitstrings are then drawn from
    ``|amplitude|^2`` with ``numpy.random.default_rng(seed)`` and aggregated (with
    ``num_occurrences``), lowest energy first. At most 20 variables by default: memory and
    time grow as 2^n (~45 s to optimise at 20 on two busy cores).

    ``info`` holds ``angles`` (``gamma``, ``beta`` lists), ``expected_energy`` (in the BQM's
    units), ``best_probability`` (|amplitude|^2 of the best sampled state),
    ``ground_probability`` (total probability of the minimum-energy states) and
    ``evaluations`` (optimiser calls).
    """

    name: ClassVar[str] = "qaoa-sim"
    default_max_variables: ClassVar[int | None] = 20
    defaults: ClassVar[dict[str, Any]] = {
        "num_reads": 100,
        "layers": 2,
        "maxiter": 100,
        "restarts": 2,
    }

    def _solver_parameters(self) -> dict[str, list[str]]:
        return {"layers": [], "maxiter": [], "restarts": []}

    def _sample(self, bqm: dimod.BinaryQuadraticModel, **parameters: Any) -> dimod.SampleSet:
        params = with_defaults(parameters, self.defaults)
        for key in ("layers", "maxiter", "restarts"):
            value = params[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(
                    f"solver 'qaoa-sim': {key} must be a positive integer, got {value!r}"
                )
        if params["restarts"] > len(_RAMP_WIDTHS):
            raise ConfigError(
                f"solver 'qaoa-sim': restarts must be at most {len(_RAMP_WIDTHS)}, "
                f"got {params['restarts']}"
            )
        order = list(bqm.variables)
        energies = basis_energies(bqm, order)
        spread = float(energies.std())
        # Zero mean, unit spread: the same angles work whatever the QUBO's scale and offset.
        cost = (energies - energies.mean()) / (spread if spread > 0 else 1.0)
        angles, evaluations = self._optimise(cost, params)
        layers = params["layers"]
        probs = probabilities(qaoa_state(cost, angles[:layers], angles[layers:]))

        rng = np.random.default_rng(params.get("seed"))
        drawn = rng.choice(probs.size, size=params["num_reads"], p=probs)
        indices, counts = np.unique(drawn, return_counts=True)
        by_energy = np.argsort(energies[indices], kind="stable")
        indices, counts = indices[by_energy], counts[by_energy]
        bits = bits_of(indices, len(order))
        values = bits if bqm.vartype is dimod.BINARY else 2 * bits - 1
        sample_energies = bqm.energies((values, order))
        ground = np.isclose(energies, energies.min(), rtol=1e-9, atol=1e-9)
        info = {
            "angles": {
                "gamma": angles[:layers].tolist(),
                "beta": angles[layers:].tolist(),
            },
            "expected_energy": float(probs @ energies),
            "best_probability": float(probs[indices[0]]),
            "ground_probability": float(probs[ground].sum()),
            "evaluations": evaluations,
        }
        return dimod.SampleSet.from_samples(
            (values, order),
            vartype=bqm.vartype,
            energy=sample_energies,
            num_occurrences=counts,
            info=info,
        )

    @staticmethod
    def _optimise(cost: np.ndarray, params: dict[str, Any]) -> tuple[np.ndarray, int]:
        """The best angles for the normalised ``cost`` over all restarts, and the evaluations."""
        from scipy.optimize import minimize

        layers = params["layers"]

        def objective(x: np.ndarray) -> float:
            return expected_cost(cost, x[:layers], x[layers:])

        best_x, best_value, evaluations = None, np.inf, 0
        for width in _RAMP_WIDTHS[: params["restarts"]]:
            result = minimize(
                objective,
                _ramp(layers, width),
                method="COBYLA",
                options={"maxiter": params["maxiter"], "rhobeg": 0.2},
            )
            evaluations += int(result.nfev)
            if result.fun < best_value:
                best_x, best_value = np.asarray(result.x, dtype=float), float(result.fun)
        return best_x, evaluations
