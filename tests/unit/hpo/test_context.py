"""Context bits: the surrogate learns when a configuration ran, the QUBO fixes the next's."""

from __future__ import annotations

import numpy as np
import pytest

from qtrain.hpo import QuboOptimizer, SearchSpace
from qtrain.hpo.context import FixedForm, condition


def test_conditioning_matches_the_full_form_at_that_context() -> None:
    rng = np.random.default_rng(0)
    n_bits, n_ctx = 5, 3
    d = n_bits + n_ctx
    linear = {i: float(rng.normal()) for i in range(d)}
    quadratic = {(i, j): float(rng.normal()) for i in range(d) for j in range(i + 1, d)}
    full = FixedForm((linear, quadratic, 0.3))
    for _ in range(10):
        x = rng.integers(0, 2, n_bits)
        ctx = rng.integers(0, 2, n_ctx)
        conditioned = FixedForm(condition(full.qubo(), n_bits, ctx.tolist()))
        assert max(conditioned.qubo()[0]) < n_bits
        assert all(j < n_bits for _, j in conditioned.qubo()[1])
        expected = full.predict(np.concatenate([x, ctx])[None, :])[0]
        assert conditioned.predict(x[None, :])[0] == pytest.approx(expected)


def test_the_best_configuration_can_depend_on_the_context() -> None:
    """Bold settings win early (context 0), careful ones late (context 1): asked in each
    context, the optimizer proposes the setting that wins there."""
    space = SearchSpace.from_dict({"lr": [1, 2, 3, 4, 5], "flag": [True, False]})
    opt = QuboOptimizer(space, solver="exact", seed=0, n_initial=1, trust_radius=0)
    for early in (0, 1):
        for lr in (1, 2, 3, 4, 5):
            for flag in (True, False):
                target = 5 if early else 1
                value = abs(lr - target) + 0.1 * flag
                opt.tell({"lr": lr, "flag": flag}, value, context=(early,))
    opt.allow_repeats = True
    opt.set_context((1,))
    late = opt.ask_proposals(1)[0].params
    opt.set_context((0,))
    early = opt.ask_proposals(1)[0].params
    assert late["lr"] == 5 and early["lr"] == 1
