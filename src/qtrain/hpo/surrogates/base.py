"""What a QUBO surrogate is: a model of the objective that is quadratic in the bits."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

#: ``(linear, quadratic, offset)``: ``f(x) = offset + sum h_i x_i + sum_{i<j} J_ij x_i x_j``.
QuadraticForm = tuple[dict[int, float], dict[tuple[int, int], float], float]


class Surrogate(ABC):
    """A model ``bits -> objective`` whose fitted form is a QUBO.

    Subclasses take their hyperparameters and a ``seed`` in ``__init__``, learn from
    ``fit(X, y)`` and expose the fitted (or posterior-sampled) quadratic form via
    :meth:`qubo`. Lower is better; the form is in the units of ``y``.
    """

    name: str = "surrogate"

    @abstractmethod
    def fit(self, X: np.ndarray, y: np.ndarray) -> Surrogate:
        """Learn from ``X`` (``n x d`` of 0/1) and ``y`` (``n``); return ``self``."""

    @abstractmethod
    def qubo(self) -> QuadraticForm:
        """The quadratic form of the fitted model, keyed by bit index (``i < j``)."""

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The model's value at each row of ``X``."""
        linear, quadratic, offset = self.qubo()
        X = np.asarray(X, dtype=float)
        out = np.full(X.shape[0], offset)
        for i, h in linear.items():
            out += h * X[:, i]
        for (i, j), q in quadratic.items():
            out += q * X[:, i] * X[:, j]
        return out


def check_data(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate training data: a 2-D 0/1 matrix and one finite target per row."""
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float).reshape(-1)
    if X.ndim != 2 or X.shape[0] != y.shape[0] or X.shape[0] == 0:
        raise ValueError(f"X must be n x d and y of length n >= 1; got {X.shape} and {y.shape}")
    if not np.all((X == 0) | (X == 1)):
        raise ValueError("X must hold only 0 and 1")
    if not np.all(np.isfinite(y)):
        raise ValueError("y must be finite")
    return X, y


def standardize(y: np.ndarray) -> tuple[np.ndarray, float, float]:
    """``(y - mean) / std`` with the mean and std (1 when ``y`` is constant)."""
    mean = float(y.mean())
    std = float(y.std())
    if not std > 1e-12:
        std = 1.0
    return (y - mean) / std, mean, std
