"""Azure SDK plumbing for the blob store: lazy imports, clients, secret-free error messages."""

from __future__ import annotations

import base64
import contextlib
import hashlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from qtrain.azure_logging import quiet_azure_credentials
from qtrain.errors import CheckpointError, InfrastructureError, MissingExtraError, one_line
from qtrain.infra_failures import infrastructure_cause
from qtrain.redaction import scrub_secrets


def sdk() -> Any:
    """The ``azure.storage.blob`` module, or :class:`MissingExtraError`."""
    try:
        import azure.storage.blob as blob
    except ImportError:
        raise MissingExtraError(
            "azure-storage-blob", "azure", "storage.kind 'azure_blob'"
        ) from None
    return blob


def client_options(connect_timeout_s: float) -> dict[str, Any]:
    """Timeouts and retries that report an unreachable endpoint in about
    ``2 * connect_timeout_s + 2`` seconds (one retry of the connection, a 1-2 s back-off),
    where the SDK's defaults (20 s connection timeout, back-off from 15 s) take minutes."""
    retry = sdk().ExponentialRetry(
        initial_backoff=1, increment_base=2, retry_total=3, random_jitter_range=1,
        retry_connect=1, retry_read=2,
    )  # fmt: skip
    return {"connection_timeout": connect_timeout_s, "read_timeout": 60, "retry_policy": retry}


def container_from_connection_string(
    connection_string: str, container: str, connect_timeout_s: float = 5.0
) -> Any:
    """A ``ContainerClient``; a malformed string fails without echoing it."""
    blob = sdk()
    try:
        return blob.ContainerClient.from_connection_string(
            connection_string, container, **client_options(connect_timeout_s)
        )
    except (ValueError, TypeError):
        raise CheckpointError(
            "the Azure Storage connection string is malformed (it is not shown here): "
            "check $AZURE_STORAGE_CONNECTION_STRING or storage.connection_string"
        ) from None


def container_from_default_credential(
    account_url: str, container: str, connect_timeout_s: float = 5.0
) -> Any:
    """A ``ContainerClient`` authenticated with ``DefaultAzureCredential``."""
    blob = sdk()
    try:
        from azure.identity import DefaultAzureCredential
    except ImportError:
        raise MissingExtraError("azure-identity", "azure", "storage.credential 'default'") from None
    quiet_azure_credentials()
    return blob.ContainerClient(
        account_url, container, credential=DefaultAzureCredential(),
        **client_options(connect_timeout_s),
    )  # fmt: skip


def describe(exc: BaseException) -> str:
    """One secret-free line for an SDK error: status, error code, first line of the message."""
    status = getattr(exc, "status_code", None)
    code = getattr(exc, "error_code", None)
    code = getattr(code, "value", code)
    parts = [str(p) for p in (status, code) if p]
    hint = ""
    if status in (401, 403):
        hint = "; check the credential (storage.credential) and its role on the container"
    elif type(exc).__name__ in ("ClientAuthenticationError", "CredentialUnavailableError"):
        hint = (
            "; for storage.credential 'default' run `az login`, set AZURE_CLIENT_ID/"
            "AZURE_TENANT_ID/AZURE_CLIENT_SECRET, or give the pod a workload identity"
        )
    elif type(exc).__name__ in ("ServiceRequestError", "ServiceResponseError"):
        hint = "; check the endpoint and the network"
    head = f"{' '.join(parts)}: " if parts else ""
    return scrub_secrets(f"{head}{one_line(exc, 200, with_type=False)}{hint}")


def storage_error(action: str, exc: BaseException, detail: str | None = None) -> Exception:
    """The one-line error for ``exc`` raised while ``action``: :class:`InfrastructureError`
    when the service was unreachable or failing (the run stops, resumable), else
    :class:`CheckpointError` (a wrong credential, container or blob). ``detail`` replaces
    the SDK error's own description."""
    detail = detail or describe(exc)
    cause = infrastructure_cause(exc)
    if cause is not None:
        return InfrastructureError(
            f"{cause} while {action} ({detail}): the run stopped and can be resumed once "
            "storage answers again; nothing was recorded as a failed trial"
        )
    return CheckpointError(f"{action} failed: {detail}")


@contextlib.contextmanager
def translated(action: str) -> Iterator[None]:
    """Turn Azure SDK errors raised inside into one-line errors (:func:`storage_error`)."""
    from azure.core.exceptions import AzureError

    try:
        yield
    except AzureError as exc:
        raise storage_error(action, exc) from None


def errors() -> Any:
    """``azure.core.exceptions`` (after checking the extra is installed)."""
    sdk()
    import azure.core.exceptions as exceptions

    return exceptions


def upload_block_blob(blob: Any, path: Path, block_size: int, max_concurrency: int) -> str:
    """Stage ``path`` as blocks (MD5-checked in transit), then commit them; returns the etag.

    Until ``commit_block_list`` nothing of the upload is visible; afterwards all of it is.
    """
    size = path.stat().st_size
    ids = [base64.b64encode(f"{i:08d}".encode()).decode() for i in range(-(-size // block_size))]

    def stage(index: int) -> None:
        with open(path, "rb") as handle:
            handle.seek(index * block_size)
            blob.stage_block(ids[index], handle.read(block_size), validate_content=True)

    if max_concurrency > 1 and len(ids) > 1:
        with ThreadPoolExecutor(min(max_concurrency, len(ids))) as pool:
            list(pool.map(stage, range(len(ids))))
    else:
        for index in range(len(ids)):
            stage(index)
    block = sdk().BlobBlock
    return blob.commit_block_list([block(block_id=i) for i in ids])["etag"]


def download_hashing(blob: Any, dest: Path, max_concurrency: int) -> tuple[str, int]:
    """Stream a blob into ``dest``; return its sha256 hex digest and size."""
    digest, size = hashlib.sha256(), 0
    with open(dest, "wb") as out:
        for chunk in blob.download_blob(max_concurrency=max_concurrency).chunks():
            digest.update(chunk)
            out.write(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def match_unchanged() -> Any:
    """``MatchConditions.IfNotModified``: the request holds only while the etag is unchanged."""
    from azure.core import MatchConditions

    return MatchConditions.IfNotModified


def put_if_unchanged(blob: Any, data: bytes, etag: str | None) -> str | None:
    """Compare-and-swap: write ``data`` if the blob's etag is still ``etag`` (None: absent).

    Returns the new etag, or None when another writer changed the blob first.
    """
    from azure.core import MatchConditions

    exceptions = errors()
    try:
        if etag is None:  # If-None-Match: *
            return blob.upload_blob(data, overwrite=False)["etag"]
        return blob.upload_blob(
            data, overwrite=True, etag=etag, match_condition=MatchConditions.IfNotModified
        )["etag"]
    except (exceptions.ResourceExistsError, exceptions.ResourceModifiedError):
        return None


def append_once(blob: Any, data: bytes, attempts: int = 20) -> bool:
    """Append ``data`` to ``blob`` by compare-and-swap on its etag (False: it kept changing).

    ``data`` already at the blob's end (a retried append whose response was lost) is not
    appended again.
    """
    for _ in range(attempts):
        try:
            download = blob.download_blob()
            old, etag = download.readall(), download.properties.etag
        except errors().ResourceNotFoundError:
            old, etag = b"", None
        if old.endswith(data) or put_if_unchanged(blob, old + data, etag) is not None:
            return True
    return False
