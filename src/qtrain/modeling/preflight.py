"""What the config alone shows to be wrong about the model and the machine."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import TYPE_CHECKING

from qtrain.errors import ConfigError
from qtrain.modeling.device import check_quantization, resolve_device
from qtrain.modeling.source import resolve_model_source

if TYPE_CHECKING:
    from qtrain.config.schema import RunConfig


def preflight(config: RunConfig) -> None:
    """Raise the one-line error a run would reach only after loading: ``device: cuda`` without
    a GPU, quantization the device cannot do, a model folder that is missing, incomplete or
    pickle-only, a ``training.max_length`` beyond a local model's context, LoRA target
    modules a local model does not have. Cheap: nothing is loaded (a local model's weight
    names come from the safetensors headers), nothing is written."""
    device = resolve_device(config.runtime)
    check_quantization(config.model, device)
    source = resolve_model_source(config.model.name, config.model.revision)
    if source.local:
        folder = Path(source.location)
        _check_context(folder / "config.json", config.training.max_length)
        targets = [config.model.lora.target_modules]
        spec = config.search_space.get("model.lora.target_modules")
        if spec is not None:
            targets += [list(level) for level in spec.values]
        check_lora_targets(folder, targets)


def weight_shapes(folder: Path) -> dict[str, list[int]]:
    """Every weight's shape in the ``*.safetensors`` files of ``folder``, from their headers
    alone (an 8-byte length, then JSON): nothing is loaded."""
    shapes: dict[str, list[int]] = {}
    for path in sorted(folder.glob("*.safetensors")):
        try:
            with path.open("rb") as handle:
                (length,) = struct.unpack("<Q", handle.read(8))
                header = json.loads(handle.read(length))
        except (OSError, ValueError, struct.error):
            continue  # the loader reports an unreadable file with its own message
        shapes.update(
            (name, entry.get("shape", []))
            for name, entry in header.items()
            if name != "__metadata__" and isinstance(entry, dict)
        )
    return shapes


def check_lora_targets(folder: Path, target_lists: list[list[str]]) -> None:
    """Every LoRA target module names a module of the model in ``folder`` (as PEFT matches
    them: the module's name, or its last dotted parts); ``all-linear`` always does."""
    shapes = weight_shapes(folder)
    modules = {name.rsplit(".", 1)[0] for name in shapes if "." in name}
    if not modules:
        return  # no safetensors headers to read: the loader reports it
    for targets in target_lists:
        for target in targets:
            if target == "all-linear":
                continue
            if not any(m == target or m.endswith(f".{target}") for m in modules):
                linear = sorted(
                    {n.rsplit(".", 2)[-2] for n, shape in shapes.items()
                     if n.endswith(".weight") and len(shape) == 2 and n.count(".") >= 2}
                )  # fmt: skip
                raise ConfigError(
                    f"model.lora.target_modules: the model in {folder} has no module "
                    f"{target!r} (its 2-D weights belong to: {', '.join(linear[:10])}): "
                    "name some of those"
                )


def _check_context(model_config: Path, max_length: int) -> None:
    """``training.max_length`` within the model's context (a local folder's config.json)."""
    try:
        context = json.loads(model_config.read_text(encoding="utf-8")).get(
            "max_position_embeddings"
        )
    except (OSError, ValueError, AttributeError):
        return  # the loader reports an unreadable config.json with its own message
    if isinstance(context, int) and max_length > context:
        raise ConfigError(
            f"training.max_length {max_length} is longer than the model's context "
            f"({context} tokens, max_position_embeddings in {model_config}): lower it"
        )
