"""Solvers by name: ``make_sampler``, ``build_solver`` and the ``register_solver`` hook.

Built-in names are registered here (``azure`` lazily: its module loads on first use);
another module adds one with ``register_solver("name", SamplerClass)`` (any callable taking
keyword options and returning a dimod sampler), or an installed package through the
``qtrain.solvers`` entry-point group, without editing this file.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib.metadata import entry_points
from typing import Any

import dimod

from qtrain import names
from qtrain.errors import ConfigError
from qtrain.solvers._params import suggest
from qtrain.solvers.classical import SimulatedAnnealingSampler, TabuSampler
from qtrain.solvers.composites import FallbackComposite, TimeLimitComposite, TrackingComposite
from qtrain.solvers.exact import ExactSampler
from qtrain.solvers.qaoa import QaoaSimSampler

SolverFactory = Callable[..., dimod.Sampler]

#: The solvers that ship with qtrain (``available_solvers()`` adds registered ones).
SOLVER_NAMES: tuple[str, ...] = names.BUILTIN_SOLVERS

ENTRY_POINT_GROUP = names.SOLVER_ENTRY_POINT_GROUP


def _azure(**options: Any) -> dimod.Sampler:
    """The ``azure`` sampler, imported on first use (it needs the ``qtrain[azure]`` extra)."""
    from qtrain.solvers.azure import AzureQaoaSampler

    return AzureQaoaSampler(**options)


_FACTORIES: dict[str, SolverFactory] = {
    "exact": ExactSampler,
    "sa": SimulatedAnnealingSampler,
    "tabu": TabuSampler,
    "qaoa-sim": QaoaSimSampler,
    "azure": _azure,
}
_entry_points_loaded = False


def register_solver(name: str, factory: SolverFactory, *, replace: bool = False) -> None:
    """Make ``factory(**options)`` available as ``make_sampler(name, **options)``.

    Args:
        name: The solver name used in configs and chains (``"azure"``).
        factory: A callable (usually the sampler class) returning a ``dimod.Sampler``; it
            should import optional SDKs lazily and raise ``MissingExtraError`` if absent.
        replace: Allow replacing an already registered name (tests, plugins).
    """
    if not name or not isinstance(name, str) or "," in name:
        raise ValueError(f"solver name must be a non-empty string without commas, got {name!r}")
    if not callable(factory):
        raise TypeError(f"solver factory for {name!r} must be callable, got {factory!r}")
    if name in names.BASELINE_PROPOSERS:
        raise ValueError(f"solver name {name!r} is taken by a baseline proposer")
    if name in _FACTORIES and not replace and _FACTORIES[name] is not factory:
        raise ValueError(f"solver {name!r} is already registered (pass replace=True)")
    _FACTORIES[name] = factory
    names.add_solver_name(name)


def unregister_solver(name: str) -> None:
    """Remove a registered solver (for tests and plugins); built-ins cannot be removed."""
    if name in SOLVER_NAMES:
        raise ValueError(f"built-in solver {name!r} cannot be unregistered")
    _FACTORIES.pop(name, None)
    names.remove_solver_name(name)


def _load_entry_points() -> None:
    """Register the ``qtrain.solvers`` entry points of installed packages (once, lazily)."""
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        if entry.name not in _FACTORIES and entry.name in names.solver_names():
            _FACTORIES[entry.name] = _lazy(entry.load)


def _lazy(load: Callable[[], SolverFactory]) -> SolverFactory:
    """A factory that imports the plug-in only when a sampler is made."""

    def factory(**options: Any) -> dimod.Sampler:
        return load()(**options)

    return factory


def available_solvers() -> list[str]:
    """Every solver name ``make_sampler`` accepts, built-ins first (see ``qtrain.names``)."""
    return list(names.solver_names())


def make_sampler(name: str, **options: Any) -> dimod.Sampler:
    """A new sampler for ``name`` built with constructor ``options`` (e.g. ``max_variables``).

    Raises:
        ConfigError: ``name`` is not a registered solver, or an option is not accepted.
    """
    _load_entry_points()
    choices = available_solvers()
    if name not in _FACTORIES:
        raise ConfigError(
            f"unknown solver {name!r}{suggest(str(name), choices)}; choose one of: "
            f"{', '.join(choices)}"
        )
    try:
        return _FACTORIES[name](**options)
    except TypeError as exc:
        if options and "unexpected keyword argument" in str(exc):
            raise ConfigError(f"solver {name!r} does not accept option(s): {exc}") from exc
        raise


def parse_chain(chain: list[str] | tuple[str, ...] | str) -> list[str]:
    """``"azure,sa"`` or ``["azure", "sa"]`` -> ``["azure", "sa"]`` (names stripped)."""
    parts = chain.split(",") if isinstance(chain, str) else list(chain)
    parts = [str(part).strip() for part in parts]
    if not parts or not all(parts):
        raise ConfigError(f"solver chain {chain!r} must name at least one solver, without blanks")
    return parts


def build_solver(
    chain: list[str] | str,
    timeout_s: float | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
) -> TrackingComposite:
    """The solver for ``chain``: ``Tracking(Fallback([TimeLimit(child), ...]))``.

    One name gives a one-element chain. The sample set's ``info`` has ``solver`` (who
    answered), ``fallback`` (the failures before it, empty if none) and ``solve_seconds``
    (the whole call, failed attempts included); ``properties`` has ``chain``.

    Args:
        chain: Solver names in the order to try, as a list or ``"azure,sa"``.
        timeout_s: Seconds to wait for each solver; None = no limit.
        options: Constructor options per solver name, e.g. ``{"qaoa-sim": {"max_variables": 16}}``.
    """
    chain_names = parse_chain(chain)
    options = dict(options or {})
    stray = sorted(set(options) - set(chain_names))
    if stray:
        raise ConfigError(
            f"solver options given for {', '.join(map(repr, stray))}, which is not in the "
            f"chain {', '.join(chain_names)}"
        )
    children = []
    for name in chain_names:
        sampler = make_sampler(name, **dict(options.get(name, {})))
        if timeout_s is not None:
            sampler = TimeLimitComposite(sampler, timeout_s)
        children.append((name, sampler))
    return TrackingComposite(FallbackComposite(children))
