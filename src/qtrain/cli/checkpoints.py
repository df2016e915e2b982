"""``qtrain checkpoints``: list, verify and prune a run's checkpoints, local or in Azure Blob.

``RUN`` is a run directory: its ``config.yaml`` says where the checkpoints live. From a
machine without the run directory, pass the run config with ``--config`` and the run id as
``RUN`` (``storage.kind: azure_blob`` stores need only the config and the credential).
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from qtrain.errors import CheckpointError, ConfigError
from qtrain.rundir import RunDirectory

app = typer.Typer(help="Inspect and manage a run's checkpoints.", no_args_is_help=True)
out = Console()

RunArgument = Annotated[
    str, typer.Argument(help="A run directory, or a run id when --config is given")
]
ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="Run config naming the store (for a run that is not local)"
    ),
]
SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", help="key=value override of --config (repeatable)"),
]


@contextlib.contextmanager
def _store(run: str, config: Path | None, overrides: list[str] | None) -> Iterator[Any]:
    """The run's checkpoint store; remote stores get a throw-away local cache."""
    from qtrain.checkpoints import open_store
    from qtrain.config import load_config

    if config is not None:
        run_config = load_config(config, overrides or ())
        storage, run_id = run_config.storage, run
        local_root = run_config.output_path() / run_id
    else:
        if overrides:
            raise ConfigError("--set needs --config: it overrides that config")
        local_root = Path(run)
        storage, run_id = _run_dir_storage(local_root), local_root.name
    if storage.kind == "local":
        checkpoints = RunDirectory(local_root).checkpoints
        if not checkpoints.is_dir():
            raise CheckpointError(
                f"{local_root} has no {checkpoints.name}/ folder: pass a run directory, or a "
                "run id with --config"
            )
        yield open_store(storage, checkpoints, run_id)
        return
    with tempfile.TemporaryDirectory(prefix="qtrain-checkpoints-") as cache:
        yield open_store(storage, Path(cache), run_id)


def _run_dir_storage(run_dir: Path) -> Any:
    """The ``storage`` section of a run directory's config.yaml (local if there is none)."""
    import yaml
    from pydantic import ValidationError

    from qtrain.config.loader import describe_validation_error
    from qtrain.config.schema import StorageConfig

    path = RunDirectory(run_dir).config_file
    if not path.is_file():
        return StorageConfig()
    try:
        section = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("storage") or {}
        return StorageConfig.model_validate(section)
    except (yaml.YAMLError, AttributeError):
        raise ConfigError(f"{path} is not a qtrain run config") from None
    except ValidationError as exc:
        raise ConfigError(f"{path}: storage.{describe_validation_error(exc)}") from None


@app.command("list")
def list_checkpoints(
    run: RunArgument, config: ConfigOption = None, overrides: SetOption = None
) -> None:
    """Committed checkpoints with their metrics and the pointers naming them; then what is
    wrong (a pointer naming no complete checkpoint, a checkpoint without a manifest)."""
    from qtrain.checkpoints import POINTERS
    from qtrain.checkpoints.audit import audit_store

    with _store(run, config, overrides) as store:
        pointers = {p: store.get_pointer(p) for p in POINTERS}
        table = Table(title=run)
        for col in ("name", "created", "size", "eval_loss", "exact_match", "pointers"):
            table.add_column(col)
        for info in store.list():
            metrics = info.metadata.get("metrics", {})
            table.add_row(
                info.name,
                info.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                f"{info.size_bytes / 1e6:.1f} MB",
                f"{metrics.get('eval_loss', float('nan')):.4f}",
                f"{metrics.get('exact_match', float('nan')):.3f}",
                ", ".join(p for p, name in pointers.items() if name == info.name),
            )
        problems = audit_store(store).problems()
    out.print(table)
    for line in problems:
        out.print(f"[bold red]problem:[/] {line}", highlight=False, soft_wrap=True)


class VerificationFailed(CheckpointError):
    """``qtrain checkpoints verify`` found a problem (exit code 1)."""

    exit_code = 1


@app.command()
def verify(
    run: RunArgument,
    name: Annotated[str | None, typer.Argument(help="One checkpoint (default: all)")] = None,
    config: ConfigOption = None,
    overrides: SetOption = None,
) -> None:
    """Re-hash every file against its manifest, and check the pointers and that no
    checkpoint lacks its manifest; exits 1 if anything is wrong, or if there is nothing to
    verify. Remote checkpoints are downloaded into a temporary folder and hashed there.
    """
    from qtrain.checkpoints.audit import audit_store

    failed = 0
    with _store(run, config, overrides) as store:
        names = [name] if name else [i.name for i in store.list()]
        problems = [] if name else audit_store(store).problems()
        if not names and not problems:
            raise VerificationFailed(f"{run}: no committed checkpoint to verify")
        for checkpoint in names:
            try:
                store.materialize(checkpoint)
            except CheckpointError as exc:
                failed += 1
                out.print(f"FAIL {checkpoint}: {exc}", highlight=False, soft_wrap=True)
            else:
                out.print(f"ok  {checkpoint}")
    for line in problems:
        out.print(f"FAIL {line}", highlight=False, soft_wrap=True)
    if failed or problems:
        raise VerificationFailed(
            f"{run}: {failed} of {len(names)} checkpoints failed their hashes, "
            f"{len(problems)} other problems"
        )


@app.command()
def prune(
    run: RunArgument,
    keep_last: Annotated[
        int, typer.Option(min=0, help="Checkpoints kept besides pointer targets")
    ] = 2,
    dry_run: Annotated[bool, typer.Option(help="Only print what would be deleted")] = False,
    garbage_min_age: Annotated[
        float,
        typer.Option(
            min=0,
            help="Also remove leftovers of interrupted uploads (staging folders, uncommitted "
            "blobs) untouched for this many seconds; keep it above the longest upload",
        ),
    ] = 3600.0,
    config: ConfigOption = None,
    overrides: SetOption = None,
) -> None:
    """Delete checkpoints except pointer targets and the last N, then interrupted uploads."""
    from qtrain.checkpoints import RetentionPolicy

    with _store(run, config, overrides) as store:
        policy = RetentionPolicy(keep_last=keep_last)
        names = policy.plan(store) if dry_run else policy.apply(store)
        garbage = store.clean_staging(min_age_s=garbage_min_age, dry_run=dry_run)
    verb = "would delete" if dry_run else "deleted"
    out.print(f"{verb}: {', '.join(names) if names else 'nothing'}", soft_wrap=True)
    if garbage:
        verb = "would remove" if dry_run else "removed"
        out.print(f"{verb} interrupted uploads: {', '.join(garbage)}", soft_wrap=True)
