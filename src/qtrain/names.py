"""The registered names of solvers, proposers and task metrics, read without loading them.

The config validates ``quantum.solver_type``, ``quantum.fallback`` and
``evaluation.metric`` against these lists, so it never imports the solvers or the
metrics. The registries keep them in sync: ``qtrain.solvers.register_solver`` calls
:func:`add_solver_name`, ``qtrain.evaluation.register_metric`` calls
:func:`add_metric_name`. Installed packages add solvers through the ``qtrain.solvers``
entry-point group; only their names are read here, nothing is imported.

This is a bottom-layer module: it imports only the standard library and ``qtrain.errors``.
"""

from __future__ import annotations

import functools
from importlib.metadata import entry_points

from qtrain.errors import ConfigError

#: The entry-point group through which installed packages add solvers.
SOLVER_ENTRY_POINT_GROUP = "qtrain.solvers"

#: The QUBO solvers that ship with qtrain, in the order they are listed.
BUILTIN_SOLVERS: tuple[str, ...] = ("exact", "sa", "tabu", "qaoa-sim", "azure")

#: Proposers that need no QUBO solver; every solver name is a proposer too (``qubo-NAME``).
BASELINE_PROPOSERS: tuple[str, ...] = ("fixed", "random", "optuna-tpe")

#: The task metrics that ship with qtrain.
BUILTIN_METRICS: tuple[str, ...] = ("exact_match", "prefix_match", "char_accuracy")

_added_solvers: dict[str, None] = {}  # insertion-ordered set
_removed_solvers: set[str] = set()
_added_metrics: dict[str, None] = {}


@functools.cache
def entry_point_solver_names() -> tuple[str, ...]:
    """The names in the ``qtrain.solvers`` entry-point group (read once per process, sorted).

    Only the installed packages' metadata is read; no plug-in is imported.
    """
    return tuple(sorted({entry.name for entry in entry_points(group=SOLVER_ENTRY_POINT_GROUP)}))


def add_solver_name(name: str) -> None:
    """Record a solver registered at run time (``register_solver`` calls this)."""
    _added_solvers[name] = None
    _removed_solvers.discard(name)


def remove_solver_name(name: str) -> None:
    """Forget a solver unregistered at run time, an entry-point one included."""
    _added_solvers.pop(name, None)
    _removed_solvers.add(name)


def solver_names() -> tuple[str, ...]:
    """Every solver name a config may use: the built-ins first, then the others sorted."""
    extra = (set(_added_solvers) | set(entry_point_solver_names())) - set(BUILTIN_SOLVERS)
    return BUILTIN_SOLVERS + tuple(sorted(extra - _removed_solvers))


def proposer_names() -> tuple[str, ...]:
    """Every ``quantum.solver_type`` a config may use: the baselines, then the solver names."""
    return BASELINE_PROPOSERS + tuple(
        name for name in solver_names() if name not in BASELINE_PROPOSERS
    )


def add_metric_name(name: str) -> None:
    """Record a task metric registered at run time (``register_metric`` calls this)."""
    _added_metrics[name] = None


def metric_names() -> tuple[str, ...]:
    """Every ``evaluation.metric`` a config may use: the built-ins, then the registered ones."""
    return BUILTIN_METRICS + tuple(name for name in _added_metrics if name not in BUILTIN_METRICS)


def check_metric_name(name: str) -> None:
    """Raise a one-line :class:`ConfigError` listing the choices unless ``name`` is a metric."""
    choices = metric_names()
    if name not in choices:
        raise ConfigError(
            f"evaluation.metric '{name}' is unknown: choose from " + ", ".join(sorted(choices))
        )
