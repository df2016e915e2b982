"""Files shipped inside the package: the tiny base model and the two task datasets."""

from __future__ import annotations

from pathlib import Path

BUILTIN_PREFIX = "builtin:"
ASSETS_DIR = Path(__file__).resolve().parent / "assets"
BUILTIN_MODELS = {"tiny-phi4": ASSETS_DIR / "tiny-phi4"}
BUILTIN_DATASETS = {
    "reverse": ASSETS_DIR / "data" / "reverse.jsonl",
    "shift": ASSETS_DIR / "data" / "shift.jsonl",
}


def is_builtin(name: str) -> bool:
    """Whether ``name`` refers to a shipped asset (``builtin:...``)."""
    return name.startswith(BUILTIN_PREFIX)


def builtin_path(name: str, table: dict[str, Path], kind: str) -> Path:
    """Resolve ``builtin:NAME`` in ``table``; unknown names raise a one-line error."""
    from qtrain.errors import QtrainError

    key = name.removeprefix(BUILTIN_PREFIX)
    if key not in table:
        raise QtrainError(
            f"unknown builtin {kind} '{name}': choose from "
            + ", ".join(BUILTIN_PREFIX + k for k in table)
        )
    return table[key]
