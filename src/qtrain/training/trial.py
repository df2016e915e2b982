"""One trial: train from a starting checkpoint, evaluate, and commit a checkpoint.

``run_trial`` does all three in one process (the in-process engine); the pipeline steps
use its halves, :func:`train_trial_into` and :func:`evaluate_checkpoint_dir`, in two.
"""

from __future__ import annotations

import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from qtrain import failpoints
from qtrain.config.schema import RunConfig
from qtrain.evaluation import EvalResult, evaluate_model
from qtrain.evaluation.evaluator import eval_loss
from qtrain.history import TrialRecord
from qtrain.rundir import TrialFolder, checkpoint_name, write_json_atomic
from qtrain.training.params import apply_params
from qtrain.training.segment import Segment, TrialSuspended, mean_loss
from qtrain.training.session import ModelSession
from qtrain.training.sft import TrainSummary, build_sft_config, rung_checkpoint, train_model


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
        return checkpoint_name(self.cycle, self.trial)


def run_trial(
    spec: TrialSpec,
    session: ModelSession,
    train_rows: list[dict[str, Any]],
    eval_rows: list[dict[str, Any]],
    config: RunConfig,
    store: Any,
    callbacks: list[Any] | None = None,
    proposal_metadata: dict[str, Any] | None = None,
    rung: RungResult | None = None,
    resume: Segment | None = None,
) -> TrialRecord:
    """Train, evaluate and atomically commit one trial; returns its history record.

    With ``rung`` (the trial's own :func:`train_rung`), training continues from the rung's
    saved state to ``spec.steps``: rung and continuation are one trial. ``resume``: the
    trial was suspended (:class:`TrialSuspended`) and continues from that segment.
    """
    effective = apply_params(config, spec.params)
    staging = store.staging_dir(spec.name)
    init_from = store.materialize(spec.start_checkpoint) if spec.start_checkpoint else None
    if resume is not None or rung is not None:
        init_from = resume.checkpoint if resume is not None else rung.checkpoint  # type: ignore[union-attr]
    with session.trainable(effective.model.lora, effective.training.seed, init_from) as model:
        summary = _train(
            spec, session, model, train_rows, effective, staging, callbacks, rung, resume
        )
        result = evaluate_model(model, session.tokenizer, eval_rows, effective.evaluation)
        model.save_pretrained(str(staging), safe_serialization=True)
    session.tokenizer.save_pretrained(str(staging))
    train_metrics = _train_metrics(summary)
    write_json_atomic(
        TrialFolder(staging).trial_file, _trial_info(spec, config, effective, train_metrics)
    )
    write_trial_results(staging, result, train_metrics)
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
        rung=rung.metrics if rung is not None else {},
    ).checked()


@dataclass(frozen=True)
class RungResult:
    """A trial stopped after its rung: the saved trainer state and the rung's eval loss."""

    checkpoint: Path
    steps: int
    eval_loss: float
    summary: TrainSummary

    @property
    def metrics(self) -> dict[str, float]:
        """``steps`` and ``eval_loss`` of the rung (``TrialRecord.rung``)."""
        return {"steps": float(self.steps), "eval_loss": self.eval_loss}

    @property
    def train(self) -> dict[str, float]:
        """The rung's training metrics."""
        return _train_metrics(self.summary)

    def to_dict(self) -> dict[str, Any]:
        """The rung as plain JSON (the pipeline's ``rung.json``; the trainer state beside it)."""
        return {"steps": self.steps, "eval_loss": self.eval_loss, "summary": asdict(self.summary)}

    @classmethod
    def from_dict(cls, data: dict[str, Any], checkpoint: Path) -> RungResult:
        """Read :meth:`to_dict`'s output back; ``checkpoint``: where the trainer state is now."""
        summary = TrainSummary(**data["summary"])
        return cls(checkpoint, int(data["steps"]), float(data["eval_loss"]), summary)


def train_rung(
    spec: TrialSpec,
    rung_steps: int,
    session: ModelSession,
    train_rows: list[dict[str, Any]],
    eval_rows: list[dict[str, Any]],
    config: RunConfig,
    init_from: Path | None,
    work_dir: Path,
    callbacks: list[Any] | None = None,
) -> RungResult:
    """Train the first ``rung_steps`` of the trial's ``spec.steps`` schedule; measure eval loss.

    The full trainer state is saved under ``work_dir`` so that :func:`run_trial` can continue
    the winner; ranking uses eval loss alone (no generation).
    """
    effective = apply_params(config, spec.params)
    folder = TrialFolder(work_dir)
    with session.trainable(effective.model.lora, effective.training.seed, init_from) as model:
        sft_config = _sft_config(spec, session, effective, folder.trainer_scratch)
        summary = train_model(
            model, session.tokenizer, train_rows, sft_config, _with_failpoints(spec, callbacks),
            stop_at=rung_steps,
        )  # fmt: skip
        loss = eval_loss(model, session.tokenizer, eval_rows, effective.evaluation.batch_size)
    checkpoint = rung_checkpoint(folder.trainer_scratch, rung_steps)
    return RungResult(checkpoint, rung_steps, loss, summary)


