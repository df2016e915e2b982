"""Load tensors from checkpoints without ever unpickling.

Pickle files (``.bin``, ``.pt``, ``.pth``, ``.pkl``, ...) can run arbitrary code when
loaded, and checkpoints may come from shared storage, so qtrain loads only safetensors.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from qtrain.errors import CheckpointError

if TYPE_CHECKING:
    import torch

SAFETENSORS_SUFFIX = ".safetensors"
PICKLE_SUFFIXES = frozenset({".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt"})


def load_state_dict(path: Path | str, device: str = "cpu") -> dict[str, torch.Tensor]:
    """Read a ``.safetensors`` file into a name -> tensor dict on ``device``.

    Raises :class:`CheckpointError` for pickle-format files (never loaded), any other
    suffix, a missing file or a file that is not valid safetensors.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in PICKLE_SUFFIXES:
        raise CheckpointError(
            f"refusing to load pickle file {path}: qtrain only loads safetensors "
            "(re-save it with safetensors.torch.save_file where you trust its source)"
        )
    if suffix != SAFETENSORS_SUFFIX:
        raise CheckpointError(
            f"refusing to load {path}: qtrain only loads {SAFETENSORS_SUFFIX} files"
        )
    if not path.is_file():
        raise CheckpointError(f"cannot load {path}: no such file")

    # Imported here so `import qtrain.checkpoints` does not pay for torch.
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(path, device=device)
    except SafetensorError as exc:
        raise CheckpointError(
            f"{path} is not a valid safetensors file ({exc}): the checkpoint is damaged"
        ) from None
