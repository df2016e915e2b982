"""A checkpoint store on a local (or mounted: PVC, NFS) file system.

Layout under ``root``::

    <name>/manifest.json      one folder per committed checkpoint; manifest written last
    <name>/...                the checkpoint's files (adapter, config, metrics, tokenizer)
    pointers/<pointer>.json   {"pointer", "name", "updated_at"}, replaced atomically
    .staging/<name>-<uuid>/   private folders trainers write into before commit
    .trash/<name>-<uuid>/     checkpoints being deleted

A checkpoint appears under ``<name>`` only through one ``os.rename`` of a fully written
and fsynced staging folder, and disappears through one rename into ``.trash``, so a crash
at any moment leaves either the whole checkpoint or nothing under ``<name>``; leftovers
stay in ``.staging`` / ``.trash`` until :meth:`LocalCheckpointStore.clean_staging`.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from qtrain.checkpoints.manifest import (
    MANIFEST_NAME,
    Manifest,
    build_manifest,
    read_manifest,
    verify_manifest,
)
from qtrain.checkpoints.store import (
    POINTERS,
    RESERVED_NAMES,
    CheckpointInfo,
    check_name,
    check_pointer,
    copy_source_into,
)
from qtrain.errors import CheckpointError
from qtrain.fsio import fsync_dir, fsync_tree, remove_tree, write_atomic

_log = logging.getLogger(__name__)


class LocalCheckpointStore:
    """A :class:`~qtrain.checkpoints.store.CheckpointStore` in a local folder ``root``.

    Safe against crashes at any point; a shared file system (a PVC mounted by several
    pods) is fine as long as one writer at a time moves pointers and applies retention.
    """

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._staging = self.root / ".staging"
        self._trash = self.root / ".trash"
        self._pointers = self.root / "pointers"

    def __repr__(self) -> str:
        return f"LocalCheckpointStore({str(self.root)!r})"

    def staging_dir(self, name: str) -> Path:
        """A fresh private folder ``.staging/<name>-<uuid>`` to write checkpoint ``name`` into."""
        check_name(name)
        self._ensure_dir(self._staging)
        path = self._staging / f"{name}-{uuid.uuid4().hex}"
        path.mkdir(mode=0o700)
        return path

    def commit(
        self, staged: Path, name: str, metadata: dict[str, Any] | None = None
    ) -> CheckpointInfo:
        """Publish staging folder ``staged`` as checkpoint ``name``; never overwrites.

        Hashes and fsyncs every file, writes the manifest last, then renames the folder
        into place in one step. On failure the staged folder stays in ``.staging``.
        """
        check_name(name)
        staged = Path(staged)
        if not staged.is_dir() or staged.resolve().parent != self._staging.resolve():
            raise CheckpointError(
                f"{staged} is not a staging folder of {self.root}: write into "
                "store.staging_dir(name) first, or publish another folder with commit_from()"
            )
        target = self.root / name
        self._refuse_existing(target, name)  # fail before hashing gigabytes
        manifest = build_manifest(staged, name, metadata)
        fsync_tree(staged)
        write_atomic(staged / MANIFEST_NAME, manifest.to_json().encode())
        # Checked again, then the rename itself refuses a non-empty target; at worst a
        # racing rename replaces an empty folder, which holds no checkpoint.
        self._refuse_existing(target, name)
        try:
            os.rename(staged, target)
        except OSError as exc:
            if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):
                raise self._exists_error(name) from None
            raise
        fsync_dir(self.root)
        fsync_dir(self._staging)
        return CheckpointInfo.from_manifest(manifest)

    def commit_from(
        self, src: Path, name: str, metadata: dict[str, Any] | None = None
    ) -> CheckpointInfo:
        """Copy folder ``src`` (symlinks followed) into staging and commit it as ``name``."""
        check_name(name)
        if not Path(src).is_dir():
            raise CheckpointError(f"cannot commit {src} as checkpoint {name!r}: not a folder")
        self._refuse_existing(self.root / name, name)
        staged = self.staging_dir(name)
        try:
            copy_source_into(src, staged, name)
            return self.commit(staged, name, metadata)
        finally:
            remove_tree(staged)  # gone already after a successful commit

    def materialize(self, name: str) -> Path:
        """Verify every file of checkpoint ``name`` by sha256; return its folder (read-only)."""
        folder = self._folder(name)
        verify_manifest(folder, expected_name=name)
        return folder

    def exists(self, name: str) -> bool:
        """Whether ``<root>/<name>`` is a complete checkpoint (its manifest reads back)."""
        try:
            self._manifest(name)
        except CheckpointError:
            return False
        return True

    def info(self, name: str) -> CheckpointInfo:
        """Summary of checkpoint ``name`` from its manifest, without hashing files."""
        return CheckpointInfo.from_manifest(self._manifest(name))

    def delete(self, name: str) -> None:
        """Rename ``<name>`` into ``.trash`` (one atomic step), then remove it."""
        folder = self._folder(name)
        for pointer in POINTERS:
            if self.get_pointer(pointer) == name:
                raise CheckpointError(
                    f"checkpoint {name!r} in {self.root} is the {pointer!r} pointer's target: "
                    f"set {pointer!r} to another checkpoint before deleting it"
                )
        self._ensure_dir(self._trash)
        doomed = self._trash / f"{name}-{uuid.uuid4().hex}"
        os.rename(folder, doomed)
        fsync_dir(self.root)
        remove_tree(doomed)

    def clean_staging(self, min_age_s: float = 0.0, dry_run: bool = False) -> list[str]:
        """Remove abandoned ``.staging`` folders, ``.trash`` leftovers and pointer temp files
        (``dry_run``: only name them).

        Call it when no trainer is writing into this store (e.g. when a run starts), or
        pass ``min_age_s`` to spare staging folders modified within that many seconds.
        Returns the removed entries as ``.staging/<folder>`` style relative paths.
        """
        removed: list[str] = []
        now = time.time()
        for base in (self._staging, self._trash, self._pointers):
            if not base.is_dir():
                continue
            for entry in sorted(base.iterdir()):
                if base is self._pointers and not entry.name.endswith(".tmp"):
                    continue
                if base is not self._trash and now - _newest_mtime(entry) < min_age_s:
                    continue
                if dry_run or remove_tree(entry):
                    removed.append(f"{base.name}/{entry.name}")
        return removed

    def set_pointer(self, pointer: str, name: str) -> None:
        """Atomically point ``pointer`` at complete checkpoint ``name`` (temp file + replace)."""
        check_pointer(pointer)
        if not self.exists(name):
            raise CheckpointError(
                f"cannot set pointer {pointer!r} to {name!r}: no complete checkpoint of that "
                f"name in {self.root}"
            )
        self._ensure_dir(self._pointers)
        payload = {"pointer": pointer, "name": name, "updated_at": datetime.now(UTC).isoformat()}
        write_atomic(self._pointers / f"{pointer}.json", (json.dumps(payload) + "\n").encode())

    def delete_pointer(self, pointer: str) -> None:
        """Remove ``pointer`` (nothing happens if it was never set)."""
        check_pointer(pointer)
        (self._pointers / f"{pointer}.json").unlink(missing_ok=True)

    def get_pointer(self, pointer: str) -> str | None:
        """The checkpoint ``pointer`` names, or ``None`` if it was never set."""
        check_pointer(pointer)
        path = self._pointers / f"{pointer}.json"
        try:
            payload = json.loads(path.read_bytes())
        except FileNotFoundError:
            return None
        except ValueError:
            payload = None
        if not isinstance(payload, dict) or not isinstance(payload.get("name"), str):
            raise CheckpointError(f"{path} is damaged: set the {pointer!r} pointer again")
        return payload["name"]

    def incomplete(self) -> list[str]:
        """Checkpoint folders without a readable manifest (damaged, or never committed)."""
        return sorted(
            entry.name
            for entry in self.root.iterdir()
            if entry.is_dir() and not entry.name.startswith(".")
            and entry.name not in RESERVED_NAMES and not self.exists(entry.name)
        )  # fmt: skip

    def list(self) -> list[CheckpointInfo]:
        """Complete checkpoints, oldest commit first; incomplete folders are skipped."""
        infos = []
        for entry in self.root.iterdir():
            if entry.name.startswith(".") or entry.name in RESERVED_NAMES or not entry.is_dir():
                continue
            try:
                infos.append(self.info(entry.name))
            except CheckpointError as exc:
                _log.warning("skipping %s: %s", entry, exc)
        return sorted(infos, key=lambda info: (info.created_at, info.name))

    def _folder(self, name: str) -> Path:
        folder = self.root / check_name(name)
        if not folder.is_dir():
            raise CheckpointError(f"no checkpoint named {name!r} in {self.root}")
        return folder

    def _manifest(self, name: str) -> Manifest:
        folder = self._folder(name)
        manifest = read_manifest(folder)
        if manifest.name != name:
            raise CheckpointError(
                f"{folder / MANIFEST_NAME} belongs to checkpoint {manifest.name!r}, not "
                f"{name!r}: the folder was renamed or moved; restore its name"
            )
        return manifest

    def _refuse_existing(self, target: Path, name: str) -> None:
        if os.path.lexists(target):
            raise self._exists_error(name)

    def _exists_error(self, name: str) -> CheckpointError:
        return CheckpointError(
            f"checkpoint {name!r} already exists in {self.root}: checkpoints are never "
            "overwritten; choose another name or delete the existing one first"
        )

    def _ensure_dir(self, path: Path) -> None:
        if not path.is_dir():
            path.mkdir(exist_ok=True)
            fsync_dir(path.parent)


def _newest_mtime(path: Path) -> float:
    """Latest modification time of ``path`` or anything below it."""
    newest = path.lstat().st_mtime
    if path.is_dir() and not path.is_symlink():
        for dirpath, dirnames, filenames in os.walk(path):
            for entry in (*dirnames, *filenames):
                try:
                    newest = max(newest, Path(dirpath, entry).lstat().st_mtime)
                except FileNotFoundError:  # removed while we looked
                    continue
    return newest
