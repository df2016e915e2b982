"""Discrete hyperparameter search spaces: named parameters with a few levels each.

A :class:`SearchSpace` is what every optimizer in :mod:`qtrain.hpo` searches. Levels may be
any value that compares with ``==`` (lists included, e.g. LoRA target modules); a
configuration is a ``dict`` from parameter name to one of its levels.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import product
from typing import TYPE_CHECKING, Any, Literal

from qtrain.errors import ConfigError

if TYPE_CHECKING:
    from qtrain.config.schema import ParameterSpec

Scope = Literal["cycle", "run"]
Kind = Literal["categorical", "ordinal"]


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _freeze(value: Any) -> Any:
    """A hashable stand-in for a level, so that ``[1, 2]`` and ``(1, 2)`` are the same level."""
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    return value


@dataclass(frozen=True, eq=False)
class Parameter:
    """One searchable hyperparameter.

    Args:
        name: The parameter's name (a dotted config path such as ``training.learning_rate``).
        values: Its levels, at least one, no duplicates.
        default: The level used when nothing else is known (default: the first level).
        scope: ``cycle`` (may change between cycles) or ``run`` (fixed once chosen).
        kind: ``ordinal`` (levels are ordered as given) or ``categorical``; by default a
            sorted list of numbers is ordinal and anything else (strings, booleans, lists)
            is categorical.
    """

    name: str
    values: tuple[Any, ...]
    default: Any = None
    scope: Scope = "cycle"
    kind: Kind | None = None

    def __post_init__(self) -> None:
        values = tuple(self.values)
        object.__setattr__(self, "values", values)
        where = f"search_space.{self.name}"
        if not self.name:
            raise ConfigError("search_space: a parameter needs a non-empty name")
        if not values:
            raise ConfigError(f"{where}: values is empty; give at least one level")
        keys = [_freeze(v) for v in values]
        for i, key in enumerate(keys):
            if key in keys[:i]:
                raise ConfigError(f"{where}: value {values[i]!r} is listed twice")
        if self.default is None:
            object.__setattr__(self, "default", values[0])
        elif _freeze(self.default) not in keys:
            raise ConfigError(f"{where}: default {self.default!r} is not one of {list(values)!r}")
        if self.scope not in ("cycle", "run"):
            raise ConfigError(f"{where}: scope must be 'cycle' or 'run', not {self.scope!r}")
        if self.kind is None:
            numeric = all(_is_number(v) for v in values)
            ascending = numeric and list(values) == sorted(values)
            ordered = ascending or (numeric and list(values) == sorted(values, reverse=True))
            object.__setattr__(self, "kind", "ordinal" if ordered else "categorical")
        elif self.kind not in ("categorical", "ordinal"):
            raise ConfigError(
                f"{where}: kind must be 'categorical' or 'ordinal', not {self.kind!r}"
            )

    def __len__(self) -> int:
        return len(self.values)

    def index(self, value: Any) -> int:
        """The position of ``value`` among the levels; ``ConfigError`` if it is not one."""
        key = _freeze(value)
        for i, level in enumerate(self.values):
            if _freeze(level) == key:
                return i
        raise ConfigError(
            f"search_space.{self.name}: {value!r} is not one of {list(self.values)!r}"
        )


class SearchSpace:
    """An ordered set of :class:`Parameter`; its configurations are the product of the levels."""

    def __init__(self, parameters: Sequence[Parameter]) -> None:
        names = [p.name for p in parameters]
        if not names:
            raise ConfigError("search_space is empty: give at least one parameter")
        for i, name in enumerate(names):
            if name in names[:i]:
                raise ConfigError(f"search_space: parameter '{name}' is given twice")
        self.parameters: tuple[Parameter, ...] = tuple(parameters)
        self._by_name = {p.name: p for p in self.parameters}

    @classmethod
    def from_dict(cls, levels: Mapping[str, Sequence[Any]], scope: Scope = "cycle") -> SearchSpace:
        """A space from ``{"lr": [1e-4, 1e-3], ...}``: defaults are the first levels."""
        for name, values in levels.items():
            if isinstance(values, str) or not isinstance(values, Sequence):
                raise ConfigError(f"search_space.{name}: values must be a list of levels")
        return cls([Parameter(name, tuple(values), scope=scope) for name, values in levels.items()])

    @classmethod
    def from_config(cls, search_space: Mapping[str, ParameterSpec]) -> SearchSpace:
        """A space from ``RunConfig.search_space`` (values, default and scope per parameter)."""
        return cls(
            [
                Parameter(name, tuple(spec.values), default=spec.default, scope=spec.scope)
                for name, spec in search_space.items()
            ]
        )

    def __len__(self) -> int:
        return len(self.parameters)

    def __iter__(self) -> Iterator[Parameter]:
        return iter(self.parameters)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __getitem__(self, name: str) -> Parameter:
        return self._by_name[name]

    def __repr__(self) -> str:
        inner = ", ".join(f"{p.name}={list(p.values)!r}" for p in self.parameters)
        return f"SearchSpace({inner})"

    @property
    def names(self) -> tuple[str, ...]:
        """Parameter names in order."""
        return tuple(self._by_name)

    @property
    def size(self) -> int:
        """The number of configurations."""
        return math.prod(len(p) for p in self.parameters)

    @property
    def cycle_params(self) -> tuple[Parameter, ...]:
        """The parameters that may change between cycles."""
        return tuple(p for p in self.parameters if p.scope == "cycle")

    @property
    def run_params(self) -> tuple[Parameter, ...]:
        """The parameters fixed once a run has started."""
        return tuple(p for p in self.parameters if p.scope == "run")

    def defaults(self) -> dict[str, Any]:
        """The default configuration."""
        return {p.name: p.default for p in self.parameters}

    def validate(self, params: Mapping[str, Any]) -> None:
        """Raise ``ConfigError`` unless ``params`` sets every parameter to one of its levels."""
        unknown = [name for name in params if name not in self._by_name]
        if unknown:
            raise ConfigError(f"'{unknown[0]}' is not a parameter of the search space {self.names}")
        missing = [name for name in self._by_name if name not in params]
        if missing:
            raise ConfigError(f"configuration has no value for search_space.{missing[0]}")
        for name, value in params.items():
            self._by_name[name].index(value)

    def contains(self, params: Mapping[str, Any]) -> bool:
        """Whether ``params`` sets every parameter to one of its levels."""
        try:
            self.validate(params)
        except ConfigError:
            return False
        return True

    def key(self, params: Mapping[str, Any]) -> tuple[int, ...]:
        """The level indices of a (valid) configuration: a hashable identity."""
        self.validate(params)
        return tuple(p.index(params[p.name]) for p in self.parameters)

    def from_key(self, key: Sequence[int]) -> dict[str, Any]:
        """The configuration with the given level indices."""
        return {p.name: p.values[i] for p, i in zip(self.parameters, key, strict=True)}

    def iter_keys(self) -> Iterator[tuple[int, ...]]:
        """Every configuration's key, in lexicographic order (mind :attr:`size`)."""
        return product(*(range(len(p)) for p in self.parameters))

    def restrict(self, fixed: Mapping[str, Any]) -> SearchSpace:
        """A sub-space in which each parameter in ``fixed`` has its given value as only level."""
        for name, value in fixed.items():
            if name not in self._by_name:
                raise ConfigError(f"cannot fix '{name}': not a parameter of {self.names}")
            self._by_name[name].index(value)
        return SearchSpace(
            [
                Parameter(p.name, (p.values[p.index(fixed[p.name])],), scope=p.scope, kind=p.kind)
                if p.name in fixed
                else p
                for p in self.parameters
            ]
        )
