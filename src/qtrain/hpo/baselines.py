"""Ask/tell bookkeeping shared by every optimizer, and the random and TPE baselines.

Every optimizer minimises, proposes distinct configurations, never repeats a told one
while untried configurations remain, and can :meth:`~AskTellOptimizer.fix` parameters
(run-scoped ones after cycle 1). Proposals are a pure function of the seed, the told
history (in order), the fixed values and the asked-but-not-told configurations, so an
optimizer rebuilt from a saved history proposes what the live one would have.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from qtrain.hpo.proposer import Proposal
from qtrain.hpo.space import SearchSpace

Key = tuple[int, ...]
#: Spaces up to this size are enumerated when looking for untried configurations.
ENUMERATION_LIMIT = 4096


class AskTellOptimizer(abc.ABC):
    """Base class: history, fixed parameters, distinctness and the exhausted-space fill.

    Args:
        space: The search space.
        seed: Makes every proposal reproducible.
        allow_repeats: Whether a told configuration may be proposed again while untried
            ones remain (the proposals of one ask stay distinct; ``repeat`` in the metadata
            says which are repeats). Off by default: every evaluation is then new.
        queue_default: Propose the space's defaults first (what a user would try first), so
            a search is compared with the default on equal terms. The QUBO optimizer's
            initial design does this anyway.
    """

    name = "base"

    def __init__(
        self,
        space: SearchSpace,
        seed: int = 0,
        allow_repeats: bool = False,
        queue_default: bool = False,
    ) -> None:
        if not isinstance(space, SearchSpace):
            raise TypeError(f"space must be a SearchSpace, got {type(space).__name__}")
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise TypeError(f"seed must be an int, got {seed!r}")
        self.space = space
        self.seed = seed
        self.allow_repeats = bool(allow_repeats)
        self.queue_default = bool(queue_default)
        self._fixed: dict[str, Any] = {}
        self._active = space
        self._fixed_index: dict[str, int] = {}
        self._told: list[tuple[Key, float]] = []
        self._pending: dict[Key, None] = {}
        self._center: Key | None = None
        self._contexts: list[tuple[int, ...] | None] = []
        self._next_context: tuple[int, ...] | None = None

    # -- public surface -----------------------------------------------------------------
    def ask(self, n: int = 1) -> list[dict[str, Any]]:
        """``n`` distinct configurations to evaluate next."""
        return [p.params for p in self.ask_proposals(n)]

    def ask_proposals(self, n: int = 1) -> list[Proposal]:
        """Like :meth:`ask`, with metadata saying how each configuration was produced."""
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ValueError(f"n must be a positive int, got {n!r}")
        keys, metadata = self._propose(n)
        proposals = []
        for key, meta in zip(keys, metadata, strict=True):
            self._pending[key] = None
            meta = {"proposer": self.name, **meta, "repeat": key in self._told_keys()}
            proposals.append(Proposal(params=self.space.from_key(key), metadata=meta))
        return proposals

    def tell(
        self, params: Mapping[str, Any], value: float, context: Sequence[int] | None = None
    ) -> None:
        """Record that ``params`` scored ``value`` (lower is better; NaN/inf count as worst),
        in ``context`` (0/1 bits saying when it ran; only the QUBO optimizer uses them)."""
        key = self.space.key(params)
        if isinstance(value, bool) or not isinstance(value, int | float | np.number):
            raise TypeError(f"value must be a number, got {value!r}")
        self._told.append((key, float(value)))
        self._contexts.append(None if context is None else tuple(int(c) for c in context))
        self._pending.pop(key, None)

    def fix(self, params: Mapping[str, Any]) -> None:
        """Keep the given parameters at these values in every later proposal."""
        self.space.restrict(params)  # validates names and levels
        self._fixed.update(
            {name: self.space[name].values[self.space[name].index(v)] for name, v in params.items()}
        )
        self._active = self.space.restrict(self._fixed)
        self._fixed_index = {n: self.space[n].index(v) for n, v in self._fixed.items()}

    def set_context(self, context: Sequence[int] | None) -> None:
        """The context bits the next proposals will run in (see :meth:`tell`)."""
        self._next_context = None if context is None else tuple(int(c) for c in context)

    def redefault(self, space: SearchSpace) -> None:
        """Use ``space``'s defaults from now on (same parameters and levels: ``qtrain set``)."""
        if [(p.name, p.values) for p in space] != [(p.name, p.values) for p in self.space]:
            raise ValueError("redefault needs the same parameters and levels")
        self.space = space
        self._active = space.restrict(self._fixed)

    def recenter(self, params: Mapping[str, Any] | None) -> None:
        """Make local moves around ``params`` (the incumbent's configuration; None: the
        defaults). Only optimizers with a trust region use it."""
        self._center = None if params is None else self.space.key(params)

    @property
    def fixed(self) -> dict[str, Any]:
        """The parameters fixed so far."""
        return dict(self._fixed)

    @property
    def best(self) -> tuple[dict[str, Any], float]:
        """The told configuration with the lowest finite value, and that value."""
        finite = [(v, i) for i, (_, v) in enumerate(self._told) if math.isfinite(v)]
        if not finite:
            raise ValueError("no finite value has been told yet")
        value, i = min(finite)
        return self.space.from_key(self._told[i][0]), value

    @property
    def history(self) -> list[tuple[dict[str, Any], float]]:
        """Every told ``(params, value)`` in order."""
        return [(self.space.from_key(k), v) for k, v in self._told]

    # -- for subclasses -----------------------------------------------------------------
    @abc.abstractmethod
    def _propose(self, n: int) -> tuple[list[Key], list[dict[str, Any]]]:
        """Keys of ``n`` configurations to propose, and metadata for each."""

    def _queued_default(self) -> list[Key]:
        """The defaults, when they are queued and nothing was proposed yet (else nothing)."""
        if not self.queue_default or self._told or self._pending:
            return []
        return [self.space.key({**self.space.defaults(), **self._fixed})]

    def _rng(self, salt: int = 0) -> np.random.Generator:
        """A generator determined by the seed and the state of the history."""
        return np.random.default_rng([self.seed, salt, len(self._told), len(self._pending)])

    def _avoid(self) -> set[Key]:
        """Keys not to propose while others remain: pending ones, and told ones unless repeats
        are allowed."""
        pending = set(self._pending)
        return pending if self.allow_repeats else pending | self._told_keys()

    def _told_keys(self) -> set[Key]:
        return {k for k, _ in self._told}

    def _values(self) -> np.ndarray:
        """Told values with NaN/inf replaced by a value worse than any finite one."""
        values = np.array([v for _, v in self._told], dtype=float)
        finite = values[np.isfinite(values)]
        worst = finite.max() + max(float(np.ptp(finite)), 1.0) if finite.size else 1.0
        return np.where(np.isfinite(values), values, worst)

    def _to_full(self, active_key: Key) -> Key:
        """The full-space key of an active-space key (fixed parameters have one level)."""
        return tuple(
            self._fixed_index.get(p.name, i) for p, i in zip(self.space, active_key, strict=True)
        )

    def _candidates(self, rng: np.random.Generator, limit: int = 2000) -> Iterator[Key]:
        """Untried (not told, not pending) keys of the active space: all or a random sample."""
        avoid = self._avoid()
        if self._active.size <= ENUMERATION_LIMIT:
            keys = [k for k in map(self._to_full, self._active.iter_keys()) if k not in avoid]
            yield from (keys[i] for i in rng.permutation(len(keys)))
            return
        seen: set[Key] = set()
        for _ in range(20 * limit):
            key = self._to_full(tuple(int(rng.integers(len(p))) for p in self._active))
            if key not in avoid and key not in seen:
                seen.add(key)
                yield key
                if len(seen) >= limit:
                    return

    def _fill(self, n: int, chosen: list[Key], ranked: list[Key]) -> list[Key]:
        """Top ``chosen`` up to ``n``: ``ranked`` keys, other untried ones, pending, repeats.

        Repeats (told configurations, best first) come only once the active space has no
        untried configuration left; with fewer configurations than ``n`` they cycle.
        """
        out = list(chosen)
        told = [
            k
            for _, k in sorted(
                zip(self._values(), self._told_keys_in_order(), strict=True), key=lambda t: t[0]
            )
        ]
        sources = (ranked, self._candidates(self._rng(2)), list(self._pending), told)
        for source in sources:
            for key in source:
                if len(out) >= n:
                    return out
                if key not in out and self._in_active(key):
                    out.append(key)
        distinct = len(out)
        while len(out) < n:
            out.append(out[len(out) % distinct])
        return out

    def _told_keys_in_order(self) -> list[Key]:
        return [k for k, _ in self._told]

    def _in_active(self, key: Key) -> bool:
        return all(
            key[c] == self._fixed_index.get(p.name, key[c]) for c, p in enumerate(self.space)
        )


class RandomSearch(AskTellOptimizer):
    """Uniformly random untried configurations."""

    name = "random"

    def _propose(self, n: int) -> tuple[list[Key], list[dict[str, Any]]]:
        rng = self._rng()
        queued = self._queued_default()
        chosen = list(queued)
        for key in self._candidates(rng):
            if len(chosen) == n:
                break
            if key not in chosen:
                chosen.append(key)
        keys = self._fill(n, chosen, [])
        return keys, proposal_sources(n, "random", len(queued), len(chosen))


def proposal_sources(n: int, name: str, queued: int, chosen: int) -> list[dict[str, Any]]:
    """Metadata of ``n`` proposals: the queued default, then ``name``'s own, then fill."""
    return [
        {"source": "default" if i < queued else name if i < chosen else "fill"} for i in range(n)
    ]
