"""Model sources, devices and dtypes."""

from qtrain.modeling.device import check_quantization, resolve_device, resolve_dtype
from qtrain.modeling.preflight import preflight
from qtrain.modeling.source import ModelSource, resolve_model_source

__all__ = [
    "ModelSource",
    "check_quantization",
    "preflight",
    "resolve_device",
    "resolve_dtype",
    "resolve_model_source",
]
