"""The start of a run, the same for both runners: load the model, prepare the data, measure
the base model; each announced by an event (``model_loaded``, ``data_ready``, ``baseline``).

The in-process agent calls :func:`open_run` when it initializes; the pipeline's preprocess
step calls it once for the whole DAG (the other steps load what it saved).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qtrain.config.schema import RunConfig
from qtrain.events import EventLog

if TYPE_CHECKING:
    from qtrain.data.preprocess import PreparedData
    from qtrain.training.session import ModelSession


@dataclass
class OpenedRun:
    """What a run starts from: the loaded model, the prepared data, the base model's metrics."""

    session: ModelSession
    data: PreparedData
    baseline: dict[str, float]


def open_run(config: RunConfig, events: EventLog, validated: Any, data_dir: Path) -> OpenedRun:
    """Load the model, prepare ``validated`` rows into ``data_dir``, evaluate the base model."""
    from qtrain.data import prepare_dataset, save_prepared
    from qtrain.evaluation import evaluate_model
    from qtrain.training.session import ModelSession

    session = ModelSession(config)
    events.emit(
        "model_loaded", model=config.model.name, backend=session.backend.name,
        device=session.device,
    )  # fmt: skip
    data = prepare_dataset(config.data, session.tokenizer, config.training.max_length, validated)
    save_prepared(data, data_dir)
    events.emit("data_ready", report=data.report)
    # Cycle 1's trials are measured against the starting point, so it needs a 'before' too.
    result = evaluate_model(session.base, session.tokenizer, data.eval, config.evaluation)
    events.emit("baseline", metrics=result.metrics)
    return OpenedRun(session, data, result.metrics)
