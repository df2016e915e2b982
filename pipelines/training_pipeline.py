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

from kfp import compiler, dsl, kubernetes

from qtrain.config.schema import RunConfig
from qtrain.errors import QtrainError
from qtrain.steps import check_pipeline_runs, runs_rungs
from qtrain.steps.run_control import check_control_store, control_store_kind
from qtrain.version import __version__
from qtrain_kfp.components import (
    continue_trial,
    early_stop_gate,
    evaluate,
    export,
    halve,
    preprocess,
    propose,
    report_failure,
    select,
    select_halved,
    train_rung,
    train_trial,
)

PIPELINE_NAME = "qtrain-training"
PARAMETER = "config_json"
#: Argo Workflows and etcd refuse objects much beyond this; the workflow holds the whole spec.
MAX_PIPELINE_BYTES = 256 * 1024


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
    settings = _TaskSettings(config)
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
            prep = settings.data_step(
                preprocess(
                    config_json=config_json, compiled_cycles=max_cycles, compiled_trials=k,
                    compiled_halving=settings.halving,
                    **({"resume_from": resume_from} if resume_from else {}),
                )
            )  # fmt: skip
            prep.set_display_name("preprocess")
            io = _CycleIO(config_json, prep.outputs["data"], prep.outputs["state"],
                          prep.outputs["base"])  # fmt: skip
            _cycle(1, max_cycles, settings, io)

    return qtrain_training


def compile_pipeline(config: RunConfig, output: Path) -> Path:
    """Compile ``config``'s pipeline to KFP IR YAML at ``output``; returns the path.

    A pipeline over :data:`MAX_PIPELINE_BYTES` (Argo Workflows keeps the whole spec in
    one etcd object) is refused with a one-line error, and ``output`` is left untouched.
    """
    output = Path(output)
    if output.suffix not in (".yaml", ".yml", ".json"):
        raise QtrainError(f"pipeline output {output} must end in .yaml, .yml or .json")
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(f".partial-{output.name}")
    try:
        compiler.Compiler().compile(build_pipeline(config), package_path=str(partial))
        size = partial.stat().st_size
        if size > MAX_PIPELINE_BYTES:
            rungs = runs_rungs(config)
            halving = " with successive halving (2 more tasks per cycle)" if rungs else ""
            raise QtrainError(
                f"the compiled pipeline is {size // 1024} KB at early_stopping.max_cycles="
                f"{config.early_stopping.max_cycles}{halving}, over the "
                f"{MAX_PIPELINE_BYTES // 1024} KB a Kubeflow cluster stores per workflow: lower "
                "early_stopping.max_cycles" + (" or unset training.rung_steps" if rungs else "")
            )
        os.replace(partial, output)
    finally:
        partial.unlink(missing_ok=True)
    return output


def _cycle(cycle: int, max_cycles: int, settings: "_TaskSettings", io: "_CycleIO") -> None:
    """Add cycle ``cycle`` and, nested under its gate, the cycles after it."""
    proposals = settings.propose_step(propose(config_json=io.config_json, state=io.state))
    proposals.set_display_name(f"cycle {cycle}: propose")
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


def _trials(cycle: int, settings: "_TaskSettings", io: "_CycleIO", proposals: Any) -> Any:
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


def _halved_trials(cycle: int, settings: "_TaskSettings", io: "_CycleIO", proposals: Any) -> Any:
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


def _export(settings: "_TaskSettings", io: "_CycleIO", cycle: int) -> None:
    task = export(config_json=io.config_json, state=io.state, incumbent=io.incumbent, data=io.data)
    settings.export_step(task).set_display_name(f"export (after cycle {cycle})")


class _CycleIO(NamedTuple):
    """What every task of a cycle reads: the run config, the data, the state, the incumbent."""

    config_json: Any
    data: Any
    state: Any
    incumbent: Any


