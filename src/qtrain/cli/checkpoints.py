"""``qtrain checkpoints``: list, verify and prune a run's checkpoints."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from qtrain.checkpoints import LocalCheckpointStore
from qtrain.errors import CheckpointError

app = typer.Typer(help="Inspect and manage a run's checkpoints.", no_args_is_help=True)
out = Console()


def _store(run_dir: Path) -> LocalCheckpointStore:

    root = run_dir / "checkpoints"
    if not root.is_dir():
        raise CheckpointError(f"{run_dir} has no checkpoints/ folder: pass a run directory")
    return LocalCheckpointStore(root)


@app.command("list")
def list_checkpoints(run_dir: Annotated[Path, typer.Argument(help="A run directory")]) -> None:
    """Committed checkpoints with their metrics and the pointers naming them."""
    store = _store(run_dir)
    pointers = {p: store.get_pointer(p) for p in ("incumbent", "best", "latest")}
    table = Table(title=str(run_dir))
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
    out.print(table)


@app.command()
def verify(
    run_dir: Annotated[Path, typer.Argument(help="A run directory")],
    name: Annotated[str | None, typer.Argument(help="One checkpoint (default: all)")] = None,
) -> None:
    """Re-hash every file against its manifest; exits non-zero on the first mismatch."""
    store = _store(run_dir)
    names = [name] if name else [i.name for i in store.list()]
    for checkpoint in names:
        store.materialize(checkpoint)
        out.print(f"ok  {checkpoint}")


@app.command()
def prune(
    run_dir: Annotated[Path, typer.Argument(help="A run directory")],
    keep_last: Annotated[
        int, typer.Option(min=0, help="Checkpoints kept besides pointer targets")
    ] = 2,
    dry_run: Annotated[bool, typer.Option(help="Only print what would be deleted")] = False,
) -> None:
    """Delete checkpoints except pointer targets and the last N."""
    from qtrain.checkpoints import RetentionPolicy

    store = _store(run_dir)
    policy = RetentionPolicy(keep_last=keep_last)
    names = policy.plan(store) if dry_run else policy.apply(store)
    verb = "would delete" if dry_run else "deleted"
    out.print(f"{verb}: {', '.join(names) if names else 'nothing'}")
