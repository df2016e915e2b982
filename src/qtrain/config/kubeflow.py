"""Settings that apply only when the run is a Kubeflow pipeline (``qtrain compile/submit``).

The in-process engine ignores this section; the pipeline reads it at compile time to set
resources, secrets and volumes on its tasks.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class TolerationConfig(_Section):
    """A Kubernetes toleration for the train task's pod."""

    key: str
    operator: Literal["Equal", "Exists"] = "Exists"
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = "NoSchedule"


class GpuConfig(_Section):
    """The GPU the train task requests (``count: 0`` trains on CPU)."""

    count: int = Field(0, ge=0, le=16, description="GPUs per train task; 0 = CPU")
    accelerator_type: str = Field("nvidia.com/gpu", description="KFP accelerator type")
    node_selector: dict[str, str] = Field(
        default_factory=dict, description="Node labels the train pod must match"
    )
    tolerations: list[TolerationConfig] = Field(
        default_factory=lambda: [TolerationConfig(key="nvidia.com/gpu")],
        description="Tolerations added to the train pod when count > 0",
    )


class KubeflowConfig(_Section):
    """How the pipeline's tasks run on the cluster."""

    experiment: str = Field("qtrain", min_length=1, description="KFP experiment for runs")
    gpu: GpuConfig = Field(default_factory=GpuConfig)
    train_retries: int = Field(2, ge=0, le=10, description="Retries of a failed train task")
    step_retries: int = Field(
        2, ge=0, le=10, description="Retries of every other task (a pre-empted node, say)"
    )
    step_timeout_s: int = Field(
        6 * 3600, gt=0, description="Deadline of a task that does not load the model"
    )
    model_step_timeout_s: int = Field(
        48 * 3600, gt=0, description="Deadline of preprocess, train, evaluate and export"
    )
    image_registry: str | None = Field(
        None,
        description="Registry of the step images (default: $QTRAIN_IMAGE_REGISTRY where the "
        "pipeline is compiled, else ghcr.io/qtrain)",
    )
    image_tag: str | None = Field(
        None, description="Tag of the step images (default: qtrain's version)"
    )
    image_pull_secrets: list[str] = Field(
        default_factory=list, description="Secrets every step's pod pulls its image with"
    )
    train_cpu: str = Field("2", description="CPU limit of the train task")
    train_memory: str = Field("16G", description="Memory limit of the train task")
    azure_secret: str | None = Field(
        "qtrain-azure",
        description="Secret whose keys become env vars of the propose and export tasks "
        "(None: none)",
    )
    azure_secret_keys: list[str] = Field(
        default_factory=lambda: [
            "AZURE_QUANTUM_API_KEY",
            "AZURE_QUANTUM_STORAGE",
            "AZURE_CLIENT_ID",
            "AZURE_TENANT_ID",
            "AZURE_CLIENT_SECRET",
            "AZURE_STORAGE_CONNECTION_STRING",
        ],
        description="Keys of azure_secret exposed as env vars of the same names",
    )
    hf_secret: str | None = Field(
        None,
        description="Secret holding a Hugging Face token (key hf_secret_key) for a gated "
        "model: every step that loads the model gets it as HF_TOKEN (None: none)",
    )
    hf_secret_key: str = Field("HF_TOKEN", description="The token's key in hf_secret")
    volume_init: bool = Field(
        False,
        description="First, a step running as uid 0 makes the runs and model-cache volumes "
        "writable by the steps' group (for root-owned ReadWriteMany volumes)",
    )
    model_cache_pvc: str | None = Field(
        "qtrain-model-cache", description="PVC holding the Hugging Face cache (None: none)"
    )
    model_cache_path: str = Field("/models/cache", description="Where the PVC is mounted")
    data_pvc: str | None = Field(
        None, description="PVC holding the training data, mounted on preprocess (None: none)"
    )
    data_mount_path: str = Field("/mnt/data", description="Where data_pvc is mounted")
    runs_pvc: str | None = Field(
        None,
        description="PVC the export step also writes the run directory to, at "
        "runtime.output_dir/<run_id> (None: the run lives in KFP artifacts only)",
    )
    runs_mount_path: str = Field("/mnt/checkpoints", description="Where runs_pvc is mounted")
    caching: bool = Field(False, description="KFP step caching (off: every run trains)")
    control: bool = Field(
        False,
        description="The gate between cycles reads the run's control channel (qtrain stop, "
        "pause, set) at runtime.output_dir/<run_id>/control on runs_pvc, or in an azure_blob "
        "store; kfp-local runs always do",
    )
