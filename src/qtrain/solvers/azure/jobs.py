"""Submitting, resuming and polling Azure Quantum jobs, with the job ids kept on disk.

A job costs money and may queue for minutes, so its id is written to a small JSON file
(``<state_dir>/<problem key>.json``, the key a hash of the BQM and the job settings) as soon as
the SDK returns it, and before that the deterministic job *name* is written: a step that is
restarted while its job runs polls the same job (found by id, or by name if the process died
between the PUT and the write) instead of paying for a second one. Finished counts stay in
the file, so the same problem asked again is answered without a new job.

The SDK's own ``result()`` waits forever without a timeout and a failed job's
``get_counts()`` raises a confusing TypeError, so the status is polled here, with a deadline,
and checked before any result is read. Every blocking SDK call runs in a worker thread that
is given up on at the deadline (HTTP calls have no per-call timeout in the Workspace API).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Hashable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import dimod

from qtrain.fsio import write_atomic
from qtrain.solvers.azure.errors import JobFailedError
from qtrain.solvers.errors import SolverTimeoutError

T = TypeVar("T")
_DONE = ("Succeeded", "Completed")


def problem_key(
    bqm: dimod.BinaryQuadraticModel, order: Sequence[Hashable], settings: dict[str, Any]
) -> str:
    """A stable hash of ``bqm`` (in ``order``) and the job ``settings`` (target, shots, ...)."""
    index = {v: k for k, v in enumerate(order)}
    payload = {
        "vartype": bqm.vartype.name,
        "variables": [repr(v) for v in order],
        "linear": [float(bqm.get_linear(v)) for v in order],
        "quadratic": sorted(
            (min(index[u], index[v]), max(index[u], index[v]), float(b))
            for (u, v), b in bqm.quadratic.items()
        ),
        "offset": float(bqm.offset),
        "settings": settings,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode("utf-8")).hexdigest()


class JobStore:
    """One JSON record per problem key under ``state_dir`` (written atomically)."""

    def __init__(self, state_dir: str | Path) -> None:
        self.state_dir = Path(state_dir).expanduser()

    def path(self, key: str) -> Path:
        """The record file of ``key``."""
        return self.state_dir / f"{key[:32]}.json"

    def load(self, key: str) -> dict[str, Any] | None:
        """The record of ``key``, or None (also for an unreadable file)."""
        try:
            record = json.loads(self.path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return record if isinstance(record, dict) and record.get("key") == key else None

    def save(self, key: str, record: dict[str, Any]) -> None:
        """Write ``record`` for ``key``."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        data = json.dumps({**record, "key": key}, indent=1, sort_keys=True).encode("utf-8")
        write_atomic(self.path(key), data)

    def delete(self, key: str) -> None:
        """Forget ``key`` (a failed job: the next solve submits a new one)."""
        self.path(key).unlink(missing_ok=True)


def call_within(fn: Callable[[], T], timeout_s: float, what: str) -> T:
    """``fn()`` in a daemon thread; SolverTimeoutError naming ``what`` after ``timeout_s``."""
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["value"] = fn()
        except BaseException as exc:  # re-raised in the caller's thread
            outcome["error"] = exc

    worker = threading.Thread(target=work, name="qtrain-azure", daemon=True)
    worker.start()
    worker.join(max(timeout_s, 0.0))
    if worker.is_alive():
        raise SolverTimeoutError(f"{what} took longer than {timeout_s:.3g} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def find_job_by_name(workspace: Any, name: str, timeout_s: float) -> str | None:
    """The id of the newest job called ``name`` that did not fail or get cancelled, or None.

    The service lists jobs in no promised order, so they are sorted by creation time.
    """
    jobs = call_within(
        lambda: [j for j in workspace.list_jobs(name_match=name) if j.details.name == name],
        timeout_s,
        "listing jobs",
    )
    usable = [j for j in jobs if _status(j) not in ("Failed", "Cancelled")]
    usable.sort(key=lambda j: str(getattr(j.details, "creation_time", "") or ""))
    return usable[-1].id if usable else None


def _status(job: Any) -> str:
    return str(getattr(job.details.status, "value", job.details.status))


def wait_until_done(
    workspace: Any, job_id: str, deadline: float, poll_interval_s: float, timeout_s: float
) -> Any:
    """Poll job ``job_id`` until it succeeds (returns the SDK Job) or ``deadline`` passes.

    Raises:
        JobFailedError: the job ended Failed or Cancelled.
        SolverTimeoutError: still queued or running at the deadline (the job is kept).
    """
    while True:
        remaining = deadline - time.monotonic()
        job = call_within(lambda: workspace.get_job(job_id), max(remaining, 1.0), "polling")
        status = str(getattr(job.details.status, "value", job.details.status))
        if status in _DONE:
            return job
        if status == "Failed":
            error = job.details.error_data
            reason = f"{error.code}: {error.message}" if error is not None else "no error data"
            raise JobFailedError(f"job {job_id} failed ({reason})")
        if status == "Cancelled":
            raise JobFailedError(f"job {job_id} was cancelled")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise SolverTimeoutError(
                f"job {job_id} still {status} after timeout_s={timeout_s:g} s; "
                "the next solve of the same problem resumes it"
            )
        time.sleep(min(poll_interval_s, remaining))


def read_counts(backend: Any, job: Any, timeout_s: float) -> dict[str, int]:
    """The counts of a succeeded job, as Qiskit reports them (qubit 0 rightmost)."""
    from azure.quantum.qiskit.job import AzureQuantumJob

    def fetch() -> dict[str, int]:
        result = AzureQuantumJob(backend, azure_job=job).result(timeout=timeout_s)
        return {str(k): int(v) for k, v in result.get_counts().items()}

    return call_within(fetch, timeout_s, "reading the results")
