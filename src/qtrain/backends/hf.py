"""The transformers + PEFT backend: works for any Hugging Face causal LM."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from qtrain.backends.base import LoadRequest
from qtrain.config.schema import LoraConfig
from qtrain.errors import MissingExtraError, ModelLoadError
from qtrain.modeling.source import hub_error_hint


class HFBackend:
    """Plain transformers loading with PEFT LoRA adapters (bitsandbytes for 4/8-bit on GPU)."""

    name = "hf"

    def load(self, request: LoadRequest) -> tuple[Any, Any]:
        """Load tokenizer and model with ``local_files_only`` for local sources."""
        from transformers import AutoModelForCausalLM, AutoTokenizer

        kwargs = request.source.from_pretrained_kwargs()
        kwargs["trust_remote_code"] = request.model.trust_remote_code
        try:
            tokenizer = AutoTokenizer.from_pretrained(request.source.location, **kwargs)
            model = AutoModelForCausalLM.from_pretrained(
                request.source.location,
                dtype=request.dtype,
                quantization_config=_quantization_config(request),
                **kwargs,
            )
        except (OSError, ValueError) as exc:
            raise hub_error_hint(request.source, exc) from None
        if request.model.quantization == "none":
            model.to(request.device)
        ensure_pad_token(tokenizer)
        model.config.use_cache = False
        return model, tokenizer

    def attach_adapter(self, base: Any, lora: LoraConfig, seed: int, init_from: Path | None) -> Any:
        """Fresh LoRA (seeded init) or the adapter stored at ``init_from``, trainable."""
        from peft import LoraConfig as PeftLoraConfig
        from peft import PeftModel, get_peft_model, prepare_model_for_kbit_training

        if getattr(base, "is_loaded_in_4bit", False) or getattr(base, "is_loaded_in_8bit", False):
            base = prepare_model_for_kbit_training(base, use_gradient_checkpointing=False)
        if init_from is not None:
            return PeftModel.from_pretrained(base, str(init_from), is_trainable=True)
        torch.manual_seed(seed)
        config = PeftLoraConfig(
            r=lora.r,
            lora_alpha=lora.alpha,
            lora_dropout=lora.dropout,
            target_modules=list(lora.target_modules),
            bias="none",
            task_type="CAUSAL_LM",
        )
        try:
            return get_peft_model(base, config)
        except ValueError as exc:
            raise ModelLoadError(f"model.lora.target_modules: {exc}") from None

    def detach_adapter(self, peft_model: Any) -> Any:
        """Unload the LoRA layers without merging them."""
        return peft_model.unload()


def ensure_pad_token(tokenizer: Any) -> None:
    """Padding must not reuse eos, or the model never learns to stop; fall back to unk."""
    if tokenizer.pad_token is not None and tokenizer.pad_token_id != tokenizer.eos_token_id:
        return
    if tokenizer.unk_token is not None and tokenizer.unk_token_id != tokenizer.eos_token_id:
        tokenizer.pad_token = tokenizer.unk_token
    else:
        raise ModelLoadError(
            "the tokenizer has no pad token distinct from eos: add one (phi-4 uses <|dummy_85|>) "
            "and save the tokenizer again"
        )


def _quantization_config(request: LoadRequest) -> Any:
    if request.model.quantization == "none":
        return None
    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        raise MissingExtraError("bitsandbytes", "unsloth", "4/8-bit (qlora) loading") from None
    from transformers import BitsAndBytesConfig

    if request.model.quantization == "4bit":
        return BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=request.dtype,
        )
    return BitsAndBytesConfig(load_in_8bit=True)
