"""The ``search_space`` section: which hyperparameters may be tuned, and their levels."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

#: Hyperparameters a search space may tune, as dotted config paths, with their natural scope:
#: ``cycle`` may change between cycles of one run, ``run`` is fixed once chosen.
TUNABLE_PARAMETERS: dict[str, Literal["cycle", "run"]] = {
    "training.learning_rate": "cycle",
    "training.weight_decay": "cycle",
    "training.warmup_ratio": "cycle",
    "training.lr_scheduler": "cycle",
    "training.batch_size": "cycle",
    "training.gradient_accumulation_steps": "cycle",
    "training.max_grad_norm": "cycle",
    "model.lora.r": "run",
    "model.lora.alpha": "run",
    "model.lora.dropout": "run",
    "model.lora.target_modules": "run",
}


class ParameterSpec(BaseModel):
    """One searchable hyperparameter: discrete levels, a default, and a scope."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    values: list[Any] = Field(min_length=1)
    default: Any = None
    scope: Literal["cycle", "run"] = "cycle"

    @model_validator(mode="after")
    def _default_is_a_level(self) -> ParameterSpec:
        if self.default is None:
            object.__setattr__(self, "default", self.values[0])
        elif self.default not in self.values:
            raise ValueError(f"default {self.default!r} is not one of values {self.values!r}")
        return self


def check_search_space(
    space: Mapping[str, ParameterSpec], root: type[BaseModel]
) -> Mapping[str, ParameterSpec]:
    """Raise ``ValueError`` (one line) unless every entry of ``space`` may be tuned as given.

    Args:
        space: The ``search_space`` section.
        root: The run configuration model, against whose fields the levels are validated.
    """
    for name, spec in space.items():
        if name not in TUNABLE_PARAMETERS:
            close = difflib.get_close_matches(name, TUNABLE_PARAMETERS, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ValueError(
                f"'{name}' is not a tunable parameter{hint}; "
                f"choose from {', '.join(TUNABLE_PARAMETERS)}"
            )
        if TUNABLE_PARAMETERS[name] == "run" and spec.scope == "cycle":
            raise ValueError(f"'{name}' is fixed once training starts: its scope must be 'run'")
        for i, value in enumerate(spec.values):
            _check_level(root, name, i, value)
        repeated = [v for i, v in enumerate(spec.values) if v in spec.values[:i]]
        if repeated:
            raise ValueError(
                f"'{name}' lists {repeated[0]!r} more than once: each level must be distinct "
                "(a repeated level skews the proposals toward it)"
            )
    return space


def _check_level(root: type[BaseModel], name: str, index: int, value: Any) -> None:
    """Validate one search-space level against the config field it will set."""
    *sections, field = name.split(".")
    model = root
    for section in sections:
        model = model.model_fields[section].annotation  # type: ignore[assignment]
    try:
        model.model_validate({field: value})
    except ValidationError as exc:
        reason = exc.errors()[0]["msg"].removeprefix("Value error, ")
        raise ValueError(f"'{name}' level {index} ({value!r}): {reason}") from None
