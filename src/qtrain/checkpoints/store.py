"""The storage-agnostic checkpoint store interface and the values it returns.

A :class:`CheckpointStore` publishes immutable, named checkpoints (folders of files with a
manifest), keeps the named pointers ``incumbent`` / ``best`` / ``latest``, and hands a
verified local folder back for loading. Only :meth:`~CheckpointStore.staging_dir` and
:meth:`~CheckpointStore.materialize` deal in local paths, so a remote backend (Azure Blob)
implements the same protocol and passes the same conformance suite.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final, Protocol, runtime_checkable

from qtrain.checkpoints.manifest import Manifest
from qtrain.errors import CheckpointError

POINTERS: Final = ("incumbent", "best", "latest")
"""The pointer names a store keeps; anything else is refused so typos cannot go unnoticed."""

RESERVED_NAMES: Final = frozenset({"pointers"})
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


@dataclass(frozen=True)
class CheckpointInfo:
    """Summary of one committed checkpoint, read from its manifest (no hashing)."""

    name: str
    created_at: datetime
    metadata: dict[str, Any] = field(default_factory=dict)
    size_bytes: int = 0
    file_count: int = 0

    @classmethod
    def from_manifest(cls, manifest: Manifest) -> CheckpointInfo:
        """Summarise a manifest."""
        return cls(
            name=manifest.name,
            created_at=manifest.created_at,
            metadata=dict(manifest.metadata),
            size_bytes=manifest.total_size,
            file_count=len(manifest.files),
        )


def copy_source_into(src: Path, staged: Path, name: str) -> None:
    """Copy folder ``src`` (symlinks followed) into staging folder ``staged`` for ``commit_from``.

    The stores share this, so an unreadable source is the same one-line error.
    """
    try:
        shutil.copytree(src, staged, dirs_exist_ok=True)
    except OSError as exc:
        raise CheckpointError(
            f"could not copy {src} into {staged} for checkpoint {name!r}: {exc}"
        ) from None


def check_name(name: str) -> str:
    """Return ``name`` if it is a valid checkpoint name, else raise :class:`CheckpointError`.

    Names are 1-128 letters, digits, ``.``, ``_`` or ``-`` starting with a letter or digit,
    so they are safe as folder names and blob prefixes alike.
    """
    if not isinstance(name, str) or not _NAME.match(name) or name in RESERVED_NAMES:
        raise CheckpointError(
            f"checkpoint name {name!r} is invalid: use 1-128 letters, digits, '.', '_' or '-', "
            f"starting with a letter or digit (and not {', '.join(sorted(RESERVED_NAMES))})"
        )
    return name


def check_pointer(pointer: str) -> str:
    """Return ``pointer`` if it is one of :data:`POINTERS`, else raise :class:`CheckpointError`."""
    if pointer not in POINTERS:
        raise CheckpointError(f"unknown checkpoint pointer {pointer!r}: use one of {POINTERS}")
    return pointer


@runtime_checkable
class CheckpointStore(Protocol):
    """Where checkpoints are published, listed, loaded from and retired.

    Committed checkpoints are immutable: a name is never overwritten, and a checkpoint is
    either fully visible (with a manifest that verifies) or not visible at all, whatever
    moment a crash happens at. Pointer updates are atomic. One writer at a time (the
    agent) is expected to move pointers and apply retention.
    """

    def staging_dir(self, name: str) -> Path:
        """A fresh, private local folder a trainer writes checkpoint ``name`` into."""
        ...

    def commit(
        self, staged: Path, name: str, metadata: dict[str, Any] | None = None
    ) -> CheckpointInfo:
        """Publish a folder from :meth:`staging_dir` as checkpoint ``name``, atomically.

        Raises :class:`CheckpointError` if ``name`` already exists.
        """
        ...

    def commit_from(
        self, src: Path, name: str, metadata: dict[str, Any] | None = None
    ) -> CheckpointInfo:
        """Copy any local folder into staging and publish it as checkpoint ``name``."""
        ...

    def materialize(self, name: str) -> Path:
        """Verify checkpoint ``name`` against its manifest; return a local folder to load.

        Treat the returned folder as read-only. Raises :class:`CheckpointError` if the
        checkpoint is missing, incomplete, or any file fails its sha256 check.
        """
        ...

    def exists(self, name: str) -> bool:
        """Whether a complete checkpoint called ``name`` exists."""
        ...

    def info(self, name: str) -> CheckpointInfo:
        """Summary of checkpoint ``name``; :class:`CheckpointError` if it does not exist."""
        ...

    def delete(self, name: str) -> None:
        """Remove checkpoint ``name`` so that no crash leaves a half-deleted checkpoint.

        Refuses (:class:`CheckpointError`) while a pointer names it.
        """
        ...

    def clean_staging(self, min_age_s: float = 0.0, dry_run: bool = False) -> list[str]:
        """Remove abandoned staging and half-deleted leftovers; return what was removed
        (``dry_run``: what would be).

        Only staging folders untouched for ``min_age_s`` seconds are removed; call it
        when no trainer is writing (at the start of a run), or with a generous
        ``min_age_s`` when other writers may be active.
        """
        ...

    def set_pointer(self, pointer: str, name: str) -> None:
        """Atomically point ``pointer`` (one of :data:`POINTERS`) at checkpoint ``name``."""
        ...

    def get_pointer(self, pointer: str) -> str | None:
        """The checkpoint name ``pointer`` points at, or ``None`` if it was never set."""
        ...

    def delete_pointer(self, pointer: str) -> None:
        """Remove ``pointer`` (nothing happens if it was never set)."""
        ...

    # Last in the class body: for type checkers, a method named ``list`` shadows the builtin
    # in the annotations of the methods after it.
    def list(self) -> list[CheckpointInfo]:
        """Complete checkpoints, oldest commit first (ties broken by name)."""
        ...