class _TaskSettings:
    """Resources, secrets, volumes and retries from the config's ``kubeflow`` section.

    Every step that loads the model (preprocess measures the base model, train, evaluate,
    export) runs in the CUDA image with the configured GPU, limits and model cache: a 4-bit
    phi-4 neither loads nor generates on a CPU node.
    """

    def __init__(self, config: RunConfig) -> None:
        self.kf = config.kubeflow
        self.halving = runs_rungs(config)
        self.k = config.training.trials_per_cycle
        self.control = control_store_kind(config)

    def plain(self, task: dsl.PipelineTask, secrets: bool = False) -> dsl.PipelineTask:
        """Every task: caching as configured; Azure credentials where the task needs them."""
        task.set_caching_options(self.kf.caching)
        if secrets and self.kf.azure_secret:
            kubernetes.use_secret_as_env(
                task,
                secret_name=self.kf.azure_secret,
                secret_key_to_env={key: key for key in self.kf.azure_secret_keys},
                optional=True,
            )
        return task

    def model_step(self, task: dsl.PipelineTask, secrets: bool = False) -> dsl.PipelineTask:
        """A task that loads the model: GPU (when configured), limits, the model cache."""
        self.plain(task, secrets=secrets)
        task.set_cpu_limit(self.kf.train_cpu).set_memory_limit(self.kf.train_memory)
        if self.kf.model_cache_pvc:
            kubernetes.mount_pvc(
                task, pvc_name=self.kf.model_cache_pvc, mount_path=self.kf.model_cache_path
            )
            task.set_env_variable("HF_HOME", self.kf.model_cache_path)
        gpu = self.kf.gpu
        if gpu.count > 0:
            task.set_accelerator_type(gpu.accelerator_type).set_accelerator_limit(gpu.count)
            for label, value in gpu.node_selector.items():
                kubernetes.add_node_selector(task, label_key=label, label_value=value)
            for t in gpu.tolerations:
                kubernetes.add_toleration(
                    task, key=t.key, operator=t.operator, value=t.value, effect=t.effect
                )
        return task

    def data_step(self, task: dsl.PipelineTask) -> dsl.PipelineTask:
        """Preprocess: reads the raw data (data volume) and starts the run (runs volume).

        Never cached: it draws the run id, which must be new for every run.
        """
        self.model_step(task)
        task.set_caching_options(False)
        self._mount(task, self.kf.data_pvc, self.kf.data_mount_path)
        self._mount(task, self.kf.runs_pvc, self.kf.runs_mount_path)
        return task

    def propose_step(self, task: dsl.PipelineTask) -> dsl.PipelineTask:
        """Propose: the solver's credentials, and the runs volume, where the azure solver
        keeps its job ids (``runtime.output_dir/azure-jobs``) so a retried step resumes the
        same paid job."""
        self.plain(task, secrets=True)
        self._mount(task, self.kf.runs_pvc, self.kf.runs_mount_path)
        return task

    def gate_step(self, task: dsl.PipelineTask) -> dsl.PipelineTask:
        """The gate: never cached (the channel is outside its inputs); the runs volume or
        the blob store's credentials when it reads the control channel there."""
        self.plain(task, secrets=self.control == "blob")
        task.set_caching_options(False)
        if self.control == "volume":
            self._mount(task, self.kf.runs_pvc, self.kf.runs_mount_path)
        return task

    def export_step(self, task: dsl.PipelineTask) -> dsl.PipelineTask:
        """Export: the runs volume, and the Azure secret for a blob checkpoint store."""
        self.model_step(task, secrets=True)
        self._mount(task, self.kf.runs_pvc, self.kf.runs_mount_path)
        return task

    def train(self, task: dsl.PipelineTask) -> dsl.PipelineTask:
        """The train task: a model step with retries (a preempted GPU node, say)."""
        self.model_step(task)
        task.set_retry(num_retries=self.kf.train_retries, backoff_duration="30s")
        return task

    @staticmethod
    def _mount(task: dsl.PipelineTask, pvc: str | None, path: str) -> None:
        if pvc:
            kubernetes.mount_pvc(task, pvc_name=pvc, mount_path=path)
