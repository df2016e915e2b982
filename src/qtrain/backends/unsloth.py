"""The unsloth backend: ``FastLanguageModel`` loading and LoRA, trained with TRL's SFTTrainer.

unsloth is optional (``pip install 'qtrain[unsloth]'`` on GPU machines). Importing it patches
transformers, PEFT and TRL process-wide, so it is imported only when this backend is chosen.
On CPU it works from unsloth 2026.10.9 on (its CPU mode) when asked for explicitly with
``model.backend: unsloth``; ``auto`` picks it only where a CUDA GPU is present, because on CPU
it brings no speed-up and the process-wide patches would change every other model in it.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

import torch

from qtrain.backends.base import LoadRequest
from qtrain.backends.hf import ensure_pad_token
from qtrain.config.schema import LoraConfig
from qtrain.errors import MissingExtraError, ModelLoadError
from qtrain.modeling.source import hub_error_hint

MIN_CPU_VERSION = "2026.10.9"


def unsloth_installed() -> bool:
    """Whether the unsloth package is importable (without importing it)."""
    return importlib.util.find_spec("unsloth") is not None


def unsloth_available(device: str) -> bool:
    """``auto`` uses unsloth where it is installed and a CUDA GPU is the device."""
    return device == "cuda" and unsloth_installed()


class UnslothBackend:
    """FastLanguageModel.from_pretrained / get_peft_model behind the backend Protocol."""

    name = "unsloth"

    def __init__(self, fast_language_model: Any, device: str) -> None:
        self.flm = fast_language_model
        self.device = device

    @classmethod
    def create(cls, device: str) -> UnslothBackend:
        """Import unsloth (once per process) and check it can serve ``device``."""
        if not unsloth_installed():
            raise MissingExtraError("unsloth", "unsloth", "model.backend 'unsloth'")
        # unsloth's statistics ping and TRL's telemetry reach the network; keep runs offline-safe.
        os.environ.setdefault("UNSLOTH_DISABLE_STATISTICS", "1")
        os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
        import unsloth
        from unsloth import FastLanguageModel

        if device == "cpu" and _version_tuple(unsloth.__version__) < _version_tuple(
            MIN_CPU_VERSION
        ):
            raise ModelLoadError(
                f"unsloth {unsloth.__version__} has no CPU mode (needs >= {MIN_CPU_VERSION}): "
                "upgrade unsloth or use model.backend=hf"
            )
        return cls(FastLanguageModel, device)

    def load(self, request: LoadRequest) -> tuple[Any, Any]:
        """FastLanguageModel.from_pretrained with 4-bit only when configured (and on a GPU)."""
        kwargs = request.source.from_pretrained_kwargs()
        try:
            model, tokenizer = self.flm.from_pretrained(
                model_name=request.source.location,
                max_seq_length=request.max_seq_length,
                dtype=None if request.model.dtype == "auto" else request.dtype,
                load_in_4bit=request.model.quantization == "4bit",
                load_in_8bit=request.model.quantization == "8bit",
                full_finetuning=request.model.training_mode == "full",
                trust_remote_code=request.model.trust_remote_code,
                **kwargs,
            )
        except (OSError, ValueError) as exc:
            raise hub_error_hint(request.source, exc) from None
        ensure_pad_token(tokenizer)
        return model, tokenizer

    def attach_adapter(self, base: Any, lora: LoraConfig, seed: int, init_from: Path | None) -> Any:
        """A fresh unsloth LoRA (seeded), or the adapter at ``init_from`` loaded trainable."""
        if init_from is not None:
            from peft import PeftModel

            model = PeftModel.from_pretrained(base, str(init_from), is_trainable=True)
        else:
            torch.manual_seed(seed)
            model = self.flm.get_peft_model(
                base,
                r=lora.r,
                lora_alpha=lora.alpha,
                lora_dropout=lora.dropout,
                target_modules=list(lora.target_modules),
                bias="none",
                use_gradient_checkpointing=False,
                random_state=seed,
            )
        self.flm.for_training(model)
        return model

    def detach_adapter(self, peft_model: Any) -> Any:
        """Unload the LoRA layers without merging them."""
        return peft_model.unload()


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split(".")[:3] if p.isdigit())
