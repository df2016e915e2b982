"""``quantum.azure``: where and how the ``azure`` solver runs QAOA circuits on Azure Quantum.

The same keys are the ``azure`` solver's options:
``QuboOptimizer(space, solver="azure", solver_options={"azure": {...}})``. Secrets never live
in this model as plain text: the API key is read from ``AZURE_QUANTUM_API_KEY`` when
``credential: api_key``, and the storage connection string is a ``SecretStr`` (dumped as
``**********`` into a run's config.yaml).
"""

from __future__ import annotations

import os
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

#: Environment variable holding the workspace API key (``credential: api_key``).
API_KEY_ENV = "AZURE_QUANTUM_API_KEY"
#: Environment variable read for the storage connection string when ``storage`` is not set
#: (or is the ``**********`` mask a run's config.yaml holds).
STORAGE_ENV = "AZURE_QUANTUM_STORAGE"
_MASK = "**********"


class AzureQuantumConfig(BaseModel):
    """An Azure Quantum workspace, a target, and the limits of one QAOA job."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    resource_id: str | None = Field(
        None,
        description="/subscriptions/.../Microsoft.Quantum/Workspaces/NAME (instead of the "
        "three fields below)",
    )
    subscription_id: str | None = None
    resource_group: str | None = None
    workspace: str | None = Field(None, description="The Azure Quantum workspace name")
    location: str | None = Field(None, description="Workspace region, e.g. eastus")
    target: str = Field(
        "ionq.simulator",
        description="ionq.simulator (29 qubits), quantinuum.sim.h2-1e, rigetti.sim.qvm, "
        "or a QPU target",
    )
    shots: int = Field(
        500, ge=1, le=100_000, description="Most shots per job (num_reads asks for fewer)"
    )
    qaoa_layers: int = Field(2, ge=1, le=10, description="QAOA depth p")
    local_optimize_max_qubits: int = Field(
        14,
        ge=0,
        le=20,
        description="Up to this many qubits the angles are optimised on the local "
        "statevector; above it a fixed linear-ramp schedule is used",
    )
    timeout_s: float = Field(
        300.0, gt=0, description="Longest wait for a job's result, from its submission"
    )
    cancel_on_timeout: bool = Field(
        False,
        description="Cancel a job still queued or running at timeout_s (else it is kept, and "
        "a restarted step solving the same problem resumes it)",
    )
    submit_timeout_s: float = Field(60.0, gt=0, description="Longest wait for a submission")
    poll_interval_s: float = Field(2.0, gt=0, description="Seconds between status checks")
    max_queue_s: float | None = Field(
        600.0, gt=0, description="Fall back when the target's average queue time is longer"
    )
    endpoint: str | None = Field(
        None, description="Data-plane endpoint override (default: from Azure, by location)"
    )
    storage: SecretStr | None = Field(
        None,
        description="Storage connection string, for workspaces without linked storage "
        f"(default: ${STORAGE_ENV})",
    )
    credential: Literal["default", "api_key"] = Field(
        "default",
        description=f"default = DefaultAzureCredential; api_key = the key in ${API_KEY_ENV}",
    )
    state_dir: str | None = Field(
        None,
        description="Where submitted job ids are kept so a restart resumes them "
        "(default: <runtime.output_dir>/azure-jobs, or ~/.cache/qtrain/azure-jobs)",
    )

    @model_validator(mode="after")
    def _workspace_named_once(self) -> AzureQuantumConfig:
        parts = (self.subscription_id, self.resource_group, self.workspace)
        if self.resource_id and any(parts):
            raise ValueError(
                "give either resource_id or subscription_id + resource_group + workspace, not both"
            )
        return self

    def missing(self) -> list[str]:
        """The fields a connection still needs (empty when the workspace is fully named)."""
        needed = [] if self.location else ["location"]
        if self.resource_id:
            return needed
        names = ("subscription_id", "resource_group", "workspace")
        return [name for name in names if not getattr(self, name)] + needed

    def storage_string(self) -> str | None:
        """The storage connection string: ``storage``, else ``$AZURE_QUANTUM_STORAGE``."""
        value = self.storage.get_secret_value() if self.storage is not None else ""
        if value and value != _MASK:
            return value
        return os.environ.get(STORAGE_ENV) or None

    def api_key(self) -> str | None:
        """The API key from the environment (``credential: api_key``), or None if unset."""
        return os.environ.get(API_KEY_ENV) or None
