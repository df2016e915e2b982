"""``azure``: the QUBO as a QAOA circuit, run on an Azure Quantum target through Qiskit."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, ClassVar

import dimod
from pydantic import ValidationError

from qtrain.config.azure_quantum import AzureQuantumConfig
from qtrain.errors import ConfigError, QtrainError, one_line
from qtrain.rundir import AZURE_JOBS_DIR
from qtrain.solvers.azure.angles import qaoa_angles
from qtrain.solvers.azure.circuit import decode_counts, qaoa_circuit
from qtrain.solvers.azure.client import (
    AzureTarget,
    import_sdk,
    resolve_credential,
    target_max_shots,
)
from qtrain.solvers.azure.errors import AzureQuantumError, JobFailedError, protect_logs
from qtrain.solvers.azure.jobs import (
    JobStore,
    call_within,
    find_job_by_name,
    problem_key,
    read_counts,
    wait_until_done,
)
from qtrain.solvers.base import QtrainSampler
from qtrain.solvers.errors import SolverError, SolverTimeoutError


def default_state_dir() -> Path:
    """``$XDG_CACHE_HOME/qtrain/azure-jobs`` (``~/.cache/...`` by default)."""
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "qtrain" / AZURE_JOBS_DIR


class AzureQaoaSampler(QtrainSampler):
    """QAOA on Azure Quantum: one job per solve, its counts decoded into samples.

    Per solve: the angles are chosen locally (:mod:`qtrain.solvers.azure.angles`), the
    circuit is built (:mod:`~qtrain.solvers.azure.circuit`), the target's availability, queue
    time, quotas and qubit count are checked, the job is submitted with
    ``AzureQuantumProvider`` and polled with a deadline (:mod:`~qtrain.solvers.azure.jobs`).
    ``num_reads`` shots are asked for, capped at ``shots``. Any failure raises a one-line
    :class:`SolverError` (secrets removed) so that a fallback chain moves on.

    The keyword options are the ``quantum.azure`` keys (:class:`AzureQuantumConfig`), plus
    ``max_variables``. ``seed`` is accepted for the common interface; the samples come from
    the service, and a repeated problem is answered from the stored counts of its first job.

    ``info`` holds ``target``, ``job_id``, ``shots``, ``angles``, ``angle_method``,
    ``resumed`` (an earlier run's job was polled) and ``cached`` (no new job was needed).
    """

    name: ClassVar[str] = "azure"

    def __init__(
        self, max_variables: int | None = None, check_credentials: bool = True, **options: Any
    ) -> None:
        super().__init__(max_variables)
        try:
            self.config = AzureQuantumConfig.model_validate(options)
        except ValidationError as exc:
            error = exc.errors()[0]
            field = ".".join(str(part) for part in error["loc"]) or "options"
            message = error["msg"].removeprefix("Value error, ")
            raise ConfigError(f"quantum.azure.{field}: {message}") from None
        missing = self.config.missing()
        if missing:
            raise ConfigError(
                f"the 'azure' solver needs quantum.azure.{', quantum.azure.'.join(missing)} "
                "(or resource_id + location)"
            )
        import_sdk()  # a missing extra is reported now, not at the first solve
        protect_logs(self.config.api_key(), self.config.storage_string())
        credential = resolve_credential(self.config, check=check_credentials)
        self.target = AzureTarget(self.config, credential)
        self.store = JobStore(self.config.state_dir or default_state_dir())

    @property
    def properties(self) -> dict[str, Any]:
        """``solver``, ``max_variables``, ``target`` and ``shots`` (the cap)."""
        return {**super().properties, "target": self.config.target, "shots": self.config.shots}

    def _sample(self, bqm: dimod.BinaryQuadraticModel, **parameters: Any) -> dimod.SampleSet:
        protect_logs()  # loggers the SDK created since construction
        try:
            return self._solve(bqm, parameters.get("num_reads"))
        except SolverError as exc:  # a failed job's message comes from the service: scrub it
            exc.args = (self._clean(exc),)
            raise
        except ConfigError:
            raise
        except QtrainError as exc:
            raise AzureQuantumError(self._clean(exc)) from None
        except Exception as exc:  # auth, HTTP, storage, SDK: one line, no secrets
            raise AzureQuantumError(f"{type(exc).__name__}: {self._clean(exc)}") from None

    def _clean(self, exc: BaseException) -> str:
        """The first line of ``exc``'s message, credentials and the config's secrets removed."""
        secrets = (self.config.api_key(), self.config.storage_string())
        return one_line(str(exc), 400, secrets=secrets)

    def _solve(self, bqm: dimod.BinaryQuadraticModel, num_reads: int | None) -> dimod.SampleSet:
        c = self.config
        order = list(bqm.variables)
        shots = min(num_reads or c.shots, c.shots)
        settings = {
            "workspace": c.resource_id
            or "/".join(str(x) for x in (c.subscription_id, c.resource_group, c.workspace)),
            "endpoint": c.endpoint,
            "target": c.target,
            "shots": shots,
            "layers": c.qaoa_layers,
            "local_optimize_max_qubits": c.local_optimize_max_qubits,
        }
        key = problem_key(bqm, order, settings)
        record = self.store.load(key) or {}
        info: dict[str, Any] = {"target": c.target, "shots": shots, "resumed": False}
        if record.get("counts") is not None:
            counts = record["counts"]
            info.update(cached=True, job_id=record.get("job_id"))
        else:
            counts = self._run_job(bqm, order, key, record, shots, info)
            info["cached"] = False
        record = self.store.load(key) or record
        info.update(angles=record.get("angles"), angle_method=record.get("angle_method"))
        sampleset = decode_counts(counts, bqm, order)
        sampleset.info.update(info)
        return sampleset

    def _run_job(
        self,
        bqm: dimod.BinaryQuadraticModel,
        order: list,
        key: str,
        record: dict[str, Any],
        shots: int,
        info: dict[str, Any],
    ) -> dict[str, int]:
        c = self.config
        # Building the workspace may call Azure Resource Manager (credential "default"
        # without an endpoint): bounded like every other call.
        workspace = call_within(
            lambda: self.target.workspace, c.submit_timeout_s, "connecting to the workspace"
        )
        job_name = f"qtrain-{key[:20]}"
        job_id = record.get("job_id")
        if job_id is None:  # a crash after the PUT, or a new pod without this state dir
            job_id = find_job_by_name(workspace, job_name, c.submit_timeout_s)
        if job_id is not None:
            info["resumed"] = True
            backend = call_within(
                lambda: self.target.backend(len(order)), c.submit_timeout_s, "looking up the target"
            )
        else:
            backend = call_within(
                lambda: self._preflight(len(order), info), c.submit_timeout_s, "checking the target"
            )
            shots = min(shots, target_max_shots(backend) or shots)  # QPUs cap shots lower
            info["shots"] = shots
            gammas, betas, method = qaoa_angles(
                bqm, order, c.qaoa_layers, c.local_optimize_max_qubits
            )
            circuit = qaoa_circuit(bqm, order, gammas, betas, name=job_name)
            record = {
                "job_name": job_name,
                "target": c.target,
                "shots": shots,
                "angles": {"gamma": gammas, "beta": betas},
                "angle_method": method,
                "submitted_at": time.time(),
            }
            self.store.save(key, record)  # before the PUT: a crash after it is found by name
            job = call_within(
                lambda: backend.run(circuit, shots=shots, job_name=job_name),
                c.submit_timeout_s,
                "submitting the job",
            )
            job_id = job.id()
            self.store.save(key, {**record, "job_id": job_id})
        info["job_id"] = job_id
        deadline = time.monotonic() + c.timeout_s
        try:
            job = wait_until_done(workspace, job_id, deadline, c.poll_interval_s, c.timeout_s)
        except JobFailedError:
            self.store.delete(key)  # the next solve pays for a new job; this one is lost
            raise
        except SolverTimeoutError as exc:
            if not c.cancel_on_timeout:
                raise
            call_within(
                lambda: workspace.cancel_job(workspace.get_job(job_id)),
                c.submit_timeout_s,
                "cancelling the job",
            )
            self.store.delete(key)
            raise SolverTimeoutError(f"{exc}".split(";")[0] + "; cancelled it") from None
        counts = read_counts(backend, job, max(deadline - time.monotonic(), c.submit_timeout_s))
        record = self.store.load(key) or record
        self.store.save(key, {**record, "job_id": job_id, "counts": counts})
        return counts

    def _preflight(self, num_qubits: int, info: dict[str, Any]) -> Any:
        """Availability and queue time, quotas, then the backend (qubit count checked)."""
        status = self.target.check_available()
        info["average_queue_s"] = status["average_queue_s"]
        self.target.check_quota()
        return self.target.backend(num_qubits)
