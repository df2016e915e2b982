"""Steps 3 and 4 of a cycle: train one trial, then evaluate its checkpoint.

A trial that crashes (a bad proposal, say out of memory) is recorded as failed instead of
failing the pipeline, as in the in-process engine; configuration and data errors
(``QtrainError``) still fail the step.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qtrain.errors import QtrainError, one_line
from qtrain.history import TrialRecord
from qtrain.rundir import write_json_atomic
from qtrain.steps.state import (
    BASE_MARKER,
    has_weights,
    parse_config_json,
    read_json,
)

PROPOSAL_FILE = "proposal.json"
FAILURE_FILE = "failure.json"
RECORD_FILE = "record.json"


def train_trial(
    config_json: str,
    data_dir: Path,
    start_dir: Path,
    proposal: dict[str, Any],
    checkpoint_dir: Path,
) -> dict[str, float]:
    """Train ``proposal`` from the checkpoint in ``start_dir`` into ``checkpoint_dir``.

    Returns the training metrics (empty if the trial failed; ``failure.json`` says why).
    """
    from qtrain.data import load_prepared
    from qtrain.training.session import ModelSession
    from qtrain.training.trial import TrialSpec, train_trial_into

    config = parse_config_json(config_json)
    spec = TrialSpec(
        cycle=int(proposal["cycle"]),
        trial=int(proposal["trial"]),
        params=dict(proposal["params"]),
        steps=config.training.steps_per_cycle,
        start_checkpoint=proposal.get("start_checkpoint"),
    )
    _check_start(start_dir, spec.start_checkpoint)
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(checkpoint_dir / PROPOSAL_FILE, proposal)
    data = load_prepared(data_dir)
    session = ModelSession(config)
    init_from = start_dir if has_weights(start_dir) else None
    try:
        return train_trial_into(spec, session, data.train, config, init_from, checkpoint_dir)
    except (KeyboardInterrupt, QtrainError):
        raise
    except Exception as exc:  # one bad proposal must not end the run
        write_json_atomic(checkpoint_dir / FAILURE_FILE, {"error": one_line(exc)})
        return {}


def evaluate_trial(
    config_json: str, data_dir: Path, checkpoint_dir: Path, record_dir: Path
) -> dict[str, float]:
    """Evaluate a trained trial; writes its history record, metrics and sample generations.

    Returns the evaluation metrics (empty for a failed trial).
    """
    from qtrain.data import load_prepared
    from qtrain.training.session import ModelSession
    from qtrain.training.trial import TRIAL_FILE, evaluate_checkpoint_dir, write_trial_results

    config = parse_config_json(config_json)
    proposal = read_json(checkpoint_dir / PROPOSAL_FILE)
    cycle, trial = int(proposal["cycle"]), int(proposal["trial"])
    record = TrialRecord(
        cycle=cycle,
        trial=trial,
        params=proposal["params"],
        start_checkpoint=proposal.get("start_checkpoint"),
        checkpoint=None,
        steps=0,
        metrics={},
        proposal=proposal.get("metadata", {}),
    )
    record_dir.mkdir(parents=True, exist_ok=True)
    failure = checkpoint_dir / FAILURE_FILE
    if failure.is_file():
        record.status, record.error = "failed", read_json(failure)["error"]
    else:
        info = read_json(checkpoint_dir / TRIAL_FILE)
        data = load_prepared(data_dir)
        session = ModelSession(config)
        try:
            result = evaluate_checkpoint_dir(
                checkpoint_dir, session, data.eval, config, record.params
            )
        except (KeyboardInterrupt, QtrainError):
            raise
        except Exception as exc:
            record.status = "failed"
            record.error = one_line(exc)
        else:
            record.checkpoint = info["name"]
            record.steps = int(info["train"]["steps"])
            record.metrics = result.metrics
            record.train = info["train"]
            write_trial_results(record_dir, result, record.train)
    write_json_atomic(record_dir / RECORD_FILE, record.to_dict())
    return record.metrics


def read_record(record_dir: Path) -> TrialRecord:
    """The history record an evaluate step wrote."""
    return TrialRecord(**read_json(record_dir / RECORD_FILE))


def _check_start(start_dir: Path, expected: str | None) -> None:
    """The start folder must be the checkpoint the proposal was made for."""
    if expected is None:
        if not (start_dir / BASE_MARKER).is_file() and not has_weights(start_dir):
            raise QtrainError(f"{start_dir} is neither the base-model marker nor a checkpoint")
        return
    found = read_json(start_dir / "trial.json").get("name")
    if found != expected:
        raise QtrainError(
            f"start checkpoint mismatch: the proposal starts from {expected!r}, "
            f"the input holds {found!r}"
        )
