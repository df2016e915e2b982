"""Factorization machine surrogate (FMQA: Kitai et al., 2020)."""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize

from qtrain.hpo.surrogates.base import QuadraticForm, Surrogate, check_data, standardize


class FactorizationMachine(Surrogate):
    """``y ≈ w0 + Σ w_i x_i + Σ_{i<j} <v_i, v_j> x_i x_j`` with ``k`` latent factors.

    Fitted by L-BFGS on standardized ``y`` (mean squared error plus a small L2 penalty)
    from a seeded random start: refitting with another seed gives another plausible model,
    which is FMQA's source of exploration.

    Args:
        n_factors: Latent dimension ``k``.
        l2: L2 penalty on ``w`` and ``V``.
        max_iter: L-BFGS iterations.
        init_scale: Standard deviation of the initial factors.
        seed: Seed of the initial factors.
    """

    name = "fm"

    def __init__(
        self,
        n_factors: int = 8,
        l2: float = 1e-3,
        max_iter: int = 300,
        init_scale: float = 0.1,
        seed: int = 0,
    ) -> None:
        if n_factors < 1:
            raise ValueError(f"n_factors must be >= 1, got {n_factors}")
        if l2 < 0 or init_scale < 0:
            raise ValueError("l2 and init_scale must be >= 0")
        if max_iter < 1:
            raise ValueError(f"max_iter must be >= 1, got {max_iter}")
        self.n_factors = n_factors
        self.l2 = l2
        self.max_iter = max_iter
        self.init_scale = init_scale
        self.seed = seed
        self._params: tuple[float, np.ndarray, np.ndarray] | None = None
        self._mean = 0.0
        self._std = 1.0

    def fit(self, X: np.ndarray, y: np.ndarray) -> FactorizationMachine:
        """Fit on ``X`` (``n x d`` of 0/1) and ``y``; returns ``self``."""
        X, y = check_data(X, y)
        ys, self._mean, self._std = standardize(y)
        n, d = X.shape
        k = self.n_factors
        rng = np.random.default_rng(self.seed)
        theta0 = np.concatenate([np.zeros(1 + d), rng.normal(0.0, self.init_scale, d * k)])

        def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
            w0, w, V = theta[0], theta[1 : 1 + d], theta[1 + d :].reshape(d, k)
            XV = X @ V
            # x binary, so x_i^2 = x_i: the self-interaction correction uses X, not X**2
            pred = w0 + X @ w + 0.5 * ((XV**2).sum(1) - X @ (V**2).sum(1))
            r = pred - ys
            value = float(r @ r) / n + self.l2 * (float(w @ w) + float((V**2).sum()))
            g = 2.0 * r / n
            grad_V = X.T @ (g[:, None] * XV) - V * (X.T @ g)[:, None] + 2 * self.l2 * V
            grad = np.concatenate([[g.sum()], X.T @ g + 2 * self.l2 * w, grad_V.ravel()])
            return value, grad

        result = minimize(
            loss, theta0, jac=True, method="L-BFGS-B", options={"maxiter": self.max_iter}
        )
        theta = result.x
        self._params = (float(theta[0]), theta[1 : 1 + d].copy(), theta[1 + d :].reshape(d, k))
        return self

    def qubo(self) -> QuadraticForm:
        """The fitted form in the units of ``y``."""
        if self._params is None:
            raise RuntimeError("fit the factorization machine before asking for its QUBO")
        w0, w, V = self._params
        J = V @ V.T
        d = w.shape[0]
        linear = {i: float(self._std * w[i]) for i in range(d)}
        quadratic = {(i, j): float(self._std * J[i, j]) for i in range(d) for j in range(i + 1, d)}
        return linear, quadratic, float(self._mean + self._std * w0)
