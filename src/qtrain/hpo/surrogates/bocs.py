"""Bayesian quadratic regression surrogate (BOCS: Baptista & Poloczek, 2018)."""

from __future__ import annotations

from typing import Literal

import numpy as np

from qtrain.hpo.surrogates.base import QuadraticForm, Surrogate, check_data, standardize


class BayesianQuadraticRegression(Surrogate):
    """Linear + pairwise regression over bits with a Gibbs-sampled posterior.

    ``y = Σ β_i x_i + Σ_{i<j} β_ij x_i x_j + noise`` on standardized ``y`` and centred
    features. The prior on ``β`` is a horseshoe (sparse: most interactions are negligible;
    Makalic & Schmidt's auxiliary-variable Gibbs sampler) or a Gaussian ``N(0, σ² τ²)``.
    Each Gibbs step draws ``β`` exactly with Bhattacharya et al.'s ``O(n² p)`` sampler,
    so hundreds of pairwise features stay cheap. After ``n_burn`` steps the last draw is
    the Thompson sample whose quadratic form :meth:`qubo` returns (or, with
    ``thompson=False``, the posterior mean).

    Args:
        prior: ``horseshoe`` or ``gaussian``.
        n_burn: Gibbs steps per fit.
        prior_scale: ``τ`` of the Gaussian prior (ignored by the horseshoe).
        thompson: Whether :meth:`qubo` is a posterior draw (Thompson sampling, exploring)
            or the posterior mean (averaged over the last half of the chain).
        seed: Seed of the sampler.
    """

    name = "bocs"

    def __init__(
        self,
        prior: Literal["horseshoe", "gaussian"] = "horseshoe",
        n_burn: int = 300,
        prior_scale: float = 1.0,
        thompson: bool = True,
        seed: int = 0,
    ) -> None:
        if prior not in ("horseshoe", "gaussian"):
            raise ValueError(f"prior must be 'horseshoe' or 'gaussian', not {prior!r}")
        if n_burn < 1:
            raise ValueError(f"n_burn must be >= 1, got {n_burn}")
        if prior_scale <= 0:
            raise ValueError(f"prior_scale must be > 0, got {prior_scale}")
        self.prior = prior
        self.n_burn = n_burn
        self.prior_scale = prior_scale
        self.thompson = thompson
        self.seed = seed
        self._beta_mean = np.zeros(0)
        self._beta: np.ndarray | None = None
        self._pairs: list[tuple[int, int]] = []
        self._d = 0
        self._feature_mean = np.zeros(0)
        self._active = np.zeros(0, dtype=int)
        self._mean = 0.0
        self._std = 1.0

    def _features(self, X: np.ndarray) -> np.ndarray:
        if not self._pairs:
            return X
        i, j = np.array(self._pairs).T
        return np.hstack([X, X[:, i] * X[:, j]])

    def fit(self, X: np.ndarray, y: np.ndarray) -> BayesianQuadraticRegression:
        """Run the Gibbs sampler on ``X`` (``n x d`` of 0/1) and ``y``; returns ``self``."""
        X, y = check_data(X, y)
        ys, self._mean, self._std = standardize(y)
        self._d = d = X.shape[1]
        self._pairs = [(i, j) for i in range(d) for j in range(i + 1, d)]
        full = self._features(X)
        self._feature_mean = full.mean(0)
        # a feature constant in the data (a pair never seen together) says nothing: keep it at 0
        self._active = np.flatnonzero(full.std(0) > 0)
        phi = full[:, self._active] - self._feature_mean[self._active]
        n, p = phi.shape
        rng = np.random.default_rng(self.seed)
        horseshoe = self.prior == "horseshoe"
        lam2, nu = np.ones(p), np.ones(p)
        tau2, xi = (1.0, 1.0) if horseshoe else (self.prior_scale**2, 1.0)
        sigma2 = 1.0
        beta = np.zeros(p)
        gram, phi_y = phi.T @ phi, phi.T @ ys

        def inv_gamma(shape: float | np.ndarray, scale: float | np.ndarray) -> np.ndarray:
            return scale / rng.gamma(shape, 1.0, size=np.shape(scale))

        keep = max(1, self.n_burn // 2)
        mean_sum = np.zeros(p)
        for step in range(self.n_burn):
            # beta = sigma * theta with y/sigma = phi theta + N(0, 1), theta ~ N(0, D)
            D = tau2 * lam2
            sigma = np.sqrt(sigma2)
            if p <= n:  # precision form, O(p^3) (Rue, 2001)
                L = np.linalg.cholesky(gram + np.diag(1.0 / D) + 1e-10 * np.eye(p))
                mean = _cho_solve(L, phi_y)
                beta = mean + sigma * np.linalg.solve(L.T, rng.standard_normal(p))
            else:  # O(n^2 p) (Bhattacharya et al., 2016)
                M = (phi * D) @ phi.T + np.eye(n)
                u = np.sqrt(D) * rng.standard_normal(p)
                v = phi @ u + rng.standard_normal(n)
                w_mean, w_draw = np.linalg.solve(M, np.stack([ys, ys / sigma - v], axis=1)).T
                mean = D * (phi.T @ w_mean)
                beta = sigma * (u + D * (phi.T @ w_draw))
            if step >= self.n_burn - keep:  # Rao-Blackwellised posterior mean (sigma cancels)
                mean_sum += mean
            resid = ys - phi @ beta
            shrink = float(np.sum(beta**2 / lam2))
            sigma2 = float(inv_gamma((n + p) / 2, resid @ resid / 2 + shrink / (2 * tau2)))
            if horseshoe:
                lam2 = inv_gamma(1.0, 1.0 / nu + beta**2 / (2 * tau2 * sigma2))
                nu = inv_gamma(1.0, 1.0 + 1.0 / lam2)
                tau2 = float(inv_gamma((p + 1) / 2, 1.0 / xi + shrink / (2 * sigma2)))
                xi = float(inv_gamma(1.0, 1.0 + 1.0 / tau2))
                # keep the sampler away from numerical under/overflow
                lam2 = np.clip(lam2, 1e-12, 1e12)
                tau2 = float(np.clip(tau2, 1e-12, 1e12))
            sigma2 = float(np.clip(sigma2, 1e-10, 1e6))
        self._beta_mean = np.zeros(full.shape[1])
        self._beta_mean[self._active] = mean_sum / keep
        self._beta = np.zeros(full.shape[1])
        self._beta[self._active] = beta
        if not self.thompson:
            self._beta = self._beta_mean
        return self

    def qubo(self) -> QuadraticForm:
        """The Thompson sample's (or posterior mean's) quadratic form in the units of ``y``."""
        if self._beta is None:
            raise RuntimeError("fit the Bayesian regression before asking for its QUBO")
        beta = self._std * self._beta
        d = self._d
        linear = {i: float(beta[i]) for i in range(d)}
        quadratic = {pair: float(b) for pair, b in zip(self._pairs, beta[d:], strict=True)}
        offset = self._mean - float(self._feature_mean @ beta)
        return linear, quadratic, offset


def _cho_solve(L: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``A^-1 b`` given the lower Cholesky factor ``L`` of ``A``."""
    return np.linalg.solve(L.T, np.linalg.solve(L, b))
