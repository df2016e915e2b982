"""A failure of the machine is told from a failure of the trial, through library wrappers."""

from __future__ import annotations

import errno
from typing import Any

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


def _azure_errors() -> Any:
    return pytest.importorskip("azure.core.exceptions")


def test_storage_that_cannot_be_reached_or_is_failing_is_the_machines() -> None:
    errors = _azure_errors()
    busy = errors.HttpResponseError(message="The server is busy.")
    busy.status_code = 503
    throttled = errors.HttpResponseError(message="slow down")
    throttled.status_code = 429
    assert infrastructure_cause(errors.ServiceRequestError("connection refused")) == (
        "storage unreachable"
    )
    assert infrastructure_cause(errors.ServiceResponseError("reset")) == "storage unreachable"
    assert infrastructure_cause(busy) == "storage failing (503)"
    assert infrastructure_cause(throttled) == "storage failing (429)"


def test_a_refused_storage_request_is_not_the_machines() -> None:
    errors = _azure_errors()
    denied = errors.ClientAuthenticationError(message="Server failed to authenticate")
    denied.status_code = 403
    missing = errors.ResourceNotFoundError(message="The specified container does not exist.")
    missing.status_code = 404
    assert infrastructure_cause(denied) is None
    assert infrastructure_cause(missing) is None
