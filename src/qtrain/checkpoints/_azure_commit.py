"""Publishing a checkpoint to a blob store: its files as block blobs, then the manifest.

The files go to a fresh folder ``<name>/<upload>/``; the manifest blob ``<name>/manifest.json``
is created last, only if absent, and its metadata ``upload`` names that folder. Until it
exists nothing of the upload is part of any checkpoint.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from qtrain.checkpoints import _azure
from qtrain.checkpoints._azure import translated
from qtrain.checkpoints._azure_blobs import StoreBlobs
from qtrain.checkpoints.manifest import MANIFEST_NAME, Manifest
from qtrain.errors import CheckpointError


def upload_checkpoint(
    blobs: StoreBlobs,
    staged: Path,
    manifest: Manifest,
    raw: bytes,
    block_size: int,
    max_concurrency: int,
) -> tuple[dict[str, str], str]:
    """Upload the files of ``staged`` listed in ``manifest``, then create the manifest blob.

    Returns the etag of every file blob and of the manifest blob. On failure the upload's
    blobs are removed when possible (else by ``clean_staging``) and nothing is visible.
    """
    name = manifest.name
    upload = uuid.uuid4().hex
    try:
        etags = {}
        for rel in manifest.files:
            with translated(f"uploading {rel} of {name!r} to {blobs.where}"):
                etags[rel] = _azure.upload_block_blob(
                    blobs.client(f"{name}/{upload}/{rel}"),
                    staged / rel,
                    block_size,
                    max_concurrency,
                )
        _check_uploaded(blobs, upload, manifest)
    except Exception:
        blobs.delete_under(f"{name}/{upload}/")
        raise
    return etags, _write_manifest(blobs, name, upload, raw)


def _check_uploaded(blobs: StoreBlobs, upload: str, manifest: Manifest) -> None:
    """Refuse to commit if a file blob vanished (e.g. a too-eager ``clean_staging``)."""
    name = manifest.name
    listed = blobs.listing(f"{name}/{upload}/")
    missing = sorted(manifest.files.keys() - listed.keys())
    if missing:
        raise CheckpointError(
            f"uploading checkpoint {name!r} to {blobs.where} failed: blob of {missing[0]} "
            "vanished before the manifest was written (was `qtrain checkpoints prune` run "
            "with a --garbage-min-age shorter than an upload?); commit it again"
        )


def _write_manifest(blobs: StoreBlobs, name: str, upload: str, raw: bytes) -> str:
    """Create ``<name>/manifest.json`` naming ``upload``, only if absent; return its etag.

    An error does not say the write failed: its response may have been lost (and the SDK's
    retry then finds the blob there). So the manifest is read back; this upload's files are
    deleted only when the manifest is absent or names another upload.
    """
    blob = blobs.client(f"{name}/{MANIFEST_NAME}")
    errors = _azure.errors()
    try:
        return blob.upload_blob(raw, overwrite=False, metadata={"upload": upload})["etag"]
    except errors.AzureError as exc:
        failure = exc
    try:
        props = blob.get_blob_properties()
        owner, etag = (props.metadata or {}).get("upload"), props.etag
    except errors.ResourceNotFoundError:
        owner = etag = None
    except errors.AzureError as exc:  # cannot tell: keep the files for clean_staging
        raise _azure.storage_error(
            f"committing checkpoint {name!r} in {blobs.where}", exc,
            f"{_azure.describe(failure)} (and reading it back: {_azure.describe(exc)}); "
            "check whether it exists before committing it again",
        ) from None  # fmt: skip
    if owner == upload:
        return etag  # our write landed; only its response was lost
    blobs.delete_under(f"{name}/{upload}/")
    if owner is not None or isinstance(failure, errors.ResourceExistsError):
        raise blobs.exists_error(name)
    raise _azure.storage_error(f"committing checkpoint {name!r} in {blobs.where}", failure)
