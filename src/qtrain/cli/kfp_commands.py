"""The Kubeflow commands: ``compile``, ``submit``, ``schedule`` and ``run --engine kfp-local``.

kfp is imported only when one of these commands runs (through
``qtrain_kfp.pipelines.client``), so the rest of the CLI works without the ``kfp`` extra.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from qtrain.cli.common import CONFIG_HELP, config_from_args, console, out
from qtrain.cli.lazy_kfp import kfp_extra
from qtrain.cli.sidecar import ISTIO_QUIT_URL, sidecar_ended_after
from qtrain.config import RunConfig

Host = Annotated[
    str,
    typer.Option(
        "--host",
        envvar="KF_PIPELINES_ENDPOINT",
        help="URL of the KFP API, e.g. http://localhost:8888 or https://kubeflow.example.com/pipeline",
    ),
]
Experiment = Annotated[
    str | None,
    typer.Option(
        help="KFP experiment, created if missing (default: the config's kubeflow.experiment)"
    ),
]
Namespace = Annotated[
    str | None, typer.Option(help="Kubeflow profile namespace (multi-user installs)")
]
Token = Annotated[
    str | None,
    typer.Option(help="Bearer token; default: the file named by $KF_PIPELINES_SA_TOKEN_PATH"),
]


def submit(
    host: Host,
    args: Annotated[list[str] | None, typer.Argument(help=CONFIG_HELP)] = None,
    experiment: Experiment = None,
    name: Annotated[str | None, typer.Option(help="Run name (default: pipeline + time)")] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Wait for the run to finish")] = False,
    once: Annotated[
        bool,
        typer.Option(
            "--once",
            help="Name the run after the config's digest; submit nothing if that run exists "
            "(for hooks that fire on every GitOps sync)",
        ),
    ] = False,
    timeout: Annotated[float, typer.Option(help="With --wait: give up after S seconds")] = 86400.0,
    poll_interval: Annotated[float, typer.Option(help="With --wait: seconds between polls")] = 5.0,
    namespace: Namespace = None,
    token: Token = None,
    resume: Annotated[
        str | None,
        typer.Option(
            "--resume",
            help="Continue this stopped or paused pipeline run: its run directory (its own "
            "config.yaml is submitted), or its run id on kubeflow.runs_pvc (with CONFIG)",
            show_default=False,
        ),
    ] = None,
    quit_sidecar: Annotated[
        str | None,
        typer.Option(
            "--quit-sidecar",
            help="When done, POST to this sidecar quit URL (an Istio proxy in a Job: "
            f"{ISTIO_QUIT_URL})",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Compile the config into the pipeline and start one run on a Kubeflow Pipelines API."""
    with sidecar_ended_after(quit_sidecar, _warn):
        if resume is None:
            config, resume_from = config_from_args(args), None
        else:
            config, resume_from = _resume_target(resume, args)
        with kfp_extra("submit"):
            from qtrain_kfp.pipelines import client
        run = client.submit_run(
            config,
            host,
            experiment=experiment or config.kubeflow.experiment,
            run_name=name,
            wait=wait,
            timeout=timeout,
            poll_interval=poll_interval,
            namespace=namespace,
            token=token,
            progress=lambda line: console.print(line, highlight=False, soft_wrap=True),
            once=once,
            resume_from=resume_from,
        )
        if wait and not run.skipped:
            run.raise_unless_succeeded()
        out.print(f"run id: {run.run_id}", highlight=False)
        if run.qtrain_run_id and not run.skipped:
            out.print(f"qtrain run id: {run.qtrain_run_id}", highlight=False)
        if run.state:
            out.print(f"state: {run.state}", highlight=False)
        out.print(f"run details: {run.url}", highlight=False, soft_wrap=True)


def _warn(line: str) -> None:
    console.print(f"warning: {line}", highlight=False, soft_wrap=True)


