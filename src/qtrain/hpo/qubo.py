"""Surrogate + constraint penalties -> one ``dimod.BinaryQuadraticModel``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from qtrain.errors import ConfigError
from qtrain.hpo.encoding import Encoding
from qtrain.hpo.surrogates.base import QuadraticForm, Surrogate

if TYPE_CHECKING:
    import dimod


def check_qubo_size(n_bits: int, qubo_size_limit: int | None) -> None:
    """``ConfigError`` if a QUBO of ``n_bits`` variables exceeds ``qubo_size_limit``."""
    if qubo_size_limit is not None and n_bits > qubo_size_limit:
        raise ConfigError(
            f"the search space needs {n_bits} binary variables, more than "
            f"quantum.qubo_size_limit={qubo_size_limit}: shrink the search space or raise the limit"
        )


def penalty_strengths(form: QuadraticForm, encoding: Encoding, penalty_scale: float) -> list[float]:
    """One penalty weight per parameter group, large enough that ground states are feasible.

    ``M_i = |h_i| + Σ_j |J_ij|`` bounds how much flipping bit ``i`` can change the
    surrogate. A one-hot group weighted above ``max M_i`` always has an improving single
    flip out of infeasibility; a domain-wall group weighted above ``Σ M_i`` can always be
    repaired within the group at a net gain. So ``penalty_scale > 1`` keeps every ground
    state feasible while the weights still track the surrogate's scale.
    """
    linear, quadratic, _ = form
    bound = [abs(linear.get(i, 0.0)) for i in range(encoding.n_bits)]
    for (i, j), q in quadratic.items():
        bound[i] += abs(q)
        bound[j] += abs(q)
    strengths = []
    for group in encoding.groups:
        parts = [bound[i] for i in group.indices] or [0.0]
        total = max(parts) if group.method == "onehot" else sum(parts)
        strengths.append(max(penalty_scale * total, 1e-9))
    return strengths


def build_bqm(
    surrogate: Surrogate | QuadraticForm,
    encoding: Encoding,
    penalty_scale: float = 1.5,
    qubo_size_limit: int | None = None,
) -> dimod.BinaryQuadraticModel:
    """The QUBO a solver minimises: the surrogate's quadratic form plus weighted penalties.

    Args:
        surrogate: A fitted surrogate, or its ``(linear, quadratic, offset)`` form keyed by
            bit index of ``encoding``.
        encoding: How configurations map to the bits (variables are its names).
        penalty_scale: Penalty weight relative to the surrogate's per-bit coefficient
            bound (see :func:`penalty_strengths`); above 1 every ground state is feasible.
        qubo_size_limit: Raise ``ConfigError`` when the encoding needs more bits.
    """
    if not penalty_scale > 0:
        raise ValueError(f"penalty_scale must be > 0, got {penalty_scale}")
    check_qubo_size(encoding.n_bits, qubo_size_limit)
    linear, quadratic, offset = surrogate.qubo() if isinstance(surrogate, Surrogate) else surrogate
    # Two bits of one one-hot group are never both set in a feasible sample: their
    # coefficient is unconstrained by the data and only fights the penalty, so drop it.
    owner = encoding.group_of()
    onehot = {g for g, group in enumerate(encoding.groups) if group.method == "onehot"}
    quadratic = {
        (i, j): q
        for (i, j), q in quadratic.items()
        if i != j and not (owner[i] == owner[j] and owner[i] in onehot)
    }
    form = (dict(linear), quadratic, float(offset))
    names = encoding.variables
    bqm = encoding.constraint_bqm(penalty_strengths(form, encoding, penalty_scale))
    for i, h in form[0].items():
        bqm.add_linear(names[i], h)
    for (i, j), q in quadratic.items():
        bqm.add_quadratic(names[i], names[j], q)
    bqm.offset += form[2]
    return bqm
