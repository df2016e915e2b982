"""Successive halving in the pipeline: train each trial's rung, halve, continue the winner.

A cycle with ``training.rung_steps`` runs, after propose: :func:`train_rung` per trial (the
first ``rung_steps`` of its schedule, from the incumbent; the full trainer state is kept),
:func:`halve` (the engine ranks the rungs on eval loss and records the losers as halved),
:func:`continue_trial` (the winner trains on from its rung's state: rung and continuation
are one trial), then the usual evaluate and select. The decisions and the records are the
cycle engine's (:meth:`CycleEngine.halve`, :meth:`TrialPlan.halved_record`), made in the
order the in-process runner makes them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qtrain.cycle import CyclePlan, TrialPlan
from qtrain.errors import QtrainError, one_line
from qtrain.infra_failures import raise_if_infrastructure
from qtrain.rundir import StateFolder, TrialFolder, read_json, write_json_atomic
from qtrain.steps.state import parse_config_json, restore_engine
from qtrain.steps.trial import check_start


def train_rung(
    config_json: str,
    data_dir: Path,
    start_dir: Path,
    proposal: dict[str, Any],
    rung_dir: Path,
    result_dir: Path,
) -> dict[str, float]:
    """Train ``proposal``'s rung from ``start_dir``; its trainer state goes to ``rung_dir``.

    ``result_dir`` (small: what :func:`halve` reads) and ``rung_dir`` both get the proposal
    and ``rung.json`` (steps, eval loss, training summary), or ``failure.json`` if the rung
    crashed. Returns the rung's ``steps`` and ``eval_loss`` (empty if it failed).
    """
    from qtrain.data import load_prepared
    from qtrain.training.session import ModelSession
    from qtrain.training.trial import train_rung as train

    config = parse_config_json(config_json)
    trial = TrialPlan.from_dict(proposal)
    if not trial.rung_steps:
        raise QtrainError(
            f"trial {trial.name} has no rung (training.rung_steps is unset): this pipeline was "
            "compiled for successive halving; compile it again for this config"
        )
    start = TrialFolder(start_dir)
    check_start(start, trial.start_checkpoint)
    outputs = [TrialFolder(rung_dir), TrialFolder(result_dir)]
    for folder in outputs:
        folder.root.mkdir(parents=True, exist_ok=True)
        write_json_atomic(folder.proposal_file, trial.to_dict())
    data = load_prepared(data_dir)
    session = ModelSession(config)
    init_from = start_dir if start.has_weights() else None
    try:
        rung = train(
            trial.spec(), trial.rung_steps, session, data.train, data.eval, config, init_from,
            rung_dir,
        )  # fmt: skip
    except (KeyboardInterrupt, QtrainError):
        raise
    except Exception as exc:  # one bad proposal must not end the run
        raise_if_infrastructure(exc, "training or evaluating a trial")  # the pod fails
        for folder in outputs:
            write_json_atomic(folder.failure_file, {"error": one_line(exc)})
        return {}
    for folder in outputs:
        write_json_atomic(folder.rung_file, rung.to_dict())
    return rung.metrics


def halve(config_json: str, state_dir: Path, result_dirs: list[Path], state_out: Path) -> int:
    """Record the cycle up to the winner's continuation in ``state_out``; return the winner.

    As the in-process runner does: the cycle opens, its trials are announced and started
    (a crashed rung is recorded as failed), the engine picks the best rung (``halving``
    event) and the others are recorded as halved. :func:`select` later records the winner
    and concludes the cycle.
    """
    from qtrain.training.trial import RungResult

    config = parse_config_json(config_json)
    results = {}
    for folder in map(TrialFolder, result_dirs):
        trial = TrialPlan.from_dict(read_json(folder.proposal_file))
        results[trial.trial] = (trial, folder)
    trials = [results[index][0] for index in sorted(results)]
    before = restore_engine(config, state_dir)
    cycle = before.cycle + 1
    if [(t.cycle, t.trial) for t in trials] != [(cycle, i) for i in range(len(trials))]:
        got = [t.name for t in trials]
        raise QtrainError(f"halve expected the rungs of cycle {cycle}, got {got}")
    if before.pending:
        raise QtrainError(f"the input state already records trials of cycle {cycle}")
    plan = CyclePlan(cycle, trials[0].start_checkpoint, trials)
    engine = restore_engine(config, StateFolder(state_dir).copy_to(state_out).root, record=True)
    engine.open_cycle()
    engine.announce(plan)
    rungs = {}
    for trial, folder in (results[index] for index in sorted(results)):
        engine.trial_started(trial)
        if folder.failure_file.is_file():
            engine.trial_finished(trial.failed_record(read_json(folder.failure_file)["error"]))
        else:
            rungs[trial.trial] = RungResult.from_dict(read_json(folder.rung_file), folder.root)
    winner = engine.halve(plan, {index: rung.eval_loss for index, rung in rungs.items()})
    for index, rung in rungs.items():
        if index != winner.trial:
            engine.trial_finished(plan.trials[index].halved_record(rung.eval_loss, rung.train))
    engine.events.close()
    return winner.trial


def continue_trial(
    config_json: str, data_dir: Path, rung_dirs: list[Path], winner: int, checkpoint_dir: Path
) -> dict[str, float]:
    """Continue the winning rung (trial ``winner``) to the full cycle into ``checkpoint_dir``.

    The checkpoint folder is a trained trial's (weights, ``trial.json``, the proposal) plus
    ``rung.json``, for the evaluate step. Returns the training metrics of the whole trial
    (empty if it failed; ``failure.json`` says why).
    """
    from qtrain.data import load_prepared
    from qtrain.training.session import ModelSession
    from qtrain.training.sft import rung_checkpoint
    from qtrain.training.trial import RungResult, train_trial_into

    config = parse_config_json(config_json)
    found = [
        folder
        for folder in map(TrialFolder, rung_dirs)
        if read_json(folder.proposal_file).get("trial") == winner
    ]
    if len(found) != 1 or not found[0].rung_file.is_file():
        raise QtrainError(f"no trained rung of trial {winner} among the {len(rung_dirs)} rungs")
    source, out = found[0], TrialFolder(checkpoint_dir)
    trial = TrialPlan.from_dict(read_json(source.proposal_file))
    data = read_json(source.rung_file)
    rung = RungResult.from_dict(data, rung_checkpoint(source.trainer_scratch, int(data["steps"])))
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out.proposal_file, trial.to_dict())
    write_json_atomic(out.rung_file, data)
    prepared = load_prepared(data_dir)
    session = ModelSession(config)
    try:
        return train_trial_into(
            trial.spec(), session, prepared.train, config, None, out.root, rung=rung
        )
    except (KeyboardInterrupt, QtrainError):
        raise
    except Exception as exc:  # recorded as a failed trial by the evaluate step
        raise_if_infrastructure(exc, "training or evaluating a trial")  # the pod fails
        write_json_atomic(out.failure_file, {"error": one_line(exc)})
        return {}
