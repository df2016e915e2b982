"""The loop's steps as file-in/file-out functions, one per pipeline component.

Each KFP component in ``components/`` is a thin interface over one of these; they share the
in-process agent's code (training, evaluation, selection, early stopping), so both engines
make the same decisions. State passes between steps as folders:

- *data*: the prepared dataset (``qtrain.data.save_prepared``);
- *state*: ``config.yaml``, ``state.json``, ``history.jsonl``, ``events.jsonl`` — everything
  else (incumbent, early stopping, the optimizer) is re-derived from the history;
- *checkpoint*: one trial's adapter, tokenizer and ``trial.json``; the *incumbent* is the
  best one so far, carried from cycle to cycle (a folder without weights = the base model);
- *rung* (successive halving): a trial's trainer state after its rung, and ``rung.json``.

Nothing here imports kfp.
"""

from qtrain.steps.export import export_run, failure_report
from qtrain.steps.gate import decided, should_continue
from qtrain.steps.halving import continue_trial, halve, train_rung
from qtrain.steps.preprocess import preprocess
from qtrain.steps.propose import propose
from qtrain.steps.select import render_cycle_summary, select
from qtrain.steps.state import (
    RunState,
    check_pipeline_runs,
    parse_config_json,
    read_state,
    runs_rungs,
)
from qtrain.steps.trial import evaluate_trial, train_trial
from qtrain.steps.volumes import prepare_volumes

__all__ = [
    "RunState",
    "check_pipeline_runs",
    "continue_trial",
    "decided",
    "evaluate_trial",
    "export_run",
    "failure_report",
    "halve",
    "parse_config_json",
    "prepare_volumes",
    "preprocess",
    "propose",
    "read_state",
    "render_cycle_summary",
    "runs_rungs",
    "select",
    "should_continue",
    "train_rung",
    "train_trial",
]
