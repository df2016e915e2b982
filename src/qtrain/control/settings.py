"""``qtrain set``: the settings a running or paused run takes, validated by the schema.

Applied from the next cycle: ``early_stopping.max_cycles`` (extend a run that goes well),
``early_stopping.patience``, ``training.steps_per_cycle``, and a search-space parameter's
``default`` (``search_space.<name>.default``: where the defaults' lineage and, before an
incumbent exists, the proposals start).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import yaml

from qtrain.config.loader import validate_config
from qtrain.config.schema import RunConfig
from qtrain.errors import ConfigError

SETTABLE = ("early_stopping.max_cycles", "early_stopping.patience", "training.steps_per_cycle")


def parse_value(raw: Any) -> Any:
    """A value from the command line, read as YAML (``3``, ``1e-3``, ``true``)."""
    if not isinstance(raw, str):
        return raw
    try:
        return yaml.safe_load(raw) if raw.strip() else raw
    except yaml.YAMLError:
        return raw


def apply_settings(config: RunConfig, settings: Mapping[str, Any]) -> RunConfig:
    """``config`` with ``settings`` ({dotted key: value}) applied, validated by the schema.

    Raises ``ValueError`` with one line naming the key (unknown, not settable, bad value).
    """
    data = config.model_dump(mode="json")
    for key, raw in settings.items():
        value = parse_value(raw)
        if key in SETTABLE:
            section, name = key.split(".")
            data[section][name] = value
        elif key.startswith("search_space.") and key.endswith(".default"):
            name = key.removeprefix("search_space.").removesuffix(".default")
            if name not in data["search_space"]:
                names = ", ".join(data["search_space"]) or "none"
                raise ValueError(f"set {key}: no search-space parameter {name!r} ({names})")
            data["search_space"][name] = {**data["search_space"][name], "default": value}
        else:
            allowed = ", ".join([*SETTABLE, "search_space.<name>.default"])
            raise ValueError(f"set {key}: not a setting a running run takes; use one of {allowed}")
    try:
        return validate_config(copy.deepcopy(data), "set")
    except ConfigError as exc:
        raise ValueError(str(exc)) from None


def settings_diff(before: RunConfig, after: RunConfig, keys: list[str]) -> dict[str, list[Any]]:
    """``{key: [old, new]}`` for the dotted ``keys`` that changed."""
    old, new = before.model_dump(mode="json"), after.model_dump(mode="json")
    diff = {}
    for key in keys:
        a, b = _get(old, key), _get(new, key)
        if a != b:
            diff[key] = [a, b]
    return diff


def _get(data: dict[str, Any], key: str) -> Any:
    node: Any = data
    for part in key.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node
