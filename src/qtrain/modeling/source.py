"""Where a model comes from: a shipped asset, a local folder, or a Hugging Face Hub id."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from qtrain.assets_path import BUILTIN_MODELS, builtin_path, is_builtin
from qtrain.checkpoints.safe_load import PICKLE_SUFFIXES
from qtrain.errors import ModelLoadError

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


@dataclass(frozen=True)
class ModelSource:
    """A resolved model location; ``local`` sources load with ``local_files_only``."""

    name: str
    location: str
    local: bool
    revision: str | None = None

    def from_pretrained_kwargs(self) -> dict[str, object]:
        """Keyword arguments shared by every ``from_pretrained`` call for this source."""
        kwargs: dict[str, object] = {"local_files_only": self.local}
        if self.revision and not self.local:
            kwargs["revision"] = self.revision
        return kwargs


def resolve_model_source(name: str, revision: str | None = None) -> ModelSource:
    """Resolve ``model.name``: ``builtin:tiny-phi4``, an existing folder, or ``org/name``."""
    if is_builtin(name):
        return ModelSource(name, str(builtin_path(name, BUILTIN_MODELS, "model")), local=True)
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelLoadError(
                f"model folder {path} has no config.json: point model.name at a "
                "folder written by save_pretrained"
            )
        if not any(path.glob("*.safetensors")) and any(
            p.suffix in PICKLE_SUFFIXES for p in path.iterdir()
        ):
            raise ModelLoadError(
                f"model folder {path} holds its weights only as pickle files (e.g. "
                "pytorch_model.bin), which can run code when loaded: qtrain loads safetensors "
                "only; re-save the model with save_pretrained(safe_serialization=True)"
            )
        return ModelSource(name, str(path.resolve()), local=True)
    if _HUB_ID.match(name) and not path.exists():
        return ModelSource(name, name, local=False, revision=revision)
    raise ModelLoadError(
        f"model.name '{name}' is neither a local model folder nor a Hub id like 'microsoft/phi-4'"
    )


def hub_error_hint(source: ModelSource, exc: Exception) -> ModelLoadError:
    """Turn a loading failure into one line that says what to do."""
    if source.local:
        return ModelLoadError(f"could not load model from {source.location}: {exc}")
    return ModelLoadError(
        f"could not load '{source.location}' from the Hugging Face Hub ({type(exc).__name__}): "
        "check network access and HF_TOKEN, or download it and set model.name to the local folder"
    )
