"""A failure of the machine is told from a failure of the trial, through library wrappers."""

from __future__ import annotations

import errno

import pytest

from qtrain.cycle.plan import TrialPlan
from qtrain.errors import InfrastructureError
from qtrain.infra_failures import as_infrastructure_error, infrastructure_cause


def chained(outer: Exception, inner: BaseException) -> Exception:
    try:
        try:
            raise inner
        except BaseException as exc:
            raise outer from exc
    except Exception as exc:
        return exc


@pytest.mark.parametrize(
    ("exc", "cause"),
    [
        (OSError(errno.ENOSPC, "No space left on device"), "disk full"),
        (OSError(errno.EIO, "Input/output error"), "I/O error"),
        (OSError(errno.EDQUOT, "Disk quota exceeded"), "disk quota exceeded"),
        (OSError(errno.EROFS, "Read-only file system"), "read-only file system"),
        # torch.save on a full disk
        (RuntimeError("[enforce fail at inline_container.cc:603] . PytorchStreamWriter failed "
                      "writing file data/0: file write failed"), "disk full or I/O error"),
        # safetensors' Rust error
        (Exception('Error while serializing: IoError(Os { code: 28, kind: StorageFull, '
                   'message: "No space left on device" })'), "disk full"),
        (chained(ValueError("saving the adapter failed"), OSError(errno.ENOSPC, "full")),
         "disk full"),
    ],
)  # fmt: skip
def test_the_machines_failures(exc: BaseException, cause: str) -> None:
    assert infrastructure_cause(exc) == cause


@pytest.mark.parametrize(
    "exc",
    [
        RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"),
        ValueError("loss is nan"),
        OSError(errno.ENOENT, "No such file or directory"),
        chained(RuntimeError("step failed"), KeyError("input_ids")),
    ],
)
def test_the_trials_own_failures(exc: BaseException) -> None:
    assert infrastructure_cause(exc) is None
    assert as_infrastructure_error(exc, "training") is None


def test_a_trial_crash_on_a_full_disk_is_not_a_failed_trial() -> None:
    plan = TrialPlan(
        cycle=2, trial=1, params={"training.learning_rate": 0.01}, metadata={},
        start_checkpoint=None, steps=20,
    )  # fmt: skip
    with pytest.raises(InfrastructureError) as raised:
        plan.crash_record(OSError(errno.ENOSPC, "No space left on device"))
    message = str(raised.value)
    assert message.startswith("disk full while training cycle 2 trial 1 (")
    assert "\n" not in message and "resumed" in message and raised.value.exit_code == 75
    record = plan.crash_record(RuntimeError("CUDA out of memory"))
    assert record.status == "failed" and "CUDA out of memory" in (record.error or "")


def _azure_error(kind: str, message: str, status: int | None = None) -> Exception:
    """An ``azure.core.exceptions`` error as the storage SDK raises it."""
    errors = pytest.importorskip("azure.core.exceptions")
    error = getattr(errors, kind)(message)
    if status is not None:
        error.status_code = status
    return error


@pytest.mark.parametrize(
    ("kind", "message", "status", "cause"),
    [
        ("ServiceRequestError", "connection refused", None, "storage unreachable"),
        ("ServiceResponseError", "reset", None, "storage unreachable"),
        ("HttpResponseError", "The server is busy.", 503, "storage failing (503)"),
        ("HttpResponseError", "slow down", 429, "storage failing (429)"),
        # refused requests are the configuration's, not the machine's
        ("ClientAuthenticationError", "Server failed to authenticate", 403, None),
        ("ResourceNotFoundError", "The specified container does not exist.", 404, None),
    ],
)
def test_storage_errors(kind: str, message: str, status: int | None, cause: str | None) -> None:
    """Unreachable or failing storage is the machine's; a refused request is not."""
    assert infrastructure_cause(_azure_error(kind, message, status)) == cause
