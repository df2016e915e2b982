"""The QUBO optimizer: surrogate fitted on the history -> QUBO -> solver -> k proposals."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from qtrain.errors import ConfigError
from qtrain.hpo.baselines import AskTellOptimizer, Key
from qtrain.hpo.encoding import Encoding, EncodingName, InfeasibleSampleError
from qtrain.hpo.qubo import build_bqm, check_qubo_size
from qtrain.hpo.space import SearchSpace
from qtrain.hpo.surrogates import SURROGATES, make_surrogate


class QuboOptimizer(AskTellOptimizer):
    """Ask/tell optimizer that proposes the low-energy samples of a surrogate QUBO (FMQA/BOCS).

    Until ``n_initial`` values are told, proposals come from an initial design (the
    defaults, then seeded maximin space-filling points). Afterwards each ask fits the
    surrogate on all told points, builds the QUBO (surrogate + constraint penalties, bits
    of fixed parameters substituted), samples it with the solver chain, and returns the
    ``n`` lowest-energy distinct feasible untried configurations, topped up by the
    surrogate's best untried configurations when the solver returns too few.

    Args:
        space: The search space.
        solver: Solver name, or a chain of names for ``qtrain.solvers.build_solver``, or
            any object with a dimod-style ``sample(bqm, num_reads=..., seed=...)``.
        seed: Makes every proposal reproducible.
        surrogate: ``fm`` (factorization machine) or ``bocs`` (Bayesian regression).
        n_initial: Told points needed before the surrogate is used
            (default ``max(2, min(10, parameters + 1))``).
        num_reads: Samples per solver call.
        fallback: Solvers tried after ``solver`` fails (``None`` or empty: none).
        solver_options: Per-solver options passed to ``build_solver``.
        timeout_s: Per-solver time limit passed to ``build_solver``.
        qubo_size_limit: Most binary variables allowed (``quantum.qubo_size_limit``).
        encoding: ``auto``, ``onehot`` or ``domain_wall`` (see :class:`Encoding`).
        surrogate_options: Keyword arguments of the surrogate class.
        penalty_scale: Constraint weight relative to the surrogate's coefficient bound.
        allow_repeats: Let told configurations be proposed again (e.g. retrained from a
            better checkpoint in a later cycle); one ask's proposals stay distinct.
    """

    name = "qubo"

    def __init__(
        self,
        space: SearchSpace,
        solver: str | Sequence[str] | Any = "sa",
        seed: int = 0,
        surrogate: str = "fm",
        n_initial: int | None = None,
        num_reads: int = 64,
        fallback: Sequence[str] | None = ("sa",),
        solver_options: Mapping[str, Any] | None = None,
        timeout_s: float | None = None,
        qubo_size_limit: int | None = 256,
        encoding: EncodingName = "auto",
        surrogate_options: Mapping[str, Any] | None = None,
        penalty_scale: float = 1.5,
        allow_repeats: bool = False,
    ) -> None:
        super().__init__(space, seed, allow_repeats)
        if surrogate not in SURROGATES:
            choices = ", ".join(SURROGATES)
            raise ValueError(f"unknown surrogate {surrogate!r}; choose from {choices}")
        if n_initial is not None and n_initial < 1:
            raise ValueError(f"n_initial must be >= 1, got {n_initial}")
        if num_reads < 1:
            raise ValueError(f"num_reads must be >= 1, got {num_reads}")
        if timeout_s is not None and not timeout_s > 0:
            raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
        if not penalty_scale > 0:
            raise ValueError(f"penalty_scale must be > 0, got {penalty_scale}")
        if isinstance(solver, str):
            chain = [solver, *(fallback or ())]
            self._chain: list[str] | None = list(dict.fromkeys(chain))
            self._sampler: Any = None
        elif isinstance(solver, Sequence):
            self._chain, self._sampler = list(dict.fromkeys([*solver, *(fallback or ())])), None
        elif hasattr(solver, "sample"):
            self._chain, self._sampler = None, solver
        else:
            raise TypeError(f"solver must be a name, a list of names or a sampler, not {solver!r}")
        if self._chain is not None:
            from qtrain.solvers import available_solvers

            unknown = [name for name in self._chain if name not in available_solvers()]
            if unknown:
                raise ConfigError(
                    f"unknown solver {unknown[0]!r}: choose from {', '.join(available_solvers())}"
                )
        self.encoding = Encoding(space, encoding)
        check_qubo_size(self.encoding.n_bits, qubo_size_limit)
        self.surrogate = surrogate
        self.surrogate_options = dict(surrogate_options or {})
        make_surrogate(surrogate, **self.surrogate_options)  # reject bad options now
        self.n_initial = n_initial if n_initial is not None else max(2, min(10, len(space) + 1))
        self.num_reads = num_reads
        self.solver_options = dict(solver_options or {})
        self.timeout_s = timeout_s
        self.qubo_size_limit = qubo_size_limit
        self.penalty_scale = penalty_scale

    @property
    def sampler(self) -> Any:
        """The dimod sampler (built on first use from the solver chain)."""
        if self._sampler is None:
            from qtrain.solvers import build_solver

            self._sampler = build_solver(
                self._chain, timeout_s=self.timeout_s, options=self.solver_options or None
            )
        return self._sampler

    def _base_metadata(self, source: str) -> dict[str, Any]:
        return {
            "source": source,
            "surrogate": self.surrogate,
            "solver": None,
            "solve_seconds": 0.0,
            "fit_seconds": 0.0,
            "energy": None,
            "fallback": False,
            "fallback_reasons": [],
            "n_bits": self.encoding.n_bits - self._n_fixed_bits(),
        }

    def _n_fixed_bits(self) -> int:
        return sum(len(g.indices) for g in self.encoding.groups if g.parameter.name in self._fixed)

    def _propose(self, n: int) -> tuple[list[Key], list[dict[str, Any]]]:
        if len(self._told) < self.n_initial or self._active.size == 1:
            chosen = self._initial_design(n)
            keys = self._fill(n, chosen, [])
            meta = [
                self._base_metadata("initial_design" if i < len(chosen) else "fill")
                for i in range(n)
            ]
            return keys, meta
        return self._propose_qubo(n)

    # -- initial design -----------------------------------------------------------------
    def _initial_design(self, n: int) -> list[Key]:
        """The defaults (if untried), then greedy maximin points over the level grid."""
        rng = self._rng()
        pool = list(self._candidates(rng))
        if not pool:
            return []
        defaults = self.space.key({**self.space.defaults(), **self._fixed})
        chosen = [defaults] if defaults in pool else []
        refs = [k for k, _ in self._told] + list(self._pending) + chosen
        grid = np.array(pool, dtype=float)
        ref = np.array(refs, dtype=float).reshape(-1, len(self.space))
        min_dist = np.full(len(pool), np.inf)
        for row in ref:
            min_dist = np.minimum(min_dist, self._distance(grid, row))
        while len(chosen) < n and len(chosen) < len(pool):
            i = int(np.argmax(min_dist))  # first maximum: the pool is in seeded random order
            if min_dist[i] == 0:
                break
            chosen.append(pool[i])
            min_dist = np.minimum(min_dist, self._distance(grid, grid[i]))
        return chosen

    def _distance(self, grid: np.ndarray, row: np.ndarray) -> np.ndarray:
        """Distance on the level grid: |Δlevel|/(L-1) for ordinal, 0/1 for categorical."""
        out = np.zeros(grid.shape[0])
        for c, p in enumerate(self.space):
            if len(p) == 1:
                continue
            diff = np.abs(grid[:, c] - row[c])
            out += diff / (len(p) - 1) if p.kind == "ordinal" else (diff > 0)
        return out

    # -- surrogate + QUBO ---------------------------------------------------------------
    def _propose_qubo(self, n: int) -> tuple[list[Key], list[dict[str, Any]]]:
        rng = self._rng()
        X = np.array([self.encoding.encode_key(k) for k, _ in self._told], dtype=float)
        start = time.perf_counter()
        model = make_surrogate(
            self.surrogate, seed=int(rng.integers(2**31)), **self.surrogate_options
        ).fit(X, self._values())
        fit_seconds = time.perf_counter() - start
        bqm = build_bqm(model, self.encoding, self.penalty_scale, self.qubo_size_limit)
        fixed_bits = self._fixed_bits()
        bqm.fix_variables(fixed_bits)
        start = time.perf_counter()
        seed = int(rng.integers(2**31))
        sampleset = self.sampler.sample(bqm, num_reads=self.num_reads, seed=seed)
        solve_wall = time.perf_counter() - start
        info = dict(getattr(sampleset, "info", {}) or {})
        reasons = list(info.get("fallback") or [])
        meta = {
            **self._base_metadata("qubo"),
            "solver": info.get("solver") or (self._chain[0] if self._chain else "custom"),
            "solve_seconds": float(info.get("solve_seconds", solve_wall)),
            "fit_seconds": fit_seconds,
            "fallback": bool(reasons),
            "fallback_reasons": reasons,
            "n_bits": bqm.num_variables,
        }
        avoid = self._avoid()
        chosen: list[Key] = []
        energies: list[float] = []
        for sample, energy in sampleset.data(["sample", "energy"], sorted_by="energy"):
            try:
                key = self.encoding.decode_key({**fixed_bits, **sample})
            except InfeasibleSampleError:
                continue
            if key not in avoid and key not in chosen:
                chosen.append(key)
                energies.append(float(energy))
                if len(chosen) == n:
                    break
        ranked: list[Key] = []
        if len(chosen) < n:  # too few distinct samples: the surrogate's best untried ones
            pool = [k for k in self._candidates(rng) if k not in chosen]
            if pool:
                scores = model.predict(np.array([self.encoding.encode_key(k) for k in pool]))
                ranked = [pool[i] for i in np.argsort(scores, kind="stable")]
        keys = self._fill(n, chosen, ranked)
        metadata = []
        for i, key in enumerate(keys):
            if i < len(chosen):
                metadata.append({**meta, "energy": energies[i]})
            else:
                x = self.encoding.encode_key(key)[None, :]
                energy = float(model.predict(x)[0])
                metadata.append({**meta, "source": "fill", "energy": energy})
        return keys, metadata

    def _fixed_bits(self) -> dict[str, int]:
        """The bit values of the fixed parameters, by variable name."""
        if not self._fixed:
            return {}
        key = self.space.key({**self.space.defaults(), **self._fixed})
        bits = self.encoding.encode_key(key)
        return {
            self.encoding.variables[i]: int(bits[i])
            for g in self.encoding.groups
            if g.parameter.name in self._fixed
            for i in g.indices
        }
