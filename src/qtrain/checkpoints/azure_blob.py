"""A checkpoint store in Azure Blob Storage (``storage.kind: azure_blob``).

Layout under ``prefix`` (``<storage.prefix>/<run_id>/checkpoints``) in one container::

    <name>/manifest.json          the commit point, created last and only if absent; its blob
                                  metadata ``upload`` names the folder holding the files
    <name>/<upload>/<path>        the checkpoint's files (block blobs)
    pointers/<pointer>.json       {"pointer", "name", "updated_at", "nonce"}, moved by etag CAS
    .run/<file>                   run files kept beside the checkpoints (history.jsonl)

Crash safety: files are uploaded as staged blocks, each made visible by one
``commit_block_list``; the manifest blob is created after every file, so a checkpoint
exists exactly when its manifest does. An upload killed half-way leaves blobs under
``<name>/<upload>/`` that nothing lists, loads or verifies; :meth:`clean_staging` (run by
``qtrain checkpoints prune``) deletes them, and Azure drops uncommitted blocks after a week.
Deleting removes the manifest first, for the same reason.
A write whose response was lost is told from a lost race by reading back what landed (the
manifest's ``upload``, the pointer's ``nonce``), so an SDK retry never undoes a success.

Locally (``local_dir``) the store keeps ``.staging/`` (trainers write there before commit)
and ``cache/<name>/``: verified downloads, re-used while the blobs' etags are unchanged.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qtrain.checkpoints import _azure
from qtrain.checkpoints._azure import translated
from qtrain.checkpoints._azure_blobs import StoreBlobs
from qtrain.checkpoints._azure_cache import CheckpointCache
from qtrain.checkpoints._azure_commit import upload_checkpoint
from qtrain.checkpoints._azure_pointers import UNSET, BlobPointers, PointerConflictError
from qtrain.checkpoints.manifest import MANIFEST_NAME, FileEntry, build_manifest
from qtrain.checkpoints.store import POINTERS, CheckpointInfo, check_name, copy_source_into
from qtrain.errors import CheckpointError

__all__ = ["AzureBlobCheckpointStore", "PointerConflictError"]

_log = logging.getLogger(__name__)
DEFAULT_BLOCK_SIZE = 8 << 20  # 8 MiB blocks: few requests, bounded memory per upload thread.


class AzureBlobCheckpointStore:
    """A :class:`~qtrain.checkpoints.store.CheckpointStore` in one blob container.

    Pointers move by compare-and-swap on the pointer blob's etag. ``set_pointer(p, name)``
    succeeds only if nobody else moved ``p`` since this store object last wrote it (its
    first write compares against the etag it reads just before): a second agent writing
    the same run makes the other one fail with :class:`PointerConflictError` instead of
    silently overwriting it. ``set_pointer(p, name, expected=old)`` is an explicit CAS;
    :meth:`update_pointer` retries a read-modify-write until it lands.
    """

    def __init__(
        self,
        container: Any,
        prefix: str,
        local_dir: Path | str,
        *,
        block_size: int = DEFAULT_BLOCK_SIZE,
        max_concurrency: int = 4,
    ) -> None:
        if block_size < 1 or max_concurrency < 1:
            raise ValueError("block_size and max_concurrency must be >= 1")
        self.blobs = StoreBlobs(container, prefix)
        self.container = container
        self.prefix = self.blobs.prefix
        self.where = self.blobs.where
        self.block_size = block_size
        self.max_concurrency = max_concurrency
        self.local_dir = Path(local_dir)
        self.local_dir.mkdir(parents=True, exist_ok=True)
        self.cache = CheckpointCache(self.local_dir / "cache", self.local_dir / ".staging")
        self.pointers = BlobPointers(
            lambda pointer: self.blobs.client(f"pointers/{pointer}.json"), self.where, self._require
        )
        with translated(f"opening {self.where}"):
            if not container.exists():
                container.create_container()

    def __repr__(self) -> str:
        return (
            f"AzureBlobCheckpointStore(container={self.container.container_name!r}, "
            f"prefix={self.prefix!r})"
        )

    # -- checkpoints ---------------------------------------------------------------------
    def staging_dir(self, name: str) -> Path:
        """A fresh private local folder ``.staging/<name>-<uuid>`` to write ``name`` into."""
        return self.cache.new_staging(check_name(name))

    def commit(
        self, staged: Path, name: str, metadata: dict[str, Any] | None = None
    ) -> CheckpointInfo:
        """Upload staging folder ``staged`` as checkpoint ``name``, manifest last; no overwrite.

        The staged folder becomes the local cached copy. On failure nothing is visible; the
        partial upload is removed when possible and otherwise by :meth:`clean_staging`.
        """
        check_name(name)
        staged = Path(staged)
        if not self.cache.is_staging(staged):
            raise CheckpointError(
                f"{staged} is not a staging folder of {self!r}: write into "
                "store.staging_dir(name) first, or publish another folder with commit_from()"
            )
        if self.exists(name):  # fail before hashing and uploading gigabytes
            raise self.blobs.exists_error(name)
        manifest = build_manifest(staged, name, metadata)
        raw = manifest.to_json().encode()
        etags, manifest_etag = upload_checkpoint(
            self.blobs, staged, manifest, raw, self.block_size, self.max_concurrency
        )
        (staged / MANIFEST_NAME).write_bytes(raw)
        self.cache.install(staged, name, {"manifest": manifest_etag, "files": etags})
        return CheckpointInfo.from_manifest(manifest)

    def commit_from(
        self, src: Path, name: str, metadata: dict[str, Any] | None = None
    ) -> CheckpointInfo:
        """Copy folder ``src`` (symlinks followed) into staging and commit it as ``name``."""
        check_name(name)
        if not Path(src).is_dir():
            raise CheckpointError(f"cannot commit {src} as checkpoint {name!r}: not a folder")
        if self.exists(name):
            raise self.blobs.exists_error(name)
        staged = self.staging_dir(name)
        try:
            copy_source_into(src, staged, name)
            return self.commit(staged, name, metadata)
        finally:
            self.cache.discard(staged)  # gone already after a successful commit

    def materialize(self, name: str) -> Path:
        """Download (or re-use) checkpoint ``name``, every file checked against its sha256."""
        committed = self.blobs.committed(name)
        files = self.blobs.listing(f"{name}/{committed.upload}/")
        for rel in sorted(committed.manifest.files):
            if rel not in files:
                raise CheckpointError(
                    f"checkpoint {name!r} is missing {rel} (blob "
                    f"{self.blobs.name(f'{name}/{committed.upload}/{rel}')}): the checkpoint is "
                    "damaged; delete it or restore the blob"
                )
        unlisted = sorted(files.keys() - committed.manifest.files.keys())
        if unlisted:
            raise CheckpointError(
                f"checkpoint {name!r} has a file its manifest does not list: {unlisted[0]} "
                f"in {self.where}; remove it (checkpoints are immutable once committed)"
            )
        index = {"manifest": committed.etag, "files": {r: b.etag for r, b in files.items()}}
        cached = self.cache.lookup(name, index)
        if cached is not None:
            return cached

        def fetch(rel: str, entry: FileEntry, dest: Path) -> None:
            self._download_verified(name, f"{name}/{committed.upload}/{rel}", rel, entry, dest)

        return self.cache.fill(name, committed.manifest, committed.raw, index, fetch)

    def exists(self, name: str) -> bool:
        """Whether checkpoint ``name`` has a committed manifest that reads back."""
        try:
            self.blobs.committed(name)
        except CheckpointError:
            return False
        return True

    def info(self, name: str) -> CheckpointInfo:
        """Summary of checkpoint ``name`` from its manifest blob, without downloading files."""
        return CheckpointInfo.from_manifest(self.blobs.committed(name).manifest)

    def delete(self, name: str) -> None:
        """Delete the manifest blob (the checkpoint vanishes at once), then its files.

        Refuses while a pointer names ``name``; pointers are expected to have one writer.
        """
        committed = self.blobs.committed(name)
        for pointer in POINTERS:
            if self.get_pointer(pointer) == name:
                raise CheckpointError(
                    f"checkpoint {name!r} in {self.where} is the {pointer!r} pointer's "
                    f"target: set {pointer!r} to another checkpoint before deleting it"
                )
        gone = _azure.errors().ResourceNotFoundError  # deleted meanwhile: the outcome asked for
        with translated(f"deleting checkpoint {name!r} in {self.where}"), contextlib.suppress(gone):
            self.blobs.client(f"{name}/{MANIFEST_NAME}").delete_blob(
                etag=committed.etag, match_condition=_azure.match_unchanged()
            )
        self.blobs.delete_under(f"{name}/{committed.upload}/")
        self.cache.evict(name)
        # One writer moves pointers (the agent); a second one could have pointed at ``name``
        # between the check above and the manifest's deletion. Say so rather than leave a
        # pointer to nothing unnoticed.
        for pointer in POINTERS:
            if self.get_pointer(pointer) == name:
                raise CheckpointError(
                    f"pointer {pointer!r} in {self.where} was set to checkpoint {name!r} "
                    f"while it was being deleted: set {pointer!r} to another checkpoint "
                    "(is a second writer moving pointers?)"
                )

    def clean_staging(self, min_age_s: float = 0.0, dry_run: bool = False) -> list[str]:
        """Remove abandoned local staging folders and blobs of uploads never committed
        (``dry_run``: only name them). Blobs under ``<name>/<upload>/`` that no manifest names
        are the remains of a killed upload (or a half-finished delete); an upload whose newest
        blob is ``min_age_s`` seconds old or older is deleted whole, so an upload in progress
        elsewhere survives a ``min_age_s`` longer than it takes to upload one file."""
        staged = self.cache.clean_staging(min_age_s, dry_run)
        removed = [f".staging/{entry}" for entry in staged]
        for label, rels in sorted(self.blobs.abandoned_uploads(min_age_s).items()):
            if not dry_run:
                self.blobs.delete(rels)
            removed.append(label)
        return removed

    # -- pointers ------------------------------------------------------------------------
    def set_pointer(self, pointer: str, name: str, expected: str | None = UNSET) -> None:
        """Point ``pointer`` at checkpoint ``name`` by compare-and-swap on its etag.

        With ``expected`` the swap happens only if the pointer names ``expected`` now (None:
        unset). Without it, only if nobody else moved it since this store last did.
        Raises :class:`PointerConflictError` when another writer got there first.
        """
        self.pointers.set(pointer, name, expected)

    def update_pointer(
        self, pointer: str, choose: Callable[[str | None], str | None], attempts: int = 20
    ) -> str | None:
        """Read-modify-write ``pointer`` until the CAS lands; return what it names after.

        ``choose(current)`` returns the checkpoint the pointer should name, or None (or
        ``current``) to leave it; it is called again with the fresh value after each lost race.
        """
        return self.pointers.update(pointer, choose, attempts)

    def delete_pointer(self, pointer: str) -> None:
        """Remove ``pointer`` (it then names nothing), unless another writer moves it first."""
        self.pointers.delete(pointer)

    def get_pointer(self, pointer: str) -> str | None:
        """The checkpoint ``pointer`` names, or ``None`` if it was never set."""
        return self.pointers.get(pointer)

    # -- run files -----------------------------------------------------------------------
    def write_run_file(self, filename: str, data: bytes) -> None:
        """Replace ``.run/<filename>`` (e.g. history.jsonl) in one atomic Put Blob."""
        with translated(f"writing {filename} to {self.where}"):
            self.blobs.client(f".run/{check_name(filename)}").upload_blob(data, overwrite=True)

    def append_run_file(self, filename: str, data: bytes) -> None:
        """Append ``data`` to ``.run/<filename>``; racing appenders never lose a line."""
        with translated(f"appending to {filename} in {self.where}"):
            if not _azure.append_once(self.blobs.client(f".run/{check_name(filename)}"), data):
                raise CheckpointError(f"{filename} in {self.where} kept changing: try again")

    def read_run_file(self, filename: str) -> bytes | None:
        """The bytes of ``.run/<filename>``, or None if it was never written."""
        with translated(f"reading {filename} from {self.where}"):
            try:
                return self.blobs.client(f".run/{check_name(filename)}").download_blob().readall()
            except _azure.errors().ResourceNotFoundError:
                return None

    # Last in the class body: a method named ``list`` shadows the builtin in later annotations.
    def list(self) -> list[CheckpointInfo]:
        """Checkpoints with a committed manifest, oldest commit first; partial uploads skipped."""
        infos = []
        for name in self.blobs.manifest_names():
            try:
                infos.append(self.info(name))
            except CheckpointError as exc:
                _log.warning("skipping %s: %s", name, exc)
        return sorted(infos, key=lambda info: (info.created_at, info.name))

    # -- helpers -------------------------------------------------------------------------
    def _download_verified(
        self, name: str, rel_blob: str, rel: str, entry: FileEntry, dest: Path
    ) -> None:
        blob = self.blobs.client(rel_blob)
        with translated(f"downloading {blob.blob_name} from {self.where}"):
            sha256, size = _azure.download_hashing(blob, dest, self.max_concurrency)
        if size != entry.size or sha256 != entry.sha256:
            raise CheckpointError(
                f"checkpoint {name!r} file {rel} (blob {blob.blob_name}) does not match its "
                f"sha256 in {MANIFEST_NAME}: the blob is corrupt; delete the checkpoint or "
                "restore the blob"
            )

    def _require(self, pointer: str, name: str) -> None:
        if not self.exists(name):
            raise CheckpointError(
                f"cannot set pointer {pointer!r} to {name!r}: no complete checkpoint of that "
                f"name in {self.where}"
            )
