"""Local moves: a Hamming-distance trust region around a centre configuration.

With the encodings of :mod:`qtrain.hpo.encoding` the Hamming distance between two bit
vectors counts level steps of an ordered (domain-wall) parameter and 2 for a change of a
one-hot parameter. A trust region of radius ``R`` around the incumbent (or, before there is
one, the defaults) is the set of configurations at most ``R`` bits away: one or two
parameters changed by a few levels, never every parameter jumped to an extreme at once.
The QUBO optimizer draws its initial design from the region and, afterwards, part of each
cycle's proposals (the *local* ones) from the surrogate's QUBO plus a penalty of ``weight``
per bit moved, keeping the samples inside the region; the rest stay global.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from qtrain.hpo.encoding import Encoding

if TYPE_CHECKING:
    import dimod


def auto_radius(n_bits: int) -> int:
    """The default radius: a third of the bits, at least 2 (one categorical change)."""
    return max(2, math.ceil(n_bits / 3))


class TrustRegion:
    """The configurations within ``radius`` bits of ``center`` (level indices)."""

    def __init__(self, encoding: Encoding, center: Sequence[int], radius: int) -> None:
        if radius < 1:
            raise ValueError(f"radius must be >= 1, got {radius}")
        self.encoding = encoding
        self.center = tuple(int(c) for c in center)
        self.radius = int(radius)
        self.center_bits = encoding.encode_key(self.center).astype(int)

    def distance(self, key: Sequence[int]) -> int:
        """Bits in which ``key`` differs from the centre."""
        return int(np.abs(self.encoding.encode_key(key).astype(int) - self.center_bits).sum())

    def contains(self, key: Sequence[int]) -> bool:
        """Whether ``key`` lies in the region."""
        return self.distance(key) <= self.radius

    def penalty(self, weight: float) -> dimod.BinaryQuadraticModel:
        """``weight`` x (bits that differ from the centre), as a BQM on the encoding's names."""
        import dimod

        linear = {
            name: (-weight if bit else weight)
            for name, bit in zip(self.encoding.variables, self.center_bits, strict=True)
        }
        offset = weight * int(self.center_bits.sum())
        return dimod.BinaryQuadraticModel(linear, {}, offset, "BINARY")


def hamming(encoding: Encoding, grid: np.ndarray, row: Sequence[int]) -> np.ndarray:
    """Bits in which each configuration of ``grid`` (rows of level indices) differs from ``row``."""
    bits = np.array([encoding.encode_key(k) for k in grid], dtype=int).reshape(len(grid), -1)
    return np.abs(bits - encoding.encode_key(row).astype(int)).sum(axis=1)


def move_weight(form: tuple[dict[int, float], dict[tuple[int, int], float], float]) -> float:
    """The penalty per bit moved for local proposals: half the surrogate's mean per-bit bound
    ``|h_i| + Σ_j |J_ij|``, so a move is taken where the surrogate expects that much gain."""
    linear, quadratic, _ = form
    bound: dict[int, float] = {i: abs(h) for i, h in linear.items()}
    for (i, j), q in quadratic.items():
        bound[i] = bound.get(i, 0.0) + abs(q)
        bound[j] = bound.get(j, 0.0) + abs(q)
    values = [b for b in bound.values() if b > 0]
    return 0.5 * float(np.mean(values)) if values else 1.0
