"""A trial's context as extra surrogate inputs, fixed to the next cycle's before solving.

The objective of a configuration depends on when it runs: early cycles start from a weak
checkpoint where a bold learning rate gains most, late ones from a good one where it
hurts. Context bits (which cycle, how far the start checkpoint is from the base model) let
the surrogate learn that. They are inputs of the fit like the configuration's bits; the
QUBO is the fitted form with the context bits set to the next cycle's values, so the solver
only chooses the configuration.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from qtrain.hpo.surrogates.base import QuadraticForm, Surrogate

Context = tuple[int, ...]


def condition(form: QuadraticForm, n_bits: int, context: Sequence[int]) -> QuadraticForm:
    """The form over the first ``n_bits`` inputs with inputs ``n_bits...`` set to ``context``."""
    linear, quadratic, offset = form
    value = {n_bits + c: float(v) for c, v in enumerate(context)}
    out_linear = {i: h for i, h in linear.items() if i < n_bits}
    out_quadratic: dict[tuple[int, int], float] = {}
    offset += sum(h * value[i] for i, h in linear.items() if i >= n_bits)
    for (i, j), q in quadratic.items():
        if i < n_bits and j < n_bits:
            out_quadratic[(i, j)] = q
        elif i < n_bits:
            out_linear[i] = out_linear.get(i, 0.0) + q * value[j]
        elif j < n_bits:
            out_linear[j] = out_linear.get(j, 0.0) + q * value[i]
        else:
            offset += q * value[i] * value[j]
    return out_linear, out_quadratic, float(offset)


class FixedForm(Surrogate):
    """A quadratic form used as a surrogate (e.g. a fitted one conditioned on a context)."""

    name = "form"

    def __init__(self, form: QuadraticForm) -> None:
        self._form = form

    def fit(self, X: np.ndarray, y: np.ndarray) -> FixedForm:
        """A fixed form learns nothing: returns ``self``."""
        return self

    def qubo(self) -> QuadraticForm:
        """The form."""
        return self._form
