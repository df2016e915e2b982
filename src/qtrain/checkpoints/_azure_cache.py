"""The local side of a remote checkpoint store: staging folders and verified cached copies.

``cache/<name>/`` holds a checkpoint exactly as committed (files + manifest.json);
``cache/.<name>.json`` records the blob etags it was downloaded at, so it is re-used only
while the remote checkpoint is unchanged (and is re-hashed even then). A copy is built in
``.staging/`` and renamed into place after every file passed its sha256 check, with the
index removed first and written last: a crash at any moment leaves no index that vouches
for a folder it does not describe.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qtrain.checkpoints.manifest import MANIFEST_NAME, FileEntry, Manifest, verify_manifest
from qtrain.errors import CheckpointError
from qtrain.fsio import fsync_dir, fsync_tree, remove_tree, write_atomic

Fetch = Callable[[str, FileEntry, Path], None]


class CheckpointCache:
    """Staging folders and etag-indexed, sha256-verified local copies of remote checkpoints."""

    def __init__(self, root: Path, staging: Path) -> None:
        self.root = root
        self.staging = staging

    def new_staging(self, name: str) -> Path:
        """A fresh private folder ``<staging>/<name>-<uuid>``."""
        self.staging.mkdir(parents=True, exist_ok=True)
        path = self.staging / f"{name}-{uuid.uuid4().hex}"
        path.mkdir(mode=0o700)
        return path

    def is_staging(self, path: Path) -> bool:
        """Whether ``path`` is one of this cache's staging folders."""
        return path.is_dir() and path.resolve().parent == self.staging.resolve()

    def discard(self, path: Path) -> None:
        """Remove a staging folder if it is still there."""
        remove_tree(path)

    def lookup(self, name: str, index: dict[str, Any]) -> Path | None:
        """The cached copy of ``name`` if it was made at exactly ``index``'s etags and verifies."""
        folder = self.root / name
        try:
            recorded = json.loads(self._index_path(name).read_bytes())
        except (OSError, ValueError):
            return None
        if recorded != index or not folder.is_dir():
            return None
        try:
            verify_manifest(folder, expected_name=name)  # local disks rot too
        except CheckpointError:
            self.evict(name)
            return None
        return folder

    def fill(
        self, name: str, manifest: Manifest, raw: bytes, index: dict[str, Any], fetch: Fetch
    ) -> Path:
        """Build a copy of ``name`` in staging with ``fetch`` (which verifies), then install it."""
        temp = self.new_staging(f"download-{name}")
        try:
            for rel, entry in sorted(manifest.files.items()):
                dest = temp / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                fetch(rel, entry, dest)
            (temp / MANIFEST_NAME).write_bytes(raw)
            return self.install(temp, name, index)
        finally:
            remove_tree(temp)  # gone already once installed

    def install(self, folder: Path, name: str, index: dict[str, Any]) -> Path:
        """Move a complete, verified ``folder`` into ``cache/<name>`` and record its etags."""
        fsync_tree(folder)
        self.root.mkdir(parents=True, exist_ok=True)
        self._index_path(name).unlink(missing_ok=True)
        target = self.root / name
        if os.path.lexists(target):
            doomed = self.staging / f"evicted-{name}-{uuid.uuid4().hex}"
            self.staging.mkdir(parents=True, exist_ok=True)
            os.rename(target, doomed)
            remove_tree(doomed)
        os.rename(folder, target)
        fsync_dir(self.root)
        write_atomic(self._index_path(name), json.dumps(index, sort_keys=True).encode())
        return target

    def evict(self, name: str) -> None:
        """Forget the cached copy of ``name``."""
        self._index_path(name).unlink(missing_ok=True)
        remove_tree(self.root / name)

    def clean_staging(self, min_age_s: float, dry_run: bool = False) -> list[str]:
        """Remove staging folders untouched for ``min_age_s`` seconds (``dry_run``: only name
        them); return their names."""
        if not self.staging.is_dir():
            return []
        removed, now = [], time.time()
        for entry in sorted(self.staging.iterdir()):
            newest = max(
                (p.lstat().st_mtime for p in (entry, *entry.rglob("*")) if p.exists()),
                default=0.0,
            )
            if now - newest >= min_age_s and (dry_run or remove_tree(entry)):
                removed.append(entry.name)
        return removed

    def _index_path(self, name: str) -> Path:
        return self.root / f".{name}.json"
