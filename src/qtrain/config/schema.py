"""The one run configuration schema (pydantic v2).

The same :class:`RunConfig` feeds YAML files, ``key.sub=value`` CLI overrides,
pipeline parameters and tests. Unknown keys are rejected everywhere.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from qtrain import names
from qtrain.config.azure_storage import AzureBlobStorageFields
from qtrain.config.guided import GuidedConfig
from qtrain.config.kubeflow import KubeflowConfig
from qtrain.config.quantum import QuantumConfig
from qtrain.config.search_space import TUNABLE_PARAMETERS, ParameterSpec, check_search_space
from qtrain.errors import ConfigError

#: A run id is one folder name: ``../x`` or ``a/b`` would leave ``runtime.output_dir``.
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")

__all__ = [
    "METRIC_DIRECTIONS",
    "TUNABLE_PARAMETERS",
    "DataConfig",
    "EarlyStoppingConfig",
    "EvaluationConfig",
    "LoraConfig",
    "ModelConfig",
    "ParameterSpec",
    "QuantumConfig",
    "RunConfig",
    "RuntimeConfig",
    "StorageConfig",
    "TrainingConfig",
]

METRIC_DIRECTIONS: dict[str, Literal["min", "max"]] = {
    "eval_loss": "min",
    "perplexity": "min",
    "exact_match": "max",
}


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class LoraConfig(_Section):
    """LoRA adapter shape (run-scoped: fixed once a run has started)."""

    r: int = Field(16, ge=1, le=1024)
    alpha: int = Field(32, ge=1)
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    target_modules: list[str] = Field(
        default_factory=lambda: ["qkv_proj", "o_proj", "gate_up_proj", "down_proj"],
        min_length=1,
    )


class ModelConfig(_Section):
    """Which base model to fine-tune and how to load it."""

    name: str = Field(
        "builtin:tiny-phi4",
        description="Hub id (unsloth/phi-4, microsoft/phi-4), a local folder, "
        "or builtin:tiny-phi4 (shipped with qtrain).",
    )
    revision: str | None = None
    quantization: Literal["none", "4bit", "8bit"] = "none"
    training_mode: Literal["lora", "qlora", "full"] = "lora"
    backend: Literal["auto", "unsloth", "hf"] = "auto"
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    lora: LoraConfig = Field(default_factory=LoraConfig)
    trust_remote_code: bool = False

    @model_validator(mode="after")
    def _qlora_is_4bit(self) -> ModelConfig:
        if self.training_mode == "qlora" and self.quantization == "none":
            object.__setattr__(self, "quantization", "4bit")
        if self.training_mode == "full" and self.quantization != "none":
            raise ValueError(
                "training_mode 'full' cannot train a quantized model: "
                "set model.quantization: none or use lora/qlora"
            )
        return self


class TrainingConfig(_Section):
    """Hyperparameters of one trial (the proposer may override the cycle-scoped ones)."""

    learning_rate: float = Field(
        2e-4,
        gt=0.0,
        lt=1.0,
        description="The usual LoRA default; tune it (search_space) or set it per task",
    )
    batch_size: int = Field(16, ge=1)
    gradient_accumulation_steps: int = Field(1, ge=1)
    steps_per_cycle: int = Field(100, ge=1)
    trials_per_cycle: int = Field(1, ge=1, le=64)
    rung_steps: int | None = Field(
        None,
        ge=1,
        description="Successive halving: each of the cycle's trials first trains this many "
        "steps, ranked on eval loss; only the best continues to steps_per_cycle (null: off)",
    )
    max_length: int = Field(64, ge=8)
    weight_decay: float = Field(0.0, ge=0.0, lt=1.0)
    warmup_ratio: float = Field(0.0, ge=0.0, lt=1.0)
    lr_scheduler: Literal["constant", "linear", "cosine", "constant_with_warmup"] = Field(
        "linear", description="The transformers and TRL default"
    )
    optimizer: Literal["adamw_torch", "adamw_8bit", "sgd"] = "adamw_torch"
    max_grad_norm: float = Field(1.0, gt=0.0)
    gradient_checkpointing: bool = Field(
        False, description="Trade compute for memory (large models on small GPUs); off on CPU"
    )
    seed: int = 0
    logging_steps: int = Field(10, ge=1)


class DataConfig(_Section):
    """Where the training data comes from and how it is validated and split."""

    path: str = Field(
        "builtin:reverse",
        description="JSONL, CSV, Parquet file, a datasets.save_to_disk folder, or builtin:reverse",
    )
    format: Literal["auto", "messages", "prompt_completion"] = "auto"
    bad_rows: Literal["fail", "skip"] = "fail"
    eval_size: int | float = Field(
        128, description="Held-out rows: a count (int) or a fraction in (0, 1)"
    )
    max_rows: int | None = Field(None, ge=1)
    split_seed: int = 0
    system_prompt: str | None = None

    @field_validator("eval_size")
    @classmethod
    def _eval_size_range(cls, value: int | float) -> int | float:
        if isinstance(value, float) and not 0.0 < value < 1.0:
            raise ValueError("a fractional eval_size must be in (0, 1)")
        if isinstance(value, int) and value < 1:
            raise ValueError("eval_size must be at least 1 row")
        return value


class EvaluationConfig(_Section):
    """How trials are evaluated and the incumbent selected."""

    metric: str = Field("exact_match", description="Task metric on greedy generations")
    selection_metric: Literal["eval_loss", "perplexity", "exact_match"] = "eval_loss"
    generation_size: int | None = Field(
        None, ge=1, description="Held-out prompts to generate for (default: all eval rows)"
    )
    max_new_tokens: int = Field(32, ge=1)
    batch_size: int = Field(64, ge=1)
    num_samples_saved: int = Field(8, ge=0)


class EarlyStoppingConfig(_Section):
    """When the cycle loop ends."""

    patience: int = Field(2, ge=1)
    min_delta: float = Field(0.0, ge=0.0)
    max_cycles: int = Field(3, ge=1, le=100)
    target: float | None = Field(
        None, description="Stop once the selection metric reaches this value"
    )


class StorageConfig(_Section, AzureBlobStorageFields):
    """Where checkpoints live (a local folder or Azure Blob Storage) and how many are kept."""

    kind: Literal["local", "azure_blob"] = "local"
    keep_last: int = Field(2, ge=0, description="Trial checkpoints kept besides incumbent/best")


class RuntimeConfig(_Section):
    """Process-level settings."""

    output_dir: str = "runs"
    run_id: str | None = Field(
        None,
        description="The run directory's name under output_dir (default: a new one): letters, "
        "digits, '.', '_', '-'; no '/' and no leading '.', so it stays inside output_dir",
    )
    threads: int = Field(1, ge=1)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    export_merged: bool = True
    mode: Literal["automated", "guided"] = Field(
        "automated",
        description="guided: a person approves, edits or rejects each cycle's proposals",
    )
    tensorboard: bool = Field(
        False, description="Also write TensorBoard event files (the tensorboard extra)"
    )

    @field_validator("run_id")
    @classmethod
    def _run_id_is_a_folder_name(cls, value: str | None) -> str | None:
        if value is not None and not _RUN_ID.fullmatch(value):
            raise ValueError(
                "must be one folder name inside output_dir: letters, digits, '.', '_' and '-' "
                "(at most 128), not starting with '.'"
            )
        return value


class RunConfig(_Section):
    """Everything a qtrain run needs; one schema for YAML, CLI, pipelines and tests."""

    model: ModelConfig = Field(default_factory=ModelConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)
    search_space: dict[str, ParameterSpec] = Field(default_factory=dict)
    quantum: QuantumConfig = Field(default_factory=QuantumConfig)
    early_stopping: EarlyStoppingConfig = Field(default_factory=EarlyStoppingConfig)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    runtime: RuntimeConfig = Field(default_factory=RuntimeConfig)
    guided: GuidedConfig = Field(default_factory=GuidedConfig)
    kubeflow: KubeflowConfig = Field(default_factory=KubeflowConfig)

    @model_validator(mode="after")
    def _metrics_exist(self) -> RunConfig:
        try:
            names.check_metric_name(self.evaluation.metric)  # fail here, not after loading
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        selection = self.evaluation.selection_metric
        if selection not in ("eval_loss", "perplexity", self.evaluation.metric):
            raise ValueError(
                f"evaluation.selection_metric '{selection}' is not computed: use eval_loss, "
                f"perplexity or the task metric '{self.evaluation.metric}'"
            )
        return self

    @field_validator("search_space")
    @classmethod
    def _known_parameters(cls, space: dict[str, ParameterSpec]) -> dict[str, ParameterSpec]:
        check_search_space(space, RunConfig)
        return space

    @model_validator(mode="after")
    def _rung_is_shorter_than_a_cycle(self) -> RunConfig:
        rung, steps = self.training.rung_steps, self.training.steps_per_cycle
        if rung is not None and rung >= steps:
            raise ValueError(
                f"training.rung_steps ({rung}) must be shorter than training.steps_per_cycle "
                f"({steps}): the best rung continues for the rest of the cycle"
            )
        return self

    @model_validator(mode="after")
    def _proposer_needs_space(self) -> RunConfig:
        if self.quantum.solver_type != "fixed" and not self.search_space:
            raise ValueError(
                f"quantum.solver_type '{self.quantum.solver_type}' searches hyperparameters: "
                "add a search_space section, or use quantum.solver_type=fixed"
            )
        return self

    @property
    def selection_direction(self) -> Literal["min", "max"]:
        """Whether a lower or a higher selection metric is better."""
        return METRIC_DIRECTIONS[self.evaluation.selection_metric]

    def output_path(self) -> Path:
        """The folder under which run directories are created."""
        return Path(self.runtime.output_dir)
