"""Training backends: ``hf`` (transformers + PEFT) and ``unsloth`` (FastLanguageModel)."""

from __future__ import annotations

from qtrain.backends.base import LoadRequest, TrainingBackend
from qtrain.backends.hf import HFBackend

__all__ = ["HFBackend", "LoadRequest", "TrainingBackend", "select_backend"]


def select_backend(name: str, device: str) -> TrainingBackend:
    """``hf``, ``unsloth``, or ``auto`` (unsloth where installed and on a CUDA GPU, else hf)."""
    if name == "hf":
        return HFBackend()
    from qtrain.backends.unsloth import UnslothBackend, unsloth_available

    if name == "unsloth":
        return UnslothBackend.create(device)
    return UnslothBackend.create(device) if unsloth_available(device) else HFBackend()
