"""Final export of the selected checkpoint: the LoRA adapter and a merged 16-bit model."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import torch

from qtrain.checkpoints.manifest import MANIFEST_NAME
from qtrain.rundir import ADAPTER_CONFIG, ADAPTER_WEIGHTS

_ADAPTER_FILES = (ADAPTER_WEIGHTS, ADAPTER_CONFIG)


def export_checkpoint(
    checkpoint_dir: Path, export_dir: Path, session: Any, merged: bool = True
) -> dict[str, str]:
    """Write ``export/adapter`` and (optionally) ``export/merged``; returns what was written.

    Each folder is written aside and renamed into place, so an export that is present is
    complete. The merged model is saved in bfloat16 safetensors (float16 on GPUs without bf16).
    """
    export_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, str] = {}
    if session.full_finetune:
        written["model"] = str(
            _publish(export_dir / "model", lambda d: _copy_all(checkpoint_dir, d))
        )
        return written
    written["adapter"] = str(
        _publish(export_dir / "adapter", lambda d: _copy_adapter(checkpoint_dir, d, session))
    )
    if merged:
        written["merged"] = str(
            _publish(export_dir / "merged", lambda d: _save_merged(checkpoint_dir, d, session))
        )
    return written


def _publish(target: Path, write: Any) -> Path:
    staging = target.with_name(f".{target.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    write(staging)
    if target.exists():
        shutil.rmtree(target)
    os.rename(staging, target)
    return target


def _copy_adapter(checkpoint_dir: Path, out: Path, session: Any) -> None:
    for name in _ADAPTER_FILES:
        shutil.copy2(checkpoint_dir / name, out / name)
    session.tokenizer.save_pretrained(str(out))


def _copy_all(checkpoint_dir: Path, out: Path) -> None:
    for item in checkpoint_dir.iterdir():
        if item.is_file() and item.name != MANIFEST_NAME:
            shutil.copy2(item, out / item.name)


def _save_merged(checkpoint_dir: Path, out: Path, session: Any) -> None:
    """Merge into a fresh 16-bit copy of the base, on CPU.

    The training base may be 4-bit (qlora), which cannot be merged into or cast, and is
    still in use; reloading the base unquantized keeps both problems away from it.
    """
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    dtype = (
        torch.float16
        if session.device == "cuda" and not torch.cuda.is_bf16_supported()
        else torch.bfloat16
    )
    base = AutoModelForCausalLM.from_pretrained(
        session.source.location,
        dtype=dtype,
        trust_remote_code=session.config.model.trust_remote_code,
        **session.source.from_pretrained_kwargs(),
    )
    merged = PeftModel.from_pretrained(base, str(checkpoint_dir)).merge_and_unload()
    merged.save_pretrained(str(out), safe_serialization=True)
    session.tokenizer.save_pretrained(str(out))
