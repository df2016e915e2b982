"""The qtrain KFP pipeline: preprocess -> cycles unrolled to max_cycles -> export.

KFP v2 has no while loop, so ``build_pipeline`` unrolls ``early_stopping.max_cycles``
cycles at compile time. Cycle c+1 sits inside ``dsl.If`` on cycle c's early-stop gate (a
component with a single boolean output); its ``dsl.Else`` exports the incumbent. Nothing
can be read out of a ``dsl.If``, so each cycle carries the state and the incumbent
checkpoint forward as artifacts. The run config travels as one pipeline parameter,
``config_json``, validated again inside every step.

With successive halving (``training.rung_steps``) a cycle's trials train rungs in the
ParallelFor; ``halve`` picks the winner, which ``continue_trial`` trains to the full cycle
before evaluate and ``select_halved``.
"""

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import yaml
from kfp import compiler, dsl

from qtrain.config.schema import RunConfig
from qtrain.errors import QtrainError
from qtrain.steps import check_pipeline_runs, runs_rungs
from qtrain.steps.run_control import check_control_store
from qtrain.version import __version__
from qtrain_kfp.components import (
    continue_trial,
    decided_gate,
    early_stop_gate,
    evaluate,
    export,
    halve,
    prepare_volumes,
    preprocess,
    propose,
    report_failure,
    select,
    select_halved,
    train_rung,
    train_trial,
)
from qtrain_kfp.pipelines.argo_size import ArgoSizeEstimate, estimate_workflow
from qtrain_kfp.pipelines.task_settings import TaskSettings

PIPELINE_NAME = "qtrain-training"
PARAMETER = "config_json"


def build_pipeline(
    config: RunConfig, local: bool = False, resume_from: str | None = None
) -> Callable[..., Any]:
    """The pipeline function for ``config``, unrolled to ``early_stopping.max_cycles``;
    ``local``: kfp-local's; ``resume_from``: the stopped run's directory it continues."""
    if config.quantum.azure.storage is not None:
        raise QtrainError(
            "quantum.azure.storage is a secret and a pipeline parameter is not: remove it and "
            "put the connection string in the kubeflow.azure_secret Secret as "
            "AZURE_QUANTUM_STORAGE"
        )
    check_pipeline_runs(config)
    check_control_store(config, local=local)
    settings = TaskSettings(config)
    max_cycles = config.early_stopping.max_cycles
    k = config.training.trials_per_cycle
    rung = config.training.rung_steps
    halving = f" (successive halving after {rung}-step rungs)" if settings.halving else ""

    @dsl.pipeline(
        name=PIPELINE_NAME,
        description=(
            f"qtrain {__version__}: fine-tune {config.model.name} while a QUBO optimizer "
            f"({config.quantum.solver_type}) re-chooses hyperparameters; up to {max_cycles} "
            f"cycles of {k} trials{halving}, early stopping, export of the best checkpoint."
        ),
    )
    def qtrain_training(config_json: str = config.model_dump_json()) -> None:
        on_exit = report_failure(config_json=config_json).set_display_name("report")
        settings.plain(on_exit)
        with dsl.ExitHandler(on_exit, name="qtrain-run"):
            volumes = None
            if config.kubeflow.volume_init:
                volumes = settings.volume_step(prepare_volumes(config_json=config_json))
                volumes.set_display_name("prepare volumes")
            prep = settings.data_step(
                preprocess(
                    config_json=config_json, compiled_cycles=max_cycles, compiled_trials=k,
                    compiled_halving=settings.halving,
                    **({"resume_from": resume_from} if resume_from else {}),
                )
            )  # fmt: skip
            prep.set_display_name("preprocess")
            if volumes is not None:
                prep.after(volumes)
            io = _CycleIO(config_json, prep.outputs["data"], prep.outputs["state"],
                          prep.outputs["base"])  # fmt: skip
            _cycle(1, max_cycles, settings, io)

    return qtrain_training


def compile_pipeline(
    config: RunConfig,
    output: Path,
    resume_from: str | None = None,
    warn: Callable[[str], None] | None = None,
) -> Path:
    """Compile ``config``'s pipeline to KFP IR YAML at ``output``; returns the path.
    ``resume_from``: the stopped run's directory it continues (see ``build_pipeline``).

    A pipeline whose Argo Workflow a cluster would refuse (:mod:`argo_size`'s estimate) is
    refused with a one-line error, and ``output`` is left untouched; one that fits only
    because Argo compresses its status is compiled, and ``warn`` gets a line saying so.
    """
    output = Path(output)
    if output.suffix not in (".yaml", ".yml", ".json"):
        raise QtrainError(f"pipeline output {output} must end in .yaml, .yml or .json")
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(f".partial-{output.name}")
    try:
        pipeline = build_pipeline(config, resume_from=resume_from)
        compiler.Compiler().compile(pipeline, package_path=str(partial))
        estimate = argo_estimate(partial, config)
        refusal = estimate.refusal()
        if refusal:
            rungs = runs_rungs(config)
            halving = " with successive halving (2 more tasks per cycle)" if rungs else ""
            raise QtrainError(
                f"the pipeline at early_stopping.max_cycles={config.early_stopping.max_cycles}"
                f" and training.trials_per_cycle={config.training.trials_per_cycle}{halving}"
                f" is too large for a Kubeflow cluster: {refusal}; lower "
                "early_stopping.max_cycles or training.trials_per_cycle"
                + (", or unset training.rung_steps" if rungs else "")
            )
        warning = estimate.warning()
        if warning and warn is not None:
            warn(warning)
        os.replace(partial, output)
    finally:
        partial.unlink(missing_ok=True)
    return output