def train_trial_into(
    spec: TrialSpec,
    session: ModelSession,
    train_rows: list[dict[str, Any]],
    config: RunConfig,
    init_from: Path | None,
    out_dir: Path,
    callbacks: list[Any] | None = None,
    rung: RungResult | None = None,
) -> dict[str, float]:
    """Train one trial from ``init_from`` (None: the base model) and save it in ``out_dir``.

    Writes the adapter (or full weights), the tokenizer and ``trial.json``; evaluation is
    :func:`evaluate_checkpoint_dir`'s. Training is the same as :func:`run_trial`'s, so the
    two engines produce the same weights; with ``rung`` it continues the rung's saved state
    to ``spec.steps`` (``init_from`` is then ignored). Returns the training metrics.
    """
    effective = apply_params(config, spec.params)
    out_dir.mkdir(parents=True, exist_ok=True)
    if rung is not None:
        init_from = rung.checkpoint
    with session.trainable(effective.model.lora, effective.training.seed, init_from) as model:
        summary = _train(spec, session, model, train_rows, effective, out_dir, callbacks, rung)
        model.save_pretrained(str(out_dir), safe_serialization=True)
    session.tokenizer.save_pretrained(str(out_dir))
    train_metrics = _train_metrics(summary)
    write_json_atomic(
        TrialFolder(out_dir).trial_file, _trial_info(spec, config, effective, train_metrics)
    )
    return train_metrics


def evaluate_checkpoint_dir(
    checkpoint_dir: Path,
    session: ModelSession,
    eval_rows: list[dict[str, Any]],
    config: RunConfig,
    params: dict[str, Any],
) -> EvalResult:
    """Evaluate the trial saved in ``checkpoint_dir`` (trained with ``params``)."""
    effective = apply_params(config, params)
    with session.trainable(effective.model.lora, effective.training.seed, checkpoint_dir) as model:
        return evaluate_model(model, session.tokenizer, eval_rows, effective.evaluation)


def _with_failpoints(spec: TrialSpec, callbacks: list[Any] | None) -> list[Any] | None:
    """``callbacks`` plus, when ``$QTRAIN_FAILPOINTS`` names any, the one that fires them at
    this trial's steps (in every engine: in-process, pipeline steps, containers)."""
    if not failpoints.active():
        return callbacks
    return [*(callbacks or []), failpoints.step_callback(spec.cycle, spec.trial)]


def _sft_config(
    spec: TrialSpec, session: ModelSession, effective: RunConfig, output_dir: Path
) -> Any:
    """The trainer settings of one trial: its whole ``spec.steps`` schedule."""
    # Trials of one cycle share a data order (common random numbers); cycles differ.
    data_seed = effective.training.seed * 1000 + spec.cycle
    return build_sft_config(
        effective.training, spec.steps, output_dir, session.device, data_seed, session.dtype
    )


def _train(
    spec: TrialSpec,
    session: ModelSession,
    model: Any,
    train_rows: list[dict[str, Any]],
    effective: RunConfig,
    work_dir: Path,
    callbacks: list[Any] | None,
    rung: RungResult | None = None,
    resume: Segment | None = None,
) -> TrainSummary:
    """Train ``model`` for the trial (after ``rung`` or a suspended ``resume``, the rest of
    its schedule); :class:`TrialSuspended` when a callback stopped it before the end."""
    scratch = TrialFolder(work_dir).trainer_scratch
    sft_config = _sft_config(spec, session, effective, scratch)
    before = resume or (Segment(rung.checkpoint, rung.steps, rung.summary) if rung else None)
    summary = train_model(
        model, session.tokenizer, train_rows, sft_config, _with_failpoints(spec, callbacks),
        resume_from=before.checkpoint if before else None,
    )  # fmt: skip
    if before is not None:  # the segments before and this one are one trial
        summary = TrainSummary(
            steps=before.steps + summary.steps,
            train_loss=mean_loss(before.summary, summary),
            tokens=before.summary.tokens + summary.tokens,
            wall_seconds=before.summary.wall_seconds + summary.wall_seconds,
        )
    if summary.steps < spec.steps:  # a pause or a stop saved the trainer's state here
        raise TrialSuspended(
            Segment(rung_checkpoint(scratch, summary.steps), summary.steps, summary)
        )
    shutil.rmtree(scratch, ignore_errors=True)
    return summary


def _train_metrics(summary: TrainSummary) -> dict[str, float]:
    return {
        "train_loss": summary.train_loss,
        "steps": float(summary.steps),
        "tokens": float(summary.tokens),
        "train_seconds": round(summary.wall_seconds, 3),
        "tokens_per_second": round(summary.tokens_per_second, 1),
    }


def _trial_info(
    spec: TrialSpec, config: RunConfig, effective: RunConfig, train_metrics: dict[str, float]
) -> dict[str, Any]:
    return {
        "cycle": spec.cycle,
        "trial": spec.trial,
        "name": spec.name,
        "params": spec.params,
        "steps": spec.steps,
        "start_checkpoint": spec.start_checkpoint,
        "base_model": config.model.name,
        "training_mode": config.model.training_mode,
        "train": train_metrics,
        "config": effective.model_dump(mode="json"),
    }


def write_trial_results(folder: Path, result: EvalResult, train_metrics: dict[str, float]) -> None:
    """Write ``metrics.json`` and ``samples.json`` as a committed checkpoint holds them."""
    files = TrialFolder(folder)
    write_json_atomic(files.metrics_file, {"eval": result.metrics, "train": train_metrics})
    write_json_atomic(files.samples_file, result.samples)
