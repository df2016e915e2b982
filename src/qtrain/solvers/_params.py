"""Parameter checks shared by every qtrain sampler and composite.

dimod's default (``Sampler.remove_unknown_kwargs``) warns and drops a misspelled parameter;
qtrain rejects it instead, with one line naming the solver, the parameter and the valid ones.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

from qtrain.errors import ConfigError


def suggest(name: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``choices``, or an empty string."""
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def reject_unknown(owner: str, given: Mapping[str, Any], valid: Iterable[str]) -> None:
    """Raise :class:`ConfigError` if ``given`` has a key that is not in ``valid``.

    Args:
        owner: What the parameters are for, as the message should name it (``solver 'sa'``).
        given: The keyword arguments a caller passed.
        valid: The parameter names ``owner`` understands.
    """
    valid = sorted(valid)
    unknown = [key for key in given if key not in valid]
    if not unknown:
        return
    hints = ", ".join(f"{key!r}{suggest(key, valid)}" for key in unknown)
    noun = "parameter" if len(unknown) == 1 else "parameters"
    raise ConfigError(
        f"{owner} got unknown {noun} {hints}; valid parameters: {', '.join(valid) or 'none'}"
    )


def check_num_reads(owner: str, value: Any, *, allow_none: bool = False) -> None:
    """Raise :class:`ConfigError` unless ``value`` is a positive int (or None if allowed)."""
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{owner}: num_reads must be a positive integer, got {value!r}")


def check_seed(owner: str, value: Any) -> None:
    """Raise :class:`ConfigError` unless ``value`` is None or an int in [0, 2**32)."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**32:
        raise ConfigError(f"{owner}: seed must be None or an integer in [0, 2**32), got {value!r}")


def check_max_variables(owner: str, value: Any) -> int | None:
    """Return ``value`` if it is None or a positive int, else raise :class:`ConfigError`."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{owner}: max_variables must be a positive integer, got {value!r}")
    return value
