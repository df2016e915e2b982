"""The Azure Quantum workspace, the Qiskit provider and the target's pre-flight checks.

Every ``azure.*`` import is lazy: ``import qtrain`` never loads the SDK, and a missing extra
is one line naming ``qtrain[azure]``.
"""

from __future__ import annotations

import os
import threading
import warnings
from typing import Any

from qtrain.azure_logging import quiet_azure_credentials
from qtrain.config.azure_quantum import API_KEY_ENV, AzureQuantumConfig
from qtrain.errors import ConfigError, MissingExtraError
from qtrain.solvers.azure.errors import (
    QueueTooLongError,
    QuotaExceededError,
    TargetUnavailableError,
)
from qtrain.solvers.errors import SolverSizeError

#: The data-plane scope DefaultAzureCredential is asked for at start-up.
_SCOPE = "https://quantum.microsoft.com/.default"
_CREDENTIAL_CHECK_S = 20.0


def import_sdk() -> Any:
    """``azure.quantum.qiskit`` (the Qiskit provider), or ``MissingExtraError``.

    The QDK (the SDK's QIR generator) sends usage telemetry unless told otherwise; a
    training job should not phone home by default, so it is off unless the user set
    ``QDK_PYTHON_TELEMETRY`` themselves.
    """
    os.environ.setdefault("QDK_PYTHON_TELEMETRY", "none")
    try:
        with warnings.catch_warnings():
            # qsharp (the SDK's QIR generator) warns on import that it is being renamed.
            warnings.simplefilter("ignore", DeprecationWarning)
            from azure.quantum import qiskit as aq_qiskit
    except ImportError as exc:
        raise MissingExtraError("azure-quantum", "azure", "The 'azure' solver") from exc
    return aq_qiskit


def resolve_credential(config: AzureQuantumConfig, check: bool = True) -> Any:
    """The credential object for ``config.credential``; ConfigError if none is usable.

    ``api_key`` reads ``$AZURE_QUANTUM_API_KEY``; ``default`` builds DefaultAzureCredential
    and, with ``check``, asks it for a token once (in a worker thread, at most 20 s) so that
    missing credentials fail at start-up rather than on every cycle.
    """
    if config.credential == "api_key":
        key = config.api_key()
        if not key:
            raise ConfigError(
                f"quantum.azure.credential is 'api_key' but ${API_KEY_ENV} is not set: "
                "export the workspace's access key, or use credential: default"
            )
        from azure.core.credentials import AzureKeyCredential

        return AzureKeyCredential(key)
    try:
        from azure.identity import DefaultAzureCredential
    except ImportError as exc:
        raise MissingExtraError("azure-identity", "azure", "The 'azure' solver") from exc
    quiet_azure_credentials()
    credential = DefaultAzureCredential(exclude_interactive_browser_credential=True)
    if check:
        outcome: dict[str, BaseException] = {}

        def probe() -> None:
            try:
                credential.get_token(_SCOPE)
            except BaseException as exc:  # handed to the caller as one line
                outcome["error"] = exc

        worker = threading.Thread(target=probe, name="qtrain-azure-credential", daemon=True)
        worker.start()
        worker.join(_CREDENTIAL_CHECK_S)
        if worker.is_alive() or "error" in outcome:
            raise ConfigError(
                "quantum.azure.credential 'default' found no Azure credential (az login, "
                "managed identity, or AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET): "
                f"sign in, or set credential: api_key with ${API_KEY_ENV}"
            )
    return credential


