"""One trial: train from a starting checkpoint, evaluate, and commit a checkpoint."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qtrain.config.schema import RunConfig
from qtrain.evaluation import evaluate_model
from qtrain.history import TrialRecord
from qtrain.training.params import apply_params
from qtrain.training.session import ModelSession
from qtrain.training.sft import build_sft_config, train_model


@dataclass(frozen=True)
class TrialSpec:
    """What to train: cycle/trial numbers, hyperparameters, steps and the starting point."""

    cycle: int
    trial: int
    params: dict[str, Any]
    steps: int
    start_checkpoint: str | None

    @property
    def name(self) -> str:
        """The checkpoint name of this trial."""
        return f"c{self.cycle:03d}-t{self.trial:02d}"


def run_trial(
    spec: TrialSpec,
    session: ModelSession,
    train_rows: list[dict[str, Any]],
    eval_rows: list[dict[str, Any]],
    config: RunConfig,
    store: Any,
    callbacks: list[Any] | None = None,
    proposal_metadata: dict[str, Any] | None = None,
) -> TrialRecord:
    """Train, evaluate and atomically commit one trial; returns its history record."""
    effective = apply_params(config, spec.params)
    staging = store.staging_dir(spec.name)
    init_from = store.materialize(spec.start_checkpoint) if spec.start_checkpoint else None
    # Trials of one cycle share a data order (common random numbers); cycles differ.
    data_seed = effective.training.seed * 1000 + spec.cycle
    sft_config = build_sft_config(
        effective.training,
        spec.steps,
        staging / "_trainer",
        session.device,
        data_seed,
        session.dtype,
    )
    with session.trainable(effective.model.lora, effective.training.seed, init_from) as model:
        summary = train_model(model, session.tokenizer, train_rows, sft_config, callbacks)
        result = evaluate_model(model, session.tokenizer, eval_rows, effective.evaluation)
        shutil.rmtree(staging / "_trainer", ignore_errors=True)
        model.save_pretrained(str(staging), safe_serialization=True)
    session.tokenizer.save_pretrained(str(staging))
    train_metrics = {
        "train_loss": summary.train_loss,
        "steps": float(summary.steps),
        "tokens": float(summary.tokens),
        "train_seconds": round(summary.wall_seconds, 3),
        "tokens_per_second": round(summary.tokens_per_second, 1),
    }
    trial_info = {
        "cycle": spec.cycle,
        "trial": spec.trial,
        "params": spec.params,
        "start_checkpoint": spec.start_checkpoint,
        "base_model": config.model.name,
        "training_mode": config.model.training_mode,
        "config": effective.model_dump(mode="json"),
    }
    _write_json(staging / "trial.json", trial_info)
    _write_json(staging / "metrics.json", {"eval": result.metrics, "train": train_metrics})
    _write_json(staging / "samples.json", result.samples)
    store.commit(
        staging, spec.name, {"cycle": spec.cycle, "trial": spec.trial, "metrics": result.metrics}
    )
    return TrialRecord(
        cycle=spec.cycle,
        trial=spec.trial,
        params=spec.params,
        start_checkpoint=spec.start_checkpoint,
        checkpoint=spec.name,
        steps=summary.steps,
        metrics=result.metrics,
        train=train_metrics,
        proposal=proposal_metadata or {},
    )


def _write_json(path: Path, payload: Any) -> None:
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
