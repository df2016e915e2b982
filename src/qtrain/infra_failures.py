"""Tell a failure of the machine from a failure of the trial.

A trial may fail for its own reasons (divergence, an exception its parameters cause, a GPU
out of memory): that is a result, recorded as a failed trial. A full disk, an I/O error or
a read-only file system is the machine's: recording it as a failed trial would silently
change the run's result, so it stops the run instead (:class:`InfrastructureError`).
Libraries wrap the OS error in their own types (torch's ``file write failed``, safetensors'
``IoError(Os { code: 28, .. })``), so the whole chain and its messages are read.
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