def _resume_target(run: str, args: list[str] | None) -> tuple[RunConfig, str]:
    """``submit --resume RUN``: the config to submit and the run directory to resume, relative
    to ``runtime.output_dir`` on the runs volume.

    A RUN that is a directory here (the runs volume mounted, or a copy of the run directory)
    is checked now and its own ``config.yaml`` is submitted; a bare run id is submitted with
    CONFIG, and the resume step checks it on the cluster.
    """
    from qtrain.config import load_config
    from qtrain.errors import QtrainError
    from qtrain.rundir import RunDirectory
    from qtrain.steps.resume import resume_point

    path = Path(run)
    if path.is_dir():
        run_dir = RunDirectory(path)
        _, concluded = resume_point(run_dir)
        if args:
            raise QtrainError(
                "--resume RUN (a run directory) submits the run's own config.yaml: give no "
                "CONFIG or key=value"
            )
        if not run_dir.config_file.is_file():
            raise QtrainError(f"{path} is not a qtrain run directory (no config.yaml)")
        config = load_config(run_dir.config_file)
        if concluded >= config.early_stopping.max_cycles:
            raise QtrainError(f"run {run_dir.run_id} already ran its {concluded} cycles")
        run_id = run_dir.run_id
    elif path.is_absolute() or len(path.parts) != 1 or run.strip() in ("", ".", ".."):
        raise QtrainError(
            f"--resume {run!r}: no such run directory; give a run directory, or the run id "
            "of a run on the config's kubeflow.runs_pvc"
        )
    else:
        config, run_id = config_from_args(args), run.strip()
    runtime = config.runtime.model_copy(update={"run_id": run_id})
    return config.model_copy(update={"runtime": runtime}), run_id


def schedule(
    host: Host,
    cron: Annotated[
        str,
        typer.Option(
            help="5-field cron ('0 2 * * *'), 6-field KFP cron (seconds first), @daily, @every 6h"
        ),
    ],
    args: Annotated[list[str] | None, typer.Argument(help=CONFIG_HELP)] = None,
    experiment: Experiment = None,
    name: Annotated[str | None, typer.Option(help="Recurring run name")] = None,
    namespace: Namespace = None,
    token: Token = None,
) -> None:
    """Upload the pipeline (a new version if it exists) and run it on a cron schedule."""
    config = config_from_args(args)
    with kfp_extra("schedule"):
        from qtrain_kfp.pipelines import client
    scheduled = client.schedule_run(
        config,
        host,
        cron,
        experiment=experiment or config.kubeflow.experiment,
        name=name,
        namespace=namespace,
        token=token,
    )
    version_note = "new" if scheduled.new_version else "existing"
    for line in scheduled.size_warnings:
        _warn(line)
    if scheduled.reused:
        out.print("this schedule exists already: nothing changed", highlight=False)
    for old in scheduled.replaced:
        out.print(f"replaced recurring run {old} (same name, another schedule)", highlight=False)
    out.print(f"recurring run id: {scheduled.recurring_run_id}", highlight=False)
    out.print(f"cron (KFP, seconds first): {scheduled.cron}", highlight=False)
    out.print(f"pipeline version: {scheduled.version_name} ({version_note})", highlight=False)
    out.print(f"details: {scheduled.url}", highlight=False, soft_wrap=True)


def compile_(
    args: Annotated[
        list[str] | None,
        typer.Argument(help=CONFIG_HELP),
    ] = None,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write the pipeline YAML")
    ] = Path("pipeline.yaml"),
) -> None:
    """Compile the config into the Kubeflow pipeline (KFP IR YAML), cycles unrolled."""
    config = config_from_args(args)
    with kfp_extra("compile"):
        from qtrain_kfp.pipelines import training_pipeline
    path = training_pipeline.compile_pipeline(config, output, warn=_warn)
    size_kb = path.stat().st_size / 1024
    out.print(
        f"pipeline written to {path} ({size_kb:.0f} KB, "
        f"{config.early_stopping.max_cycles} cycles x {config.training.trials_per_cycle} trials)",
        soft_wrap=True,
    )
    out.print(training_pipeline.argo_estimate(path, config).summary(), soft_wrap=True)


def run_kfp_local(
    config: RunConfig, quiet: bool, resume: Path | None = None, containers: bool = False
) -> dict[str, Any]:
    """``qtrain run --engine kfp-local [--resume RUN]``: the compiled pipeline run here (or
    continuing the stopped pipeline run ``resume``); ``containers`` (``--engine kfp-docker``):
    each step in its component's image; returns its report."""
    engine = "kfp-docker" if containers else "kfp-local"
    with kfp_extra(f"run --engine {engine}"):
        from qtrain_kfp.pipelines import local_run
    if containers:
        from qtrain.errors import QtrainError

        try:
            import docker  # noqa: F401  (kfp.local's DockerRunner drives the engine with it)
        except ImportError:
            raise QtrainError(
                "--engine kfp-docker needs the docker Python package: pip install docker"
            ) from None
    return local_run.run_kfp_local(config, quiet=quiet, resume=resume, containers=containers)


def register_kfp_commands(app: typer.Typer) -> None:
    """Add ``compile``, ``submit`` and ``schedule`` to the ``qtrain`` app."""
    app.command(name="compile")(compile_)
    app.command()(submit)
    app.command()(schedule)
