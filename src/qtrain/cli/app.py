"""The ``qtrain`` command line."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from qtrain.cli.common import CONFIG_HELP, config_from_args, console, out
from qtrain.errors import QtrainError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Fine-tune LLMs while a quantum-guided optimizer picks hyperparameters.",
)


class Engine(StrEnum):
    """Where ``qtrain run`` executes the loop."""

    in_process = "in-process"
    kfp_local = "kfp-local"
    kfp_docker = "kfp-docker"


def _add_subcommands() -> None:
    from qtrain.cli.checkpoints import app as checkpoints_app

    app.add_typer(checkpoints_app, name="checkpoints")

    from qtrain.cli.kfp_commands import register_kfp_commands

    register_kfp_commands(app)

    from qtrain.cli import control_commands as control
    from qtrain.cli import run_views

    for command in (control.pause, control.resume, control.stop, run_views.status,
                    run_views.runs, run_views.watch):  # fmt: skip
        app.command()(command)
    from qtrain.cli.ui_command import ui

    app.command()(ui)
    app.command("set")(control.set_settings)
    app.command()(control.approve)
    app.command()(control.reject)


@app.command()
def run(
    args: Annotated[
        list[str] | None,
        typer.Argument(help=CONFIG_HELP),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No live progress")] = False,
    engine: Annotated[
        Engine,
        typer.Option(
            help="in-process: this process runs the loop; kfp-local: the compiled Kubeflow "
            "pipeline runs here with kfp.local, one process per step (needs the kfp extra); "
            "kfp-docker: each step in its image (built with make images; Docker)"
        ),
    ] = Engine.in_process,
    resume: Annotated[
        str | None,
        typer.Option(
            "--resume",
            help="Continue this run (a directory, or an id under runs/) whose process is gone",
            show_default=False,
        ),
    ] = None,
    ui: Annotated[
        bool, typer.Option("--ui", help="Serve the live dashboard beside the run (ui extra)")
    ] = False,
    ui_port: Annotated[int, typer.Option(help="The dashboard's port with --ui (0: free)")] = 8765,
) -> None:
    """Run the fine-tuning loop on this machine (the embedded default: tiny phi-4 on CPU).

    Exit codes: 0 completed, or stopped by `qtrain stop`; 130 Ctrl-C; 143 SIGTERM (both
    stop gracefully and stay resumable); 75 the machine failed (disk full, I/O error: fix it,
    then `--resume`); 1 failed; 2 bad input.
    """
    resume_dir = None
    if resume is not None:
        from qtrain.cli.run_lookup import find_run
        from qtrain.config import load_config

        if args:
            raise QtrainError("--resume takes the run's own config: give no CONFIG or key=value")
        found = find_run(resume, Path("runs"))
        resume_dir, config = found.root, load_config(found.config_file)
    else:
        config = config_from_args(args)
    dashboard = None
    if ui:
        from qtrain.cli.ui_command import start_beside_run

        config, dashboard = start_beside_run(config, ui_port, resume_dir)
    try:
        report, agent = _run(config, engine, quiet, resume_dir)
    finally:
        if dashboard is not None:
            dashboard.stop()
    if not report and agent is not None:  # a resume that never restored the run, a takeover
        lost = agent.lock is not None and agent.lock.lost_to
        why = f"{lost} took over the run" if lost else agent.stopped_because
        kept = "the run's report, history and checkpoints are as they were"
        console.print(f"[bold red]stopped:[/] {escape(str(why))}; {kept}", highlight=False,
                      soft_wrap=True)  # fmt: skip
        raise SystemExit(agent.exit_code or (2 if lost else 1))
    _print_report(report)
    if agent is not None and agent.exit_code:
        raise SystemExit(agent.exit_code)  # not typer.Exit: click would return it as a value


def _run(config: Any, engine: Engine, quiet: bool, resume_dir: Path | None) -> tuple[Any, Any]:
    """Run ``config`` with ``engine``; the report, and the agent (None: kfp-local)."""
    from qtrain.agent import QuantumTrainingAgent
    from qtrain.cli.progress import RunProgress

    if engine in (Engine.kfp_local, Engine.kfp_docker):
        from qtrain.cli.kfp_commands import run_kfp_local

        containers = engine is Engine.kfp_docker
        report = run_kfp_local(config, quiet=quiet, resume=resume_dir, containers=containers)
        agent = None
    else:
        progress = RunProgress(
            console, config.early_stopping.max_cycles, config.training.trials_per_cycle
        )
        listeners: list[Any] = [] if quiet else [progress]
        if config.runtime.mode == "guided" and sys.stdin.isatty():  # a person is here to ask
            from qtrain.cli.guided_prompt import GuidedPrompt

            prompt = GuidedPrompt(console, lambda: agent.run_dir.root if agent.run_dir else None)
            prompt.before = progress.suspend
            listeners.append(prompt)
        agent = QuantumTrainingAgent(config, listeners=tuple(listeners), resume=resume_dir)
        with progress:
            report = agent.run()
    return report, agent


def _print_report(report: dict[str, Any]) -> None:
    from qtrain.cli.progress import summary_table

    out.print(summary_table(report))
    best = report["best"]
    if best:
        out.print(
            f"best: cycle {best['cycle']} trial {best['trial']} — "
            + ", ".join(
                f"{k} {v:.4g}" for k, v in best["metrics"].items() if not k.endswith("_rows")
            )
        )
    out.print(
        f"{report['status']}: {report['stopped_because']}; {report['total_train_steps']} "
        f"training steps in {report['wall_seconds']:.1f} s"
    )
    out.print(f"run directory: {report['run_dir']}", soft_wrap=True)


@app.command()
def schema() -> None:
    """Print the JSON Schema of the run configuration."""
    from qtrain.config.schema import RunConfig

    out.print_json(json.dumps(RunConfig.model_json_schema()))


@app.command()
def evaluate(
    checkpoint: Annotated[Path, typer.Argument(help="A checkpoint folder (with trial.json)")],
    data: Annotated[str | None, typer.Option(help="Other data: its held-out split is used")] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write metrics JSON")
    ] = None,
) -> None:
    """Evaluate a checkpoint standalone: eval loss, perplexity, task metric, samples."""
    from qtrain.evaluate_checkpoint import evaluate_checkpoint

    result = evaluate_checkpoint(checkpoint, data)
    for key, value in result.metrics.items():
        out.print(f"{key}: {value:.4g}")
    for sample in result.samples[:3]:
        out.print(f"  {sample['reference']!r} <- {sample['prediction']!r}")
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(
            json.dumps({"metrics": result.metrics, "samples": result.samples}, indent=2) + "\n",
            encoding="utf-8",
        )
        out.print(f"metrics written to {output}")


_add_subcommands()


def main() -> None:
    """Console entry point: user errors print one line and exit non-zero."""
    try:
        app(standalone_mode=False)
    except QtrainError as exc:
        console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        console.print("interrupted")
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:  # click usage errors carry their own exit code
        # typer vendors its own click, so check the shape rather than click's class
        if hasattr(exc, "show") and isinstance(getattr(exc, "exit_code", None), int):
            exc.show()
            sys.exit(exc.exit_code)
        from qtrain.infra_failures import as_infrastructure_error

        failure = as_infrastructure_error(exc, f"running qtrain {' '.join(sys.argv[1:2])}")
        if failure is None:
            raise
        console.print(
            f"[bold red]error:[/] {escape(str(failure))}", highlight=False, soft_wrap=True
        )
        sys.exit(failure.exit_code)


if __name__ == "__main__":
    main()
