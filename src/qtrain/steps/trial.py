"""Steps 3 and 4 of a cycle: train one trial, then evaluate its checkpoint.

A trial that crashes (a bad proposal, say out of memory) is recorded as failed instead of
failing the pipeline, as in the in-process runner; configuration and data errors
(``QtrainError``) still fail the step.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qtrain.cycle import TrialPlan
from qtrain.errors import QtrainError, one_line
from qtrain.history import TrialRecord
from qtrain.infra_failures import raise_if_infrastructure
from qtrain.rundir import TrialFolder, read_json, write_json_atomic
from qtrain.steps.state import parse_config_json


def train_trial(
    config_json: str,
    data_dir: Path,
    start_dir: Path,
    proposal: dict[str, Any],
    checkpoint_dir: Path,
) -> dict[str, float]:
    """Train ``proposal`` (a propose step's trial) from ``start_dir`` into ``checkpoint_dir``.

    Returns the training metrics (empty if the trial failed; ``failure.json`` says why).
    """
    from qtrain.data import load_prepared
    from qtrain.training.session import ModelSession
    from qtrain.training.trial import train_trial_into

    config = parse_config_json(config_json)
    trial = TrialPlan.from_dict(proposal)
    start, out = TrialFolder(start_dir), TrialFolder(checkpoint_dir)
    check_start(start, trial.start_checkpoint)
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out.proposal_file, trial.to_dict())
    data = load_prepared(data_dir)
    session = ModelSession(config)
    init_from = start_dir if start.has_weights() else None
    try:
        return train_trial_into(trial.spec(), session, data.train, config, init_from, out.root)
    except (KeyboardInterrupt, QtrainError):
        raise
    except Exception as exc:  # one bad proposal must not end the run
        raise_if_infrastructure(exc, "training or evaluating a trial")  # the pod fails
        write_json_atomic(out.failure_file, {"error": one_line(exc)})
        return {}


def evaluate_trial(
    config_json: str, data_dir: Path, checkpoint_dir: Path, record_dir: Path
) -> dict[str, float]:
    """Evaluate a trained trial; writes its history record, metrics and sample generations.

    Returns the evaluation metrics (empty for a failed trial).
    """
    from qtrain.data import load_prepared
    from qtrain.training.session import ModelSession
    from qtrain.training.trial import evaluate_checkpoint_dir, write_trial_results

    config = parse_config_json(config_json)
    trained, results = TrialFolder(checkpoint_dir), TrialFolder(record_dir)
    trial = TrialPlan.from_dict(read_json(trained.proposal_file))
    record_dir.mkdir(parents=True, exist_ok=True)
    if trained.failure_file.is_file():
        record = trial.failed_record(read_json(trained.failure_file)["error"])
    else:
        info = read_json(trained.trial_file)
        data = load_prepared(data_dir)
        session = ModelSession(config)
        try:
            result = evaluate_checkpoint_dir(
                checkpoint_dir, session, data.eval, config, trial.params
            )
        except (KeyboardInterrupt, QtrainError):
            raise
        except Exception as exc:
            raise_if_infrastructure(exc, "training or evaluating a trial")  # the pod fails
            record = trial.failed_record(one_line(exc))
        else:
            record = TrialRecord(
                cycle=trial.cycle,
                trial=trial.trial,
                params=trial.params,
                start_checkpoint=trial.start_checkpoint,
                checkpoint=info["name"],
                steps=int(info["train"]["steps"]),
                metrics=result.metrics,
                train=info["train"],
                proposal=trial.metadata,
                rung=_rung_metrics(trained),
            ).checked()
            write_trial_results(record_dir, result, record.train)
    write_json_atomic(results.record_file, record.to_dict())
    return record.metrics


def _rung_metrics(trained: TrialFolder) -> dict[str, float]:
    """A continued rung's ``steps`` and ``eval_loss`` (``TrialRecord.rung``); {} for no rung."""
    from qtrain.training.trial import RungResult

    if not trained.rung_file.is_file():
        return {}
    return RungResult.from_dict(read_json(trained.rung_file), trained.root).metrics


def read_record(record_dir: Path) -> TrialRecord:
    """The history record an evaluate step wrote."""
    return TrialRecord(**read_json(TrialFolder(record_dir).record_file))


def check_start(start: TrialFolder, expected: str | None) -> None:
    """The start folder must be the checkpoint the proposal was made for."""
    if expected is None:
        if not start.base_marker.is_file() and not start.has_weights():
            raise QtrainError(f"{start.root} is neither the base-model marker nor a checkpoint")
        return
    found = read_json(start.trial_file).get("name")
    if found != expected:
        raise QtrainError(
            f"start checkpoint mismatch: the proposal starts from {expected!r}, "
            f"the input holds {found!r}"
        )
