"""Composites that wrap solvers, one concern each (dimod style).

``TrackingComposite`` records who answered and how long it took, ``TimeLimitComposite``
gives up on a child after a time limit, ``FallbackComposite`` tries children in order.
``qtrain.solvers.build_solver`` stacks them: ``Tracking(Fallback([TimeLimit(child), ...]))``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

import dimod

from qtrain import failpoints
from qtrain.errors import ConfigError, one_line
from qtrain.solvers._params import reject_unknown
from qtrain.solvers.errors import SolverError, SolverTimeoutError


def _solver_name(sampler: dimod.Sampler) -> str:
    """The registry name of ``sampler`` (its ``name`` attribute), else its class name."""
    return str(getattr(sampler, "name", type(sampler).__name__))


class _SingleChild(dimod.ComposedSampler):
    """A composite around one child whose parameters it passes through unchanged."""

    def __init__(self, child: dimod.Sampler) -> None:
        self._children = [child]

    @property
    def children(self) -> list[dimod.Sampler]:
        """The wrapped sampler, as a one-element list."""
        return self._children

    @property
    def parameters(self) -> dict[str, Any]:
        """The child's parameters (the child validates them)."""
        return dict(self.child.parameters)


class TrackingComposite(_SingleChild):
    """Times the child's ``sample`` call; adds ``solver`` and ``solve_seconds`` to ``info``.

    ``solver`` is the one a composite child reports (a fallback chain names the child that
    answered), else ``name``. The tracker only observes: its parameters and properties are
    the child's.

    Args:
        child: The sampler to wrap.
        name: The solver name to record; default the child's ``name`` or class name.
    """

    def __init__(self, child: dimod.Sampler, name: str | None = None) -> None:
        super().__init__(child)
        self.name = name or _solver_name(child)

    @property
    def properties(self) -> dict[str, Any]:
        """The child's properties."""
        return dict(self.child.properties)

    def sample(self, bqm: dimod.BinaryQuadraticModel, **parameters: Any) -> dimod.SampleSet:
        """Sample with the child and record who answered and how long it took."""
        start = time.perf_counter()
        sampleset = self.child.sample(bqm, **parameters)
        sampleset.resolve()
        sampleset.info.setdefault("solver", self.name)
        sampleset.info["solve_seconds"] = time.perf_counter() - start
        return sampleset


class TimeLimitComposite(_SingleChild):
    """Gives up on the child after ``timeout_s`` seconds with :class:`SolverTimeoutError`.

    The call runs in a daemon worker thread; Python cannot stop a thread, so a child that
    overruns keeps computing in the background until it returns, but nobody waits for it.
    The child's own exceptions are re-raised unchanged.

    Args:
        child: The sampler to wrap.
        timeout_s: Seconds to wait for an answer (positive).
    """

    def __init__(self, child: dimod.Sampler, timeout_s: float) -> None:
        if timeout_s is None or not timeout_s > 0:
            raise ConfigError(f"timeout_s must be a positive number of seconds, got {timeout_s!r}")
        super().__init__(child)
        self.timeout_s = timeout_s
        self.name = _solver_name(child)

    @property
    def properties(self) -> dict[str, Any]:
        """``timeout_s`` and ``child_properties`` (the child's properties)."""
        return {"timeout_s": self.timeout_s, "child_properties": dict(self.child.properties)}

    def sample(self, bqm: dimod.BinaryQuadraticModel, **parameters: Any) -> dimod.SampleSet:
        """``child.sample(bqm, **parameters)``, resolved, or a timeout after ``timeout_s``."""
        outcome: dict[str, Any] = {}

        def work() -> None:
            try:
                sampleset = self.child.sample(bqm, **parameters)
                sampleset.resolve()
                outcome["result"] = sampleset
            except BaseException as exc:  # handed to the waiting thread, which re-raises it
                outcome["error"] = exc

        worker = threading.Thread(target=work, name="qtrain-solver", daemon=True)
        worker.start()
        worker.join(self.timeout_s)
        if worker.is_alive():
            raise SolverTimeoutError(f"no answer within timeout_s={self.timeout_s:g} s")
        if "error" in outcome:
            raise outcome["error"]
        return outcome["result"]


class FallbackComposite(dimod.ComposedSampler):
    """Tries each child in order until one returns samples.

    A child fails on any exception (``SolverSizeError``, ``SolverTimeoutError`` from a
    :class:`TimeLimitComposite`, ...) or on an empty sample set; the failure is recorded as
    ``{"solver": name, "reason": one line}`` and the next child is tried. The result's
    ``info`` has ``solver`` (who answered) and ``fallback`` (the failures, empty if none),
    on top of the child's own info.

    Each child receives only the parameters in its ``parameters`` (and validates their
    values itself); a parameter no child accepts is rejected up front with ``ConfigError``.
    If every child fails, :class:`SolverError` lists every reason.

    Args:
        children: ``(name, sampler)`` pairs, in the order to try them.
    """

    def __init__(self, children: Sequence[tuple[str, dimod.Sampler]]) -> None:
        if not children:
            raise ConfigError("solver chain is empty: name at least one solver")
        names = [name for name, _ in children]
        if len(set(names)) != len(names):
            raise ConfigError(f"solver chain names a solver twice: {', '.join(names)}")
        self.names = names
        self._children = [sampler for _, sampler in children]
        self.name = ",".join(names)

    @property
    def children(self) -> list[dimod.Sampler]:
        """The samplers in the order they are tried."""
        return self._children

    @property
    def parameters(self) -> dict[str, Any]:
        """Every parameter at least one child accepts."""
        merged: dict[str, Any] = {}
        for child in self._children:
            merged.update(child.parameters)
        return merged

    @property
    def properties(self) -> dict[str, Any]:
        """``chain`` (the names) and each child's properties by name."""
        return {
            "chain": list(self.names),
            "child_properties": {
                name: dict(child.properties)
                for name, child in zip(self.names, self._children, strict=True)
            },
        }

    def sample(self, bqm: dimod.BinaryQuadraticModel, **parameters: Any) -> dimod.SampleSet:
        """Sample with the first child that succeeds; see the class docstring."""
        reject_unknown(f"solver chain {self.name!r}", parameters, self.parameters)
        failures: list[dict[str, str]] = []
        for position, (name, child) in enumerate(zip(self.names, self._children, strict=True)):
            own = {key: value for key, value in parameters.items() if key in child.parameters}
            try:
                failpoints.solver_call(position)
                sampleset = child.sample(bqm, **own)
                sampleset.resolve()
                if len(sampleset) == 0:
                    raise SolverError("returned no samples")
            except Exception as exc:
                # the reason goes to events.jsonl and report.json: credentials removed
                failures.append({"solver": name, "reason": one_line(exc, None, scrub=True)})
                continue
            sampleset.info.update(solver=name, fallback=failures)
            return sampleset
        reasons = "; ".join(f"{item['solver']}: {item['reason']}" for item in failures)
        raise SolverError(f"every solver in the chain {self.name!r} failed: {reasons}")
