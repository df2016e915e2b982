"""Choosing the device and dtype, and the hardware rules (4-bit needs a GPU)."""

from __future__ import annotations

import torch

from qtrain.config.schema import ModelConfig, RuntimeConfig
from qtrain.errors import ModelLoadError

_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def resolve_device(runtime: RuntimeConfig) -> str:
    """``auto`` means cuda when a GPU is visible, else cpu; asking for cuda without one fails."""
    has_cuda = torch.cuda.is_available()
    if runtime.device == "cuda" and not has_cuda:
        raise ModelLoadError(
            "runtime.device is 'cuda' but no GPU is visible: use runtime.device=cpu"
        )
    if runtime.device == "auto":
        return "cuda" if has_cuda else "cpu"
    return runtime.device


def resolve_dtype(model: ModelConfig, device: str) -> torch.dtype:
    """float32 on CPU (bf16 is slow there), bf16 on GPUs that support it, else fp16."""
    if model.dtype != "auto":
        return _DTYPES[model.dtype]
    if device == "cpu":
        return torch.float32
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def check_quantization(model: ModelConfig, device: str) -> None:
    """Quantized (qlora / 4-bit / 8-bit) loading needs bitsandbytes on a CUDA GPU."""
    if model.quantization == "none":
        return
    if device != "cuda":
        raise ModelLoadError(
            f"model.quantization '{model.quantization}' (training_mode '{model.training_mode}') "
            "needs a CUDA GPU; on CPU use model.training_mode=lora model.quantization=none"
        )
