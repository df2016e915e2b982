"""The blobs of one blob store: their names, committed manifests, listings and deletion.

Everything lives under ``<prefix>/`` in one container (the layout is described in
:mod:`qtrain.checkpoints.azure_blob`); ``rel`` names below are relative to that prefix.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from qtrain.checkpoints import _azure
from qtrain.checkpoints._azure import translated
from qtrain.checkpoints.manifest import MANIFEST_NAME, Manifest
from qtrain.checkpoints.store import check_name
from qtrain.errors import CheckpointError, one_line
from qtrain.infra_failures import infrastructure_cause

_log = logging.getLogger(__name__)
#: Top-level folders under the prefix that are not checkpoints.
RESERVED = ("pointers", ".run")


@dataclass(frozen=True)
class Committed:
    """A checkpoint's manifest blob as read: parsed, raw bytes, its upload folder and etag."""

    manifest: Manifest
    raw: bytes
    upload: str
    etag: str


class StoreBlobs:
    """Blob names under ``prefix`` in ``container``, and the reads and deletes built on them.

    ``where`` names the container and prefix in every error message.
    """

    def __init__(self, container: Any, prefix: str) -> None:
        self.container = container
        self.prefix = prefix.strip("/")
        self.where = f"container {container.container_name!r} under '{self.prefix or '/'}'"

    def name(self, rel: str) -> str:
        """The full blob name of ``rel``."""
        return f"{self.prefix}/{rel}" if self.prefix else rel

    def client(self, rel: str) -> Any:
        """A ``BlobClient`` for ``rel``."""
        return self.container.get_blob_client(self.name(rel))

    def committed(self, name: str) -> Committed:
        """Checkpoint ``name``'s manifest blob, or :class:`CheckpointError` if absent or foreign."""
        blob = self.client(f"{check_name(name)}/{MANIFEST_NAME}")
        with translated(f"reading checkpoint {name!r} in {self.where}"):
            try:
                download = blob.download_blob()
                raw = download.readall()
            except _azure.errors().ResourceNotFoundError:
                raise CheckpointError(f"no checkpoint named {name!r} in {self.where}") from None
        manifest = Manifest.from_json(raw, source=f"blob {blob.blob_name}")
        upload = (download.properties.metadata or {}).get("upload", "")
        if manifest.name != name or len(upload) != 32:
            raise CheckpointError(
                f"blob {blob.blob_name} does not describe checkpoint {name!r} (copied from "
                "elsewhere?): the checkpoint is damaged; delete it"
            )
        return Committed(manifest, raw, upload, download.properties.etag)

    def listing(self, rel_prefix: str) -> dict[str, Any]:
        """The blobs under ``rel_prefix``, keyed by their name after it."""
        full = self.name(rel_prefix)
        with translated(f"listing {full} in {self.where}"):
            return {
                b.name[len(full) :]: b for b in self.container.list_blobs(name_starts_with=full)
            }

    def manifest_names(self) -> list[str]:
        """Names of the checkpoints that have a manifest blob (committed or not readable)."""
        root = self.name("")
        with translated(f"listing {self.where}"):
            blobs = [b.name[len(root) :] for b in self.container.list_blobs(name_starts_with=root)]
        names = []
        for rel in blobs:
            name, _, rest = rel.partition("/")
            if rest == MANIFEST_NAME and name not in RESERVED:
                names.append(name)
        return names

    def abandoned_uploads(self, min_age_s: float) -> dict[str, list[str]]:
        """Upload folders ``<name>/<upload>`` no manifest names, idle ``min_age_s`` or longer.

        Returns each folder's label and the relative names of its blobs. An upload's age is
        that of its newest blob, so a slow upload in progress loses nothing.
        """
        root = self.name("")
        with translated(f"listing {self.where}"):
            blobs = list(self.container.list_blobs(name_starts_with=root, include=["metadata"]))
        live = {
            b.name[len(root) :].split("/")[0]: (b.metadata or {}).get("upload")
            for b in blobs
            if b.name[len(root) :].count("/") == 1 and b.name.endswith(f"/{MANIFEST_NAME}")
        }
        groups: dict[str, list[Any]] = {}
        for b in blobs:
            parts = b.name[len(root) :].split("/")
            if parts[0] in RESERVED or len(parts) < 3:
                continue
            if live.get(parts[0]) != parts[1]:
                groups.setdefault(f"{parts[0]}/{parts[1]}", []).append(b)
        cutoff = time.time() - min_age_s
        return {
            label: [b.name[len(root) :] for b in group]
            for label, group in groups.items()
            if max(b.last_modified.timestamp() for b in group) <= cutoff
        }

    def delete_under(self, rel_prefix: str) -> None:
        """Best effort: whatever survives is garbage that ``clean_staging`` removes (a resumed
        run, or ``qtrain checkpoints prune``)."""
        try:
            self.delete([rel_prefix + rel for rel in self.listing(rel_prefix)])
        except Exception as exc:
            cause = infrastructure_cause(exc) or one_line(exc, 200)
            _log.warning(
                "could not remove the unfinished upload %s (%s): resuming the run or "
                "`qtrain checkpoints prune` removes it", rel_prefix, cause,
            )  # fmt: skip

    def delete(self, rels: list[str]) -> None:
        """Delete the blobs ``rels``; one already gone counts as deleted."""
        errors = _azure.errors()
        with translated(f"deleting blobs in {self.where}"):
            for rel in rels:
                try:
                    self.container.delete_blob(self.name(rel))
                except errors.ResourceNotFoundError:
                    continue

    def exists_error(self, name: str) -> CheckpointError:
        """The error for committing ``name`` over an existing checkpoint."""
        return CheckpointError(
            f"checkpoint {name!r} already exists in {self.where}: checkpoints are never "
            "overwritten; choose another name or delete the existing one first"
        )
