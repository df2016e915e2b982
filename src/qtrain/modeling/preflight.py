"""What the config alone shows to be wrong about the model and the machine."""

from __future__ import annotations

from typing import TYPE_CHECKING

from qtrain.modeling.device import check_quantization, resolve_device
from qtrain.modeling.source import resolve_model_source

if TYPE_CHECKING:
    from qtrain.config.schema import RunConfig


def preflight(config: RunConfig) -> None:
    """Raise the one-line error a run would reach only after loading: ``device: cuda`` without
    a GPU, quantization the device cannot do, a model folder that is missing, incomplete or
    pickle-only. Cheap: nothing is loaded, nothing is written."""
    device = resolve_device(config.runtime)
    check_quantization(config.model, device)
    resolve_model_source(config.model.name, config.model.revision)
