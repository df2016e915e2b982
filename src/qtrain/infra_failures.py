"""Tell a failure of the machine from a failure of the trial.

A trial may fail for its own reasons (divergence, an exception its parameters cause, a GPU
out of memory): that is a result, recorded as a failed trial. A full disk, an I/O error or
a read-only file system is the machine's: recording it as a failed trial would silently
change the run's result, so it stops the run instead (:class:`InfrastructureError`).
Libraries wrap the OS error in their own types (torch's ``file write failed``, safetensors'
``IoError(Os { code: 28, .. })``), so the whole chain and its messages are read.
Remote storage counts too: an Azure request that could not be sent or answered, or that
the service refused as busy or failing (5xx, 408, 429), after the SDK's own retries. The
Azure SDK is not imported here; its errors are told by their type names and status codes.
"""

from __future__ import annotations

import errno

from qtrain.errors import InfrastructureError, one_line

#: OS errors that say the machine or its storage failed.
INFRASTRUCTURE_ERRNOS = {
    errno.ENOSPC: "disk full",
    errno.EDQUOT: "disk quota exceeded",
    errno.EIO: "I/O error",
    errno.EROFS: "read-only file system",
}
#: The same, as libraries that wrap the OS error spell it in their messages.
_MARKERS = {
    "no space left on device": "disk full",
    "storagefull": "disk full",
    "code: 28": "disk full",
    "disk quota exceeded": "disk quota exceeded",
    "input/output error": "I/O error",
    "code: 5,": "I/O error",
    "read-only file system": "read-only file system",
    "file write failed": "disk full or I/O error",
}
#: Azure SDK errors raised when a request was not sent or not answered (azure.core.exceptions).
_UNREACHABLE_TYPES = {"ServiceRequestError", "ServiceRequestTimeoutError", "ServiceResponseError",
                      "ServiceResponseTimeoutError", "IncompleteReadError"}  # fmt: skip
#: HTTP statuses that say the storage service is failing or overloaded, not the request wrong.
_SERVICE_FAILING = {408, 429, 500, 502, 503, 504}


def _storage_cause(exc: BaseException) -> str | None:
    """Remote storage unreachable or failing, told without importing its SDK."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    if names & _UNREACHABLE_TYPES:
        return "storage unreachable"
    if "AzureError" in names and getattr(exc, "status_code", None) in _SERVICE_FAILING:
        return f"storage failing ({exc.status_code})"  # type: ignore[attr-defined]
    return None


def infrastructure_cause(exc: BaseException) -> str | None:
    """What failed on the machine if ``exc`` (or anything in its chain) is an
    infrastructure failure, else None."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, InfrastructureError):
            return str(current)
        if isinstance(current, OSError) and current.errno in INFRASTRUCTURE_ERRNOS:
            return INFRASTRUCTURE_ERRNOS[current.errno]
        if (storage := _storage_cause(current)) is not None:
            return storage
        text = str(current).lower()
        for marker, cause in _MARKERS.items():
            if marker in text:
                return cause
        current = current.__cause__ or current.__context__
    return None


def as_infrastructure_error(exc: BaseException, doing: str) -> InfrastructureError | None:
    """``exc`` as an :class:`InfrastructureError` when the machine failed while ``doing``;
    None when it did not."""
    try:
        raise_if_infrastructure(exc, doing)
    except InfrastructureError as failure:
        return failure
    return None


def raise_if_infrastructure(exc: BaseException, doing: str) -> None:
    """Raise :class:`InfrastructureError` from ``exc`` when the machine failed while
    ``doing`` (for example ``"training cycle 2 trial 1"``); return otherwise."""
    cause = infrastructure_cause(exc)
    if cause is None:
        return
    if isinstance(exc, InfrastructureError):
        raise exc
    raise InfrastructureError(
        f"{cause} while {doing} ({one_line(exc, 300)}): the run stopped and can be resumed "
        "once that is fixed; nothing was recorded as a failed trial"
    ) from exc
