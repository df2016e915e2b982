"""Pointer blobs (``pointers/<pointer>.json``) moved by compare-and-swap on their etag."""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from qtrain.checkpoints import _azure
from qtrain.checkpoints._azure import translated
from qtrain.checkpoints.store import check_pointer
from qtrain.errors import CheckpointError, InfrastructureError

UNSET: Any = object()


class PointerConflictError(CheckpointError):
    """Another writer moved a pointer between this store's read and its compare-and-swap."""


class BlobPointers:
    """The named pointers of one blob store.

    Every write is a compare-and-swap (If-Match on the etag read just before, or
    If-None-Match ``*`` for a pointer never set), so no update is ever lost or torn. The etag
    of this object's own last write is remembered: a plain :meth:`set` fails once someone
    else moved the pointer afterwards (a second agent on the same run), instead of
    overwriting it.

    Each write carries a fresh ``nonce``: when a swap's response is lost and the SDK's retry
    then fails its precondition, re-reading the pointer tells whether the first attempt
    landed (the nonce is ours) or another writer won.
    """

    def __init__(
        self, blob_for: Callable[[str], Any], where: str, require: Callable[[str, str], None]
    ) -> None:
        self._blob_for = blob_for
        self._where = where
        self._require = require  # (pointer, name): raise unless checkpoint ``name`` exists
        self._written: dict[str, str] = {}

    def get(self, pointer: str) -> str | None:
        """The checkpoint ``pointer`` names, or ``None`` if it was never set."""
        return self._read(check_pointer(pointer))[0]

    def set(self, pointer: str, name: str, expected: str | None = UNSET) -> None:
        """CAS ``pointer`` to ``name``; see :meth:`AzureBlobCheckpointStore.set_pointer`."""
        check_pointer(pointer)
        self._require(pointer, name)
        current, etag = self._read(pointer)
        if expected is not UNSET and current != expected:
            raise PointerConflictError(
                f"pointer {pointer!r} in {self._where} names {current!r}, not the expected "
                f"{expected!r}: another writer moved it; re-read it and decide again"
            )
        known = self._written.get(pointer)
        if expected is UNSET and known is not None and known != etag:
            raise PointerConflictError(
                f"pointer {pointer!r} in {self._where} was moved by another writer (it now "
                f"names {current!r}): is a second agent running this run? Stop it, or open "
                "the store again to adopt the pointer's new value"
            )
        if not self._swap(pointer, name, etag):
            raise PointerConflictError(
                f"pointer {pointer!r} in {self._where} was moved by another writer while "
                f"this one set it to {name!r}; re-read it and decide again"
            )

    def update(
        self, pointer: str, choose: Callable[[str | None], str | None], attempts: int
    ) -> str | None:
        """Read-modify-write until the CAS lands (``AzureBlobCheckpointStore.update_pointer``)."""
        check_pointer(pointer)
        for attempt in range(attempts):
            current, etag = self._read(pointer)
            target = choose(current)
            if target is None or target == current:
                return current
            self._require(pointer, target)
            if self._swap(pointer, target, etag):
                return target
            time.sleep(random.uniform(0, 0.01 * 2 ** min(attempt, 6)))  # back off, then re-read
        raise PointerConflictError(
            f"pointer {pointer!r} in {self._where} kept changing under {attempts} attempts "
            "to move it: too many writers"
        )

    def _read(self, pointer: str) -> tuple[str | None, str | None]:
        blob = self._blob_for(pointer)
        with translated(f"reading pointer {pointer!r} in {self._where}"):
            try:
                download = blob.download_blob()
                raw = download.readall()
            except _azure.errors().ResourceNotFoundError:
                return None, None
        try:
            payload = json.loads(raw)
        except ValueError:
            payload = None
        if not isinstance(payload, dict) or not isinstance(payload.get("name"), str):
            raise CheckpointError(
                f"blob {blob.blob_name} is damaged: set the {pointer!r} pointer again"
            )
        return payload["name"], download.properties.etag

    def delete(self, pointer: str) -> None:
        """Remove ``pointer`` if nobody moved it since it was read (CAS on its etag)."""
        check_pointer(pointer)
        errors = _azure.errors()
        current, etag = self._read(pointer)
        if current is None:
            return
        with translated(f"removing pointer {pointer!r} in {self._where}"):
            try:
                self._blob_for(pointer).delete_blob(
                    etag=etag, match_condition=_azure.match_unchanged()
                )
            except errors.ResourceNotFoundError:
                # a retry after a lost response, or deleted meanwhile: gone either way
                self._written.pop(pointer, None)
                return
            except errors.ResourceModifiedError:
                raise PointerConflictError(
                    f"pointer {pointer!r} in {self._where} was moved by another writer while "
                    "this one removed it; re-read it and decide again"
                ) from None
        self._written.pop(pointer, None)

    def _swap(self, pointer: str, name: str, etag: str | None) -> bool:
        nonce = uuid.uuid4().hex
        payload = {
            "pointer": pointer,
            "name": name,
            "updated_at": datetime.now(UTC).isoformat(),
            "nonce": nonce,
        }
        blob = self._blob_for(pointer)
        try:
            with translated(f"setting pointer {pointer!r} in {self._where}"):
                new = _azure.put_if_unchanged(blob, (json.dumps(payload) + "\n").encode(), etag)
        except (CheckpointError, InfrastructureError):
            new = self._landed(blob, nonce)  # the write may have landed before the error
            if new is None:
                raise
        if new is None:  # the precondition failed: maybe on the retry of our own write
            new = self._landed(blob, nonce)
        if new is not None:
            self._written[pointer] = new
        return new is not None

    def _landed(self, blob: Any, nonce: str) -> str | None:
        """The pointer blob's etag if it holds the write with ``nonce``, else None."""
        try:
            download = blob.download_blob()
            payload = json.loads(download.readall())
        except Exception:  # unreadable now: the caller reports the original failure
            return None
        if isinstance(payload, dict) and payload.get("nonce") == nonce:
            return download.properties.etag
        return None
