"""A model session: the base model loaded once, adapters attached per trial."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from qtrain.backends import select_backend
from qtrain.backends.base import LoadRequest, TrainingBackend
from qtrain.config.schema import LoraConfig, RunConfig
from qtrain.modeling import check_quantization, resolve_device, resolve_dtype, resolve_model_source
from qtrain.rundir import FULL_WEIGHTS


class ModelSession:
    """Holds the base model and tokenizer for a whole run (loading phi-4 once, not per trial)."""

    def __init__(self, config: RunConfig, backend: TrainingBackend | None = None) -> None:
        from qtrain.backends.quiet import quiet_libraries

        torch.set_num_threads(config.runtime.threads)
        quiet_libraries()
        self.config = config
        self.device = resolve_device(config.runtime)
        check_quantization(config.model, self.device)
        self.dtype = resolve_dtype(config.model, self.device)
        self.source = resolve_model_source(config.model.name, config.model.revision)
        self.backend = backend or select_backend(config.model.backend, self.device)
        self.base, self.tokenizer = self.backend.load(
            LoadRequest(
                config.model, self.source, self.device, self.dtype, config.training.max_length
            )
        )

    @property
    def full_finetune(self) -> bool:
        """Whether trials train all weights instead of a LoRA adapter."""
        return self.config.model.training_mode == "full"

    @contextmanager
    def trainable(self, lora: LoraConfig, seed: int, init_from: Path | None) -> Iterator[Any]:
        """Yield a trainable model starting from ``init_from`` (or the base model)."""
        if self.full_finetune:
            model = copy.deepcopy(self.base)
            if init_from is not None:
                from qtrain.checkpoints.safe_load import load_state_dict

                model.load_state_dict(load_state_dict(init_from / FULL_WEIGHTS), strict=False)
            yield model
            return
        peft_model = self.backend.attach_adapter(self.base, lora, seed, init_from)
        try:
            yield peft_model
        finally:
            self.base = self.backend.detach_adapter(peft_model)