class AzureTarget:
    """One target of one workspace: pre-flight checks, then a Qiskit backend to submit to.

    Args:
        config: The ``quantum.azure`` settings (workspace, target, limits).
        credential: From :func:`resolve_credential`.
    """

    def __init__(self, config: AzureQuantumConfig, credential: Any) -> None:
        self.config = config
        self._credential = credential
        self._workspace: Any = None
        self._provider: Any = None

    @property
    def workspace(self) -> Any:
        """The ``azure.quantum.Workspace`` (built on first use; no network until a call)."""
        if self._workspace is None:
            from azure.quantum import Workspace

            c = self.config
            kwargs: dict[str, Any] = {
                "location": c.location,
                "credential": self._credential,
                "storage": c.storage_string(),
            }
            if c.resource_id:
                kwargs["resource_id"] = c.resource_id
            else:
                kwargs.update(
                    subscription_id=c.subscription_id, resource_group=c.resource_group,
                    name=c.workspace,
                )  # fmt: skip
            endpoint = c.endpoint
            if endpoint is None and c.credential == "api_key":
                # Key auth cannot look the endpoint up in Azure Resource Manager.
                endpoint = f"https://{c.location}.quantum.azure.com/"
            if endpoint is not None:
                kwargs["_quantum_endpoint"] = endpoint
            self._workspace = Workspace(**kwargs)
        return self._workspace

    @property
    def provider(self) -> Any:
        """The ``AzureQuantumProvider`` over :attr:`workspace`."""
        if self._provider is None:
            self._provider = import_sdk().AzureQuantumProvider(self.workspace)
        return self._provider

    def check_available(self) -> dict[str, Any]:
        """Target availability and queue time (one ``providerStatus`` call); raise if unfit."""
        name, limit = self.config.target, self.config.max_queue_s
        found = self.workspace.get_targets(name=name)
        if not found or isinstance(found, list):
            raise TargetUnavailableError(f"target {name!r} is not in the workspace")
        availability = str(getattr(found.current_availability, "value", found.current_availability))
        queue_s = found.average_queue_time
        if availability.lower() != "available":
            raise TargetUnavailableError(f"target {name!r} is {availability}")
        if limit is not None and queue_s is not None and queue_s > limit:
            raise QueueTooLongError(
                f"target {name!r} average queue time {queue_s:g} s exceeds max_queue_s={limit:g}"
            )
        return {"availability": availability, "average_queue_s": queue_s}

    def check_quota(self) -> list[dict[str, Any]]:
        """Raise if a quota of the target's provider is used up; tolerate no quota API."""
        provider_id = self.config.target.split(".", 1)[0].lower()
        try:
            quotas = self.workspace.get_quotas()
        except Exception:  # quotas are informative: an old API or a 404 must not block a job
            return []
        for quota in quotas:
            # The SDK's as_dict() keys: REST names (providerId) or attribute names.
            owner = quota.get("providerId", quota.get("provider_id", ""))
            if str(owner).lower() != provider_id:
                continue
            limit, used = quota.get("limit"), quota.get("utilization")
            if limit is not None and used is not None and used >= limit:
                raise QuotaExceededError(
                    f"quota {quota.get('dimension')!r} of provider {provider_id!r} is used up "
                    f"({used:g} of {limit:g} per {quota.get('period')})"
                )
        return quotas

    def backend(self, num_qubits: int) -> Any:
        """The Qiskit backend for the target; SolverSizeError if it has too few qubits."""
        with warnings.catch_warnings():
            # The SDK calls its own deprecated configuration() while listing backends.
            warnings.simplefilter("ignore", DeprecationWarning)
            backend = self.provider.get_backend(self.config.target)
        capacity = backend.target.num_qubits
        if capacity is not None and num_qubits > capacity:
            raise SolverSizeError(
                f"target {self.config.target!r} has {capacity} qubits, the problem needs "
                f"{num_qubits}: use a larger target, or 'sa'/'tabu'"
            )
        return backend


def target_max_shots(backend: Any) -> int | None:
    """The most shots the target accepts per job (the SDK's backend configuration), if known."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # configuration() is deprecated
        try:
            value = getattr(backend.configuration(), "max_shots", None)
        except Exception:  # a backend without a configuration: no known limit
            return None
    return int(value) if isinstance(value, int) and value > 0 else None
