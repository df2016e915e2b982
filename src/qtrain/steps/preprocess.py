"""Step 1: validate the data, tokenize it, and measure the base model (the starting point)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qtrain.config.schema import RunConfig
from qtrain.cycle import RunState
from qtrain.cycle.opening import open_run
from qtrain.errors import QtrainError
from qtrain.events import EventLog
from qtrain.rundir import StateFolder, TrialFolder, new_run_id, write_json_atomic
from qtrain.steps.run_control import control_store_kind, opened_control, start_live_run
from qtrain.steps.state import check_pipeline_runs, init_state, parse_config_json, runs_rungs


def preprocess(
    config_json: str,
    data_dir: Path,
    state_dir: Path,
    base_dir: Path,
    compiled_shape: dict[str, int] | None = None,
    resume_from: str | None = None,
) -> dict[str, Any]:
    """Prepare the data into ``data_dir`` and start the run state in ``state_dir``.

    ``base_dir`` receives the starting "checkpoint" of cycle 1: a marker for the base model.
    ``compiled_shape`` (max_cycles, trials_per_cycle, successive_halving) is what the DAG was
    compiled for; a config asking for another shape is refused. Bad rows fail here, before
    the model loads; so does a run directory that already exists on the runs volume. Returns
    the preprocessing report. ``resume_from`` (a stopped pipeline run's directory) resumes
    that run instead (:func:`qtrain.steps.resume.resume_run`).
    """
    from qtrain.data import validate_data

    config = parse_config_json(config_json)
    _check_shape(config, compiled_shape or {})
    if resume_from:
        from qtrain.steps.resume import resume_run

        return resume_run(config, Path(resume_from), data_dir, state_dir, base_dir)
    run_id = config.runtime.run_id or new_run_id()
    if config.kubeflow.runs_pvc and (config.output_path() / run_id).exists():
        raise QtrainError(
            f"run directory {config.output_path() / run_id} already exists: choose another "
            "runtime.run_id (qtrain never overwrites a run)"
        )
    validated = validate_data(config.data)
    if control_store_kind(config) is not None:  # the live run: its control channel
        with opened_control(config, run_id) as live:
            assert live is not None
            start_live_run(live, config)
    state = StateFolder(state_dir)
    events = EventLog(state.events_file)
    events.emit("run_start", run_id=run_id, engine="kfp")
    opened = open_run(config, events, validated, data_dir)
    events.close()
    init_state(state_dir, config, RunState(run_id=run_id, baseline=opened.baseline))
    base_dir.mkdir(parents=True, exist_ok=True)
    marker = {"model": config.model.name, "revision": config.model.revision}
    write_json_atomic(TrialFolder(base_dir).base_marker, marker)
    return opened.data.report


def _check_shape(config: RunConfig, shape: dict[str, int]) -> None:
    """The unrolled DAG fixes max_cycles, k and whether cycles run rungs: ``config_json``
    must agree with it."""
    check_pipeline_runs(config)
    actual = {
        "max_cycles": config.early_stopping.max_cycles,
        "trials_per_cycle": config.training.trials_per_cycle,
        "successive_halving": runs_rungs(config),
    }
    for key, compiled in shape.items():
        if actual[key] != compiled:
            raise QtrainError(
                f"config_json asks for {key}={actual[key]} but this pipeline was compiled for "
                f"{compiled}: compile it again (qtrain compile/submit) rather than editing "
                "config_json"
            )
