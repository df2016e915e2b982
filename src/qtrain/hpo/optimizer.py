"""The QUBO optimizer: surrogate fitted on the history -> QUBO -> solver -> k proposals."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

import numpy as np

from qtrain.errors import ConfigError
from qtrain.hpo.baselines import AskTellOptimizer, Key
from qtrain.hpo.context import FixedForm, condition
from qtrain.hpo.design import axial_points, initial_design, level_distance
from qtrain.hpo.encoding import Encoding, EncodingName, InfeasibleSampleError
from qtrain.hpo.qubo import build_bqm, check_qubo_size
from qtrain.hpo.space import SearchSpace
from qtrain.hpo.surrogates import SURROGATES, make_surrogate
from qtrain.hpo.trust_region import TrustRegion, auto_radius, hamming, move_weight


class QuboOptimizer(AskTellOptimizer):
    """Ask/tell optimizer that proposes the low-energy samples of a surrogate QUBO (FMQA/BOCS).

    Until ``n_initial`` values are told, proposals come from an initial design (the defaults,
    star points of the trust region around the centre, seeded maximin points). Afterwards
    each ask fits the surrogate on all told points, builds the QUBO (surrogate + constraint
    penalties, bits of fixed parameters substituted), samples it with the solver chain, and
    returns the ``n`` lowest-energy distinct feasible untried configurations, topped up by the
    surrogate's best untried configurations when the solver returns too few. With a trust
    region, all but ``n // 2`` of them are *local*: sampled from the QUBO plus a penalty per
    bit moved from the centre (the incumbent's configuration, see :meth:`recenter`) and kept
    within ``trust_radius`` bits of it; the others are global.

    Args:
        space: The search space.
        solver: Solver name, or a chain of names for ``qtrain.solvers.build_solver``, or
            any object with a dimod-style ``sample(bqm, num_reads=..., seed=...)``.
        seed: Makes every proposal reproducible.
        surrogate: ``fm`` (factorization machine) or ``bocs`` (Bayesian regression).
        n_initial: Told points needed before the surrogate is used
            (default ``max(2, min(10, parameters + 1))``).
        num_reads, fallback, solver_options, timeout_s: Samples per solver call; solvers
            tried after ``solver`` fails; per-solver options and time limit (``build_solver``).
        qubo_size_limit, encoding, surrogate_options: Most binary variables allowed; see
            :class:`Encoding`; keyword arguments of the surrogate class.
        penalty_scale: Constraint weight relative to the surrogate's coefficient bound.
        allow_repeats: Let told configurations be proposed again (e.g. retrained from a
            better checkpoint in a later cycle); one ask's proposals stay distinct.
        trust_radius: Bits a local proposal may differ from the centre (None: a third of
            the encoding's bits, at least 2; 0: no trust region, every proposal global).
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
        trust_radius: int | None = None,
    ) -> None:
        super().__init__(space, seed, allow_repeats)
        if trust_radius is not None and trust_radius < 0:
            raise ValueError(f"trust_radius must be >= 0, got {trust_radius}")
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
        self.trust_radius = (
            auto_radius(self.encoding.n_bits) if trust_radius is None else trust_radius
        )
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
        n_bits = self.encoding.n_bits - self._n_fixed_bits()
        return {"source": source, "surrogate": self.surrogate, "solver": None,
                "solve_seconds": 0.0, "fit_seconds": 0.0, "energy": None, "fallback": False,
                "fallback_reasons": [], "n_bits": n_bits}  # fmt: skip

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
        """The defaults (if untried), the trust region's star points, then maximin points
        (:func:`qtrain.hpo.design.initial_design`): within half the radius of the centre, by
        Hamming distance; with no region (radius 0), over the whole grid by level distance."""
        rng = self._rng()
        region = self._region(share=0.5)  # from the base model a bold step often collapses
        pool = [k for k in self._candidates(rng) if region is None or region.contains(k)]
        defaults = self.space.key({**self.space.defaults(), **self._fixed})
        chosen = [defaults] if defaults not in self._avoid() and self._in_active(defaults) else []
        bits_apart = partial(hamming, self.encoding)
        distance = bits_apart if region else partial(level_distance, self.space)
        refs = [k for k, _ in self._told] + list(self._pending)
        star: list[Key] = []
        if region is not None:
            star = axial_points(self.space, region.center, self._admissible(region), rng)
        return initial_design(self.space, pool, chosen, refs, n, distance, star)

    def _admissible(self, region: TrustRegion) -> Callable[[Key], bool]:
        """Whether a key is in ``region``, untried and in the active space."""
        avoid = self._avoid()
        return lambda key: region.contains(key) and key not in avoid and self._in_active(key)

    def _region(self, share: float = 1.0) -> TrustRegion | None:
        """The trust region around the centre (the incumbent's or the defaults), if any;
        ``share`` of its radius (rounded up, at least 2 bits)."""
        if not self.trust_radius:
            return None
        center = self._center or self.space.key({**self.space.defaults(), **self._fixed})
        radius = min(self.trust_radius, max(2, math.ceil(self.trust_radius * share)))
        return TrustRegion(self.encoding, center, radius)

    # -- surrogate + QUBO ---------------------------------------------------------------
    def _propose_qubo(self, n: int) -> tuple[list[Key], list[dict[str, Any]]]:
        rng = self._rng()
        X = np.array([self.encoding.encode_key(k) for k, _ in self._told], dtype=float)
        context = self._next_context if None not in self._contexts else None
        if context is not None:  # the context bits are inputs, then fixed to the next's
            X = np.hstack([X, np.array(self._contexts, dtype=float).reshape(len(X), -1)])
        start = time.perf_counter()
        fitted = make_surrogate(
            self.surrogate, seed=int(rng.integers(2**31)), **self.surrogate_options
        ).fit(X, self._values())
        n_bits = self.encoding.n_bits
        model = FixedForm(condition(fitted.qubo(), n_bits, context or ()))
        fit_seconds = time.perf_counter() - start
        bqm = build_bqm(model, self.encoding, self.penalty_scale, self.qubo_size_limit)
        fixed_bits = self._fixed_bits()
        region = self._region()
        n_local = n - n // 2 if region is not None else 0
        chosen: list[Key] = []
        regions: list[str] = []
        reasons: list[str] = []
        solver, solve_seconds = None, 0.0
        weight = move_weight(model.qubo())
        # Local passes raise the move penalty until enough samples land in the region.
        passes = [("local", weight * f) for f in (1, 4, 16)] if n_local else []
        for scope, penalty in [*passes, ("global", 0.0)]:
            wanted = n_local if scope == "local" else n - n_local
            count = wanted - regions.count(scope)
            if count <= 0:
                continue
            sampled = bqm.copy()
            if penalty and region is not None:
                sampled.update(region.penalty(penalty))
            sampled.fix_variables(fixed_bits)
            seed = int(rng.integers(2**31))
            start = time.perf_counter()
            sampleset = self.sampler.sample(sampled, num_reads=self.num_reads, seed=seed)
            wall = time.perf_counter() - start
            info = dict(getattr(sampleset, "info", {}) or {})
            solver = solver or info.get("solver")
            solve_seconds += float(info.get("solve_seconds", wall))
            reasons += [r for r in info.get("fallback") or [] if r not in reasons]
            inside = region.contains if penalty and region is not None else None
            for key in self._decoded(sampleset, fixed_bits, chosen, count, inside):
                chosen.append(key)
                regions.append(scope)
        meta = {
            **self._base_metadata("qubo"),
            "solver": solver or (self._chain[0] if self._chain else "custom"),
            "solve_seconds": solve_seconds,
            "fit_seconds": fit_seconds,
            "fallback": bool(reasons),
            "fallback_reasons": reasons,
            "n_bits": bqm.num_variables - len(fixed_bits),
        }
        ranked: list[Key] = []
        if len(chosen) < n:  # too few distinct samples: the surrogate's best untried ones
            pool = [k for k in self._candidates(rng) if k not in chosen]
            if pool:
                scores = model.predict(np.array([self.encoding.encode_key(k) for k in pool]))
                ranked = [pool[i] for i in np.argsort(scores, kind="stable")]
                short = n_local - regions.count("local")
                if region is not None and short > 0:  # every local sample was tried before:
                    inside = [k for k in ranked if region.contains(k)][:short]  # QUBO's best
                    chosen, regions = chosen + inside, regions + ["ranked"] * len(inside)
                    ranked = [k for k in ranked if k not in inside]
        keys = self._fill(n, chosen, ranked)
        metadata = []
        for i, key in enumerate(keys):
            energy = float(model.predict(self.encoding.encode_key(key)[None, :].astype(float))[0])
            if i < len(chosen):  # "ranked": the untried point of lowest QUBO energy in the region
                region_of = {"region": "local", "ranked": True} if regions[i] == "ranked" else {
                    "region": regions[i]}  # fmt: skip
                metadata.append({**meta, **region_of, "energy": energy})
            else:
                metadata.append({**meta, "source": "fill", "energy": energy})
        return keys, metadata

    def _decoded(
        self,
        sampleset: Any,
        fixed_bits: dict[str, int],
        chosen: list[Key],
        count: int,
        inside: Any = None,
    ) -> list[Key]:
        """Up to ``count`` distinct untried feasible keys of a sample set, lowest energy first
        (``inside``: a predicate the keys must satisfy)."""
        avoid = self._avoid()
        out: list[Key] = []
        for sample in sampleset.data(["sample"], sorted_by="energy"):
            try:
                key = self.encoding.decode_key({**fixed_bits, **sample.sample})
            except InfeasibleSampleError:
                continue
            if key in avoid or key in chosen or key in out or (inside and not inside(key)):
                continue
            out.append(key)
            if len(out) == count:
                break
        return out

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
