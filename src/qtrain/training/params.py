"""Applying proposed hyperparameters (dotted config paths) to a run config."""

from __future__ import annotations

from typing import Any

from qtrain.config.loader import set_dotted, validate_config
from qtrain.config.schema import RunConfig


def apply_params(config: RunConfig, params: dict[str, Any]) -> RunConfig:
    """A validated copy of ``config`` with each ``section.key`` in ``params`` set."""
    data = config.model_dump(mode="python")
    for key, value in params.items():
        set_dotted(data, key, value)
    return validate_config(data, source="proposed hyperparameters")
