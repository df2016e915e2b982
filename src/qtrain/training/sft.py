"""One training run of a model on tokenized rows with TRL's SFTTrainer."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from qtrain.config.schema import TrainingConfig


@dataclass(frozen=True)
class TrainSummary:
    """What a finished training run reports."""

    steps: int
    train_loss: float
    tokens: int
    wall_seconds: float

    @property
    def tokens_per_second(self) -> float:
        """Training throughput in non-padding tokens per second."""
        return self.tokens / self.wall_seconds if self.wall_seconds > 0 else 0.0


def build_sft_config(
    training: TrainingConfig,
    steps: int,
    output_dir: Path,
    device: str,
    data_seed: int,
    dtype: Any = None,
) -> Any:
    """The SFTConfig of one trial: no saving or evaluation inside TRL, nothing reported online."""
    from trl import SFTConfig

    return SFTConfig(
        output_dir=str(output_dir),
        max_steps=steps,
        per_device_train_batch_size=training.batch_size,
        gradient_accumulation_steps=training.gradient_accumulation_steps,
        learning_rate=training.learning_rate,
        weight_decay=training.weight_decay,
        warmup_steps=training.warmup_ratio,
        lr_scheduler_type=training.lr_scheduler,
        optim=training.optimizer,
        max_grad_norm=training.max_grad_norm,
        seed=training.seed,
        data_seed=data_seed,
        logging_steps=training.logging_steps,
        save_strategy="no",
        eval_strategy="no",
        report_to="none",
        disable_tqdm=True,
        use_cpu=device == "cpu",
        # mixed precision follows the weights' dtype on a GPU; plain fp32 on CPU
        bf16=device == "cuda" and dtype == torch.bfloat16,
        fp16=device == "cuda" and dtype == torch.float16,
        gradient_checkpointing=training.gradient_checkpointing,
        dataloader_num_workers=0,
        max_length=training.max_length,
        packing=False,
        completion_only_loss=True,
        include_num_input_tokens_seen="non_padding",
    )


def train_model(
    model: Any,
    tokenizer: Any,
    rows: list[dict[str, list[int]]],
    sft_config: Any,
    callbacks: list[Any] | None = None,
) -> TrainSummary:
    """Train ``model`` in place on pre-tokenized ``rows`` (input_ids + completion_mask)."""
    from datasets import Dataset
    from transformers import PrinterCallback
    from trl import SFTTrainer

    from qtrain.backends.quiet import quiet_libraries
    from qtrain.backends.trl_cpu import ensure_trl_cpu_loss

    quiet_libraries()
    ensure_trl_cpu_loss()
    dataset = Dataset.from_list(
        [{"input_ids": r["input_ids"], "completion_mask": r["completion_mask"]} for r in rows]
    )
    trainer = SFTTrainer(
        model=model,
        args=sft_config,
        train_dataset=dataset,
        processing_class=tokenizer,
        callbacks=callbacks or [],
    )
    trainer.remove_callback(PrinterCallback)  # events carry the losses; no raw dict prints
    start = time.perf_counter()
    output = trainer.train()
    wall = time.perf_counter() - start
    state = trainer.state
    return TrainSummary(
        steps=state.global_step,
        train_loss=float(output.training_loss),
        tokens=int(getattr(state, "num_input_tokens_seen", 0) or 0),
        wall_seconds=wall,
    )