def argo_estimate(package: Path, config: RunConfig) -> ArgoSizeEstimate:
    """The estimated Argo Workflow of the compiled ``package`` of ``config``."""
    documents = list(yaml.safe_load_all(Path(package).read_text(encoding="utf-8")))
    platform = documents[1] if len(documents) > 1 else None
    return estimate_workflow(documents[0], platform, config.training.trials_per_cycle)


def _cycle(cycle: int, max_cycles: int, settings: "TaskSettings", io: "_CycleIO") -> None:
    """Add cycle ``cycle`` and, nested under its gate, the cycles after it."""
    proposals = settings.propose_step(propose(config_json=io.config_json, state=io.state))
    proposals.set_display_name(f"cycle {cycle}: propose")
    if settings.guided:  # a person decides; no decision (stop, pause, deadline): export
        decided = settings.plain(decided_gate(proposals=proposals.output))
        decided.set_display_name(f"cycle {cycle}: decided?")
        with dsl.If(decided.output == True, name=f"decided-{cycle}"):  # noqa: E712
            _train_cycle(cycle, max_cycles, settings, io, proposals)
        with dsl.Else(name=f"undecided-{cycle}"):
            _export(settings, io, cycle - 1)
        return
    _train_cycle(cycle, max_cycles, settings, io, proposals)


def _train_cycle(
    cycle: int, max_cycles: int, settings: "TaskSettings", io: "_CycleIO", proposals: Any
) -> None:
    """Cycle ``cycle``'s trials, select, and the gate to the next cycle or the export."""
    trials = _halved_trials if settings.halving else _trials
    chosen = trials(cycle, settings, io, proposals.output)
    settings.plain(chosen).set_display_name(f"cycle {cycle}: select")
    after = io._replace(
        state=chosen.outputs["new_state"], incumbent=chosen.outputs["new_incumbent"]
    )
    if cycle == max_cycles:  # early stopping's max_cycles has fired: export unconditionally
        _export(settings, after, cycle)
        return
    gate = settings.gate_step(early_stop_gate(state=after.state, config_json=io.config_json))
    gate.set_display_name(f"cycle {cycle}: continue?")
    with dsl.If(gate.output == True, name=f"continue-{cycle}"):  # noqa: E712 (a KFP condition)
        _cycle(cycle + 1, max_cycles, settings, after)
    with dsl.Else(name=f"stop-{cycle}"):
        _export(settings, after, cycle)


def _trials(cycle: int, settings: "TaskSettings", io: "_CycleIO", proposals: Any) -> Any:
    """Train and evaluate the k proposals in a ParallelFor; the select task that follows."""
    with dsl.ParallelFor(proposals, parallelism=settings.k, name=f"trials-{cycle}") as proposal:
        trained = train_trial(
            config_json=io.config_json, data=io.data, start=io.incumbent, proposal=proposal
        )
        settings.train(trained).set_display_name(f"cycle {cycle}: train")
        scored = evaluate(
            config_json=io.config_json, data=io.data, checkpoint=trained.outputs["checkpoint"]
        )
        settings.model_step(scored).set_display_name(f"cycle {cycle}: evaluate")
    return select(
        config_json=io.config_json,
        state=io.state,
        incumbent=io.incumbent,
        checkpoints=dsl.Collected(trained.outputs["checkpoint"]),
        records=dsl.Collected(scored.outputs["record"]),
    )


def _halved_trials(cycle: int, settings: "TaskSettings", io: "_CycleIO", proposals: Any) -> Any:
    """Successive halving: the k rungs in a ParallelFor, halve, the winner continues and is
    evaluated; the select task that follows."""
    with dsl.ParallelFor(proposals, parallelism=settings.k, name=f"rungs-{cycle}") as proposal:
        rung = train_rung(
            config_json=io.config_json, data=io.data, start=io.incumbent, proposal=proposal
        )
        settings.train(rung).set_display_name(f"cycle {cycle}: rung")
    halving = halve(
        config_json=io.config_json, state=io.state, results=dsl.Collected(rung.outputs["result"])
    )
    settings.plain(halving).set_display_name(f"cycle {cycle}: halve")
    winner = continue_trial(
        config_json=io.config_json,
        data=io.data,
        rungs=dsl.Collected(rung.outputs["rung"]),
        winner=halving.outputs["Output"],
    )
    settings.train(winner).set_display_name(f"cycle {cycle}: continue")
    scored = evaluate(
        config_json=io.config_json, data=io.data, checkpoint=winner.outputs["checkpoint"]
    )
    settings.model_step(scored).set_display_name(f"cycle {cycle}: evaluate")
    return select_halved(
        config_json=io.config_json,
        state=halving.outputs["new_state"],
        incumbent=io.incumbent,
        checkpoint=winner.outputs["checkpoint"],
        record=scored.outputs["record"],
    )


def _export(settings: "TaskSettings", io: "_CycleIO", cycle: int) -> None:
    task = export(config_json=io.config_json, state=io.state, incumbent=io.incumbent, data=io.data)
    settings.export_step(task).set_display_name(f"export (after cycle {cycle})")


class _CycleIO(NamedTuple):
    """What every task of a cycle reads: the run config, the data, the state, the incumbent."""

    config_json: Any
    data: Any
    state: Any
    incumbent: Any
