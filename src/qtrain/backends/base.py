"""The training-backend interface shared by unsloth and plain transformers + PEFT."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from qtrain.config.schema import LoraConfig, ModelConfig
from qtrain.modeling.source import ModelSource


@dataclass(frozen=True)
class LoadRequest:
    """Everything a backend needs to load a base model and its tokenizer."""

    model: ModelConfig
    source: ModelSource
    device: str
    dtype: Any
    max_seq_length: int


class TrainingBackend(Protocol):
    """Loads models and adds or removes LoRA adapters; training itself is shared (TRL SFT)."""

    name: str

    def load(self, request: LoadRequest) -> tuple[Any, Any]:
        """Load the base model (on ``request.device``) and its tokenizer."""
        ...

    def attach_adapter(self, base: Any, lora: LoraConfig, seed: int, init_from: Path | None) -> Any:
        """Return a trainable PEFT model: a fresh adapter, or one initialised from ``init_from``."""
        ...

    def detach_adapter(self, peft_model: Any) -> Any:
        """Remove the adapter layers and return the untouched base model for the next trial."""
        ...
