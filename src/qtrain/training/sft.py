"""One training run of a model on tokenized rows with TRL's SFTTrainer."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import TrainerCallback

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
    stop_at: int | None = None,
    resume_from: Path | None = None,
) -> TrainSummary:
    """Train ``model`` in place on pre-tokenized ``rows`` (input_ids + completion_mask).

    ``stop_at``: stop after that many steps of the ``max_steps`` schedule and save the full
    trainer state (adapter, optimizer, scheduler, RNG) as ``checkpoint-<stop_at>`` in the
    output folder. ``resume_from``: continue such a checkpoint to ``max_steps``, with the same
    data order and learning-rate schedule as an uninterrupted run. ``steps`` in the summary
    count this call's steps only.
    """
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
        callbacks=[*(callbacks or []), *([StopAt(stop_at)] if stop_at else [])],
    )
    trainer.remove_callback(PrinterCallback)  # events carry the losses; no raw dict prints
    start = time.perf_counter()
    resumed = _resumed_steps(resume_from)
    output = trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    wall = time.perf_counter() - start
    state = trainer.state
    return TrainSummary(
        steps=state.global_step - resumed,
        train_loss=float(output.training_loss),
        tokens=int(getattr(state, "num_input_tokens_seen", 0) or 0),
        wall_seconds=wall,
    )


def rung_checkpoint(output_dir: Path, steps: int) -> Path:
    """Where ``train_model(..., stop_at=steps)`` saved the trainer state."""
    return output_dir / f"checkpoint-{steps}"


def _resumed_steps(checkpoint: Path | None) -> int:
    """The step a trainer checkpoint was saved at (0: not resuming)."""
    return int(checkpoint.name.rsplit("-", 1)[-1]) if checkpoint is not None else 0


class StopAt(TrainerCallback):
    """A trainer callback: at step ``steps``, save the full state and stop training."""

    def __init__(self, steps: int) -> None:
        self.steps = steps

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Ask the trainer to save a checkpoint and stop once ``steps`` are done."""
        if state.global_step >= self.steps:
            control.should_save = True
            control.should_training_stop = True
