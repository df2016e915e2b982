"""What the config alone shows to be wrong about the model and the machine."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from qtrain.errors import ConfigError
from qtrain.modeling.device import check_quantization, resolve_device
from qtrain.modeling.source import resolve_model_source

if TYPE_CHECKING:
    from qtrain.config.schema import RunConfig


def preflight(config: RunConfig) -> None:
    """Raise the one-line error a run would reach only after loading: ``device: cuda`` without
    a GPU, quantization the device cannot do, a model folder that is missing, incomplete or
    pickle-only, a ``training.max_length`` beyond a local model's context. Cheap: nothing
    is loaded, nothing is written."""
    device = resolve_device(config.runtime)
    check_quantization(config.model, device)
    source = resolve_model_source(config.model.name, config.model.revision)
    if source.local:
        _check_context(Path(source.location) / "config.json", config.training.max_length)


def _check_context(model_config: Path, max_length: int) -> None:
    """``training.max_length`` within the model's context (a local folder's config.json)."""
    try:
        context = json.loads(model_config.read_text(encoding="utf-8")).get(
            "max_position_embeddings"
        )
    except (OSError, ValueError, AttributeError):
        return  # the loader reports an unreadable config.json with its own message
    if isinstance(context, int) and max_length > context:
        raise ConfigError(
            f"training.max_length {max_length} is longer than the model's context "
            f"({context} tokens, max_position_embeddings in {model_config}): lower it"
        )
