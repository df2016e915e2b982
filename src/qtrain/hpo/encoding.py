"""Binary encodings of a :class:`~qtrain.hpo.space.SearchSpace` for QUBO optimisation.

Two encodings per parameter with ``L`` levels:

- one-hot: ``L`` bits ``name[i]``, exactly one of them set; penalty ``(sum x - 1)^2``.
- domain wall (unary/thermometer, for ordered levels): ``L - 1`` bits ``name[>=j]``
  meaning "level index >= j", so level ``k`` sets bits ``1..k``; a feasible pattern never
  goes 0 -> 1 and the penalty counts such transitions. Neighbouring levels differ by one
  bit, which lets a quadratic surrogate express smooth effects of ordered parameters.

A parameter with a single level (e.g. a fixed run-scoped one) takes no bits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from qtrain.hpo.space import Parameter, SearchSpace

if TYPE_CHECKING:
    import dimod

EncodingName = Literal["onehot", "domain_wall", "auto"]
_ENCODINGS = ("onehot", "domain_wall", "auto")


class InfeasibleSampleError(ValueError):
    """A binary sample that is no configuration of the space (a broken constraint)."""


@dataclass(frozen=True)
class Group:
    """The bits of one parameter: its encoding and their positions in the bit vector."""

    parameter: Parameter
    method: Literal["onehot", "domain_wall", "none"]
    indices: tuple[int, ...]


class Encoding:
    """Maps configurations of ``space`` to bit vectors and back.

    Args:
        space: The search space.
        encoding: ``onehot``, ``domain_wall`` (ordinal parameters only; categorical ones
            stay one-hot) or ``auto``: domain wall for ordinal parameters with at least
            four levels, and a single bit for any two-level parameter.
    """

    def __init__(self, space: SearchSpace, encoding: EncodingName = "auto") -> None:
        if encoding not in _ENCODINGS:
            raise ValueError(f"encoding must be one of {_ENCODINGS}, not {encoding!r}")
        self.space = space
        self.encoding = encoding
        variables: list[str] = []
        groups: list[Group] = []
        for p in space:
            method = self._method(p, encoding)
            if method == "onehot":
                names = [f"{p.name}[{i}]" for i in range(len(p))]
            elif method == "domain_wall":
                names = [f"{p.name}[>={j}]" for j in range(1, len(p))]
            else:
                names = []
            start = len(variables)
            variables.extend(names)
            groups.append(Group(p, method, tuple(range(start, len(variables)))))
        self.variables: tuple[str, ...] = tuple(variables)
        self.groups: tuple[Group, ...] = tuple(groups)
        self._position = {v: i for i, v in enumerate(self.variables)}

    @staticmethod
    def _method(p: Parameter, encoding: str) -> Literal["onehot", "domain_wall", "none"]:
        if len(p) == 1:
            return "none"
        if encoding == "domain_wall" and p.kind == "ordinal":
            return "domain_wall"
        if encoding == "auto" and ((p.kind == "ordinal" and len(p) >= 4) or len(p) == 2):
            return "domain_wall"
        return "onehot"

    @property
    def n_bits(self) -> int:
        """The number of binary variables."""
        return len(self.variables)

    def position(self, variable: str) -> int:
        """The index of a variable name in the bit vector."""
        return self._position[variable]

    def group_of(self) -> list[int]:
        """For each bit, the index of the parameter group it belongs to."""
        owner = [0] * self.n_bits
        for g, group in enumerate(self.groups):
            for i in group.indices:
                owner[i] = g
        return owner

    # -- configurations -> bits ---------------------------------------------------------
    def encode_key(self, key: Sequence[int]) -> np.ndarray:
        """The bit vector of a configuration given by its level indices."""
        bits = np.zeros(self.n_bits, dtype=np.int8)
        for group, level in zip(self.groups, key, strict=True):
            if group.method == "onehot":
                bits[group.indices[level]] = 1
            elif group.method == "domain_wall":
                bits[list(group.indices[:level])] = 1
        return bits

    def encode_vector(self, params: Mapping[str, Any]) -> np.ndarray:
        """The bit vector of a configuration (``ConfigError`` if it is not in the space)."""
        return self.encode_key(self.space.key(params))

    def encode(self, params: Mapping[str, Any]) -> dict[str, int]:
        """``{variable: 0/1}`` for a configuration."""
        return dict(zip(self.variables, self.encode_vector(params).tolist(), strict=True))

    # -- bits -> configurations ---------------------------------------------------------
    def _bits(self, sample: Mapping[str, int] | Sequence[int] | np.ndarray) -> np.ndarray:
        if isinstance(sample, Mapping):
            try:
                return np.array([int(sample[v]) for v in self.variables], dtype=np.int8)
            except KeyError as err:
                raise InfeasibleSampleError(f"sample has no value for variable {err}") from None
        bits = np.asarray(sample, dtype=np.int8).reshape(-1)
        if bits.shape[0] != self.n_bits:
            raise InfeasibleSampleError(f"sample has {bits.shape[0]} bits, expected {self.n_bits}")
        return bits

    def decode_key(self, sample: Mapping[str, int] | Sequence[int] | np.ndarray) -> tuple[int, ...]:
        """The level indices a sample encodes; ``InfeasibleSampleError`` if it encodes none."""
        bits = self._bits(sample)
        key: list[int] = []
        for group in self.groups:
            x = bits[list(group.indices)]
            if group.method == "none":
                key.append(0)
            elif group.method == "onehot":
                if x.sum() != 1:
                    raise InfeasibleSampleError(
                        f"{group.parameter.name}: one-hot bits {x.tolist()} are not one level"
                    )
                key.append(int(np.argmax(x)))
            else:
                if np.any(np.diff(x) > 0):
                    raise InfeasibleSampleError(
                        f"{group.parameter.name}: domain-wall bits {x.tolist()} go 0 -> 1"
                    )
                key.append(int(x.sum()))
        return tuple(key)

    def decode(self, sample: Mapping[str, int] | Sequence[int] | np.ndarray) -> dict[str, Any]:
        """The configuration a sample encodes; ``InfeasibleSampleError`` if it encodes none."""
        return self.space.from_key(self.decode_key(sample))

    def is_feasible(self, sample: Mapping[str, int] | Sequence[int] | np.ndarray) -> bool:
        """Whether a sample encodes a configuration."""
        try:
            self.decode_key(sample)
        except InfeasibleSampleError:
            return False
        return True

    # -- constraints --------------------------------------------------------------------
    def constraint_terms(
        self, group: Group
    ) -> tuple[dict[int, float], dict[tuple[int, int], float], float]:
        """Penalty of one group (0 when feasible, >= 1 otherwise) as linear/quadratic/offset."""
        idx = group.indices
        if group.method == "onehot":
            # (sum x - 1)^2 = 1 - sum x + 2 sum_{i<j} x_i x_j   (x^2 = x)
            linear = {i: -1.0 for i in idx}
            quadratic = {(a, b): 2.0 for n, a in enumerate(idx) for b in idx[n + 1 :]}
            return linear, quadratic, 1.0
        if group.method == "domain_wall":
            # sum_j x_{j+1} (1 - x_j): one unit per 0 -> 1 transition
            linear = {b: 1.0 for b in idx[1:]}
            quadratic = {(a, b): -1.0 for a, b in pairwise(idx)}
            return linear, quadratic, 0.0
        return {}, {}, 0.0

    def constraint_bqm(self, strength: float | Sequence[float] = 1.0) -> dimod.BinaryQuadraticModel:
        """The penalty BQM: energy 0 exactly on feasible encodings, >= ``strength`` elsewhere.

        ``strength`` may be one number or one per parameter group (see :attr:`groups`).
        """
        dimod = import_dimod()
        strengths = (
            [float(strength)] * len(self.groups)
            if isinstance(strength, int | float)
            else [float(s) for s in strength]
        )
        if len(strengths) != len(self.groups) or min(strengths, default=1.0) <= 0:
            raise ValueError("strength must be positive, one number or one per parameter group")
        bqm = dimod.BinaryQuadraticModel({v: 0.0 for v in self.variables}, {}, 0.0, "BINARY")
        for group, s in zip(self.groups, strengths, strict=True):
            linear, quadratic, offset = self.constraint_terms(group)
            for i, h in linear.items():
                bqm.add_linear(self.variables[i], s * h)
            for (i, j), q in quadratic.items():
                bqm.add_quadratic(self.variables[i], self.variables[j], s * q)
            bqm.offset += s * offset
        return bqm


def import_dimod() -> Any:
    """``dimod``, imported on first use (a core dependency, kept off ``import qtrain``)."""
    import dimod

    return dimod
