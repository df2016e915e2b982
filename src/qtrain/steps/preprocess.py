"""Step 1: validate the data, tokenize it, and measure the base model (the starting point)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qtrain.config.schema import RunConfig
from qtrain.cycle import RunState
from qtrain.errors import QtrainError
from qtrain.events import EventLog
from qtrain.rundir import StateFolder, TrialFolder, new_run_id, write_json_atomic
from qtrain.steps.state import init_state, parse_config_json


def preprocess(
    config_json: str,
    data_dir: Path,
    state_dir: Path,
    base_dir: Path,
    compiled_shape: dict[str, int] | None = None,
) -> dict[str, Any]:
    """Prepare the data into ``data_dir`` and start the run state in ``state_dir``.

    ``base_dir`` receives the starting "checkpoint" of cycle 1: a marker for the base model.
    ``compiled_shape`` (max_cycles, trials_per_cycle) is what the DAG was compiled for; a
    config asking for another shape is refused. Bad rows fail here, before the model loads;
    so does a run directory that already exists on the runs volume. Returns the
    preprocessing report.
    """
    from qtrain.data import prepare_dataset, save_prepared, validate_data
    from qtrain.evaluation import evaluate_model
    from qtrain.training.session import ModelSession

    config = parse_config_json(config_json)
    _check_shape(config, compiled_shape or {})
    run_id = config.runtime.run_id or new_run_id()
    if config.kubeflow.runs_pvc and (config.output_path() / run_id).exists():
        raise QtrainError(
            f"run directory {config.output_path() / run_id} already exists: choose another "
            "runtime.run_id (qtrain never overwrites a run)"
        )
    validated = validate_data(config.data)
    session = ModelSession(config)
    data = prepare_dataset(config.data, session.tokenizer, config.training.max_length, validated)
    save_prepared(data, data_dir)
    baseline = evaluate_model(session.base, session.tokenizer, data.eval, config.evaluation)
    init_state(state_dir, config, RunState(run_id=run_id, baseline=baseline.metrics))
    events = EventLog(StateFolder(state_dir).events_file)
    events.emit("run_start", run_id=run_id, engine="kfp")
    events.emit(
        "model_loaded",
        model=config.model.name,
        backend=session.backend.name,
        device=session.device,
    )
    events.emit("data_ready", report=data.report)
    events.emit("baseline", metrics=baseline.metrics)
    events.close()
    base_dir.mkdir(parents=True, exist_ok=True)
    marker = {"model": config.model.name, "revision": config.model.revision}
    write_json_atomic(TrialFolder(base_dir).base_marker, marker)
    return data.report


def _check_shape(config: RunConfig, shape: dict[str, int]) -> None:
    """The unrolled DAG fixes max_cycles and k: ``config_json`` must agree with it."""
    actual = {
        "max_cycles": config.early_stopping.max_cycles,
        "trials_per_cycle": config.training.trials_per_cycle,
    }
    for key, compiled in shape.items():
        if actual[key] != compiled:
            raise QtrainError(
                f"config_json asks for {key}={actual[key]} but this pipeline was compiled for "
                f"{compiled}: compile it again (qtrain compile/submit) rather than editing "
                "config_json"
            )
