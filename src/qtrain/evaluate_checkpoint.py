"""Standalone evaluation of a committed checkpoint (``qtrain evaluate``)."""

from __future__ import annotations

import json
from pathlib import Path

from qtrain.config import validate_config
from qtrain.errors import CheckpointError
from qtrain.evaluation import EvalResult, evaluate_model
from qtrain.rundir import TrialFolder


def evaluate_checkpoint(checkpoint: Path, data_path: str | None = None) -> EvalResult:
    """Load the checkpoint's base model + adapter, prepare its (or other) data, evaluate."""
    from qtrain.checkpoints.manifest import verify_manifest
    from qtrain.data import prepare_dataset
    from qtrain.training.session import ModelSession

    trial_file = TrialFolder(checkpoint).trial_file
    if not trial_file.is_file():
        raise CheckpointError(
            f"{checkpoint} is not a qtrain checkpoint (no {trial_file.name}): "
            "pass a folder under <run>/checkpoints/"
        )
    verify_manifest(checkpoint)
    info = json.loads(trial_file.read_text(encoding="utf-8"))
    config = validate_config(info["config"], source=str(trial_file))
    if data_path is not None:
        config = config.model_copy(
            update={"data": config.data.model_copy(update={"path": data_path})}
        )
    session = ModelSession(config)
    data = prepare_dataset(config.data, session.tokenizer, config.training.max_length)
    with session.trainable(config.model.lora, 0, checkpoint) as model:
        return evaluate_model(model, session.tokenizer, data.eval, config.evaluation)
