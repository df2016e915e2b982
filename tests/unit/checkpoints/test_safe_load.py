"""load_state_dict reads safetensors and never unpickles."""

from __future__ import annotations

import pickle

import pytest
import torch
from safetensors.torch import save_file

from qtrain.checkpoints import load_state_dict
from qtrain.errors import CheckpointError


class _Boom:
    def __reduce__(self):
        return (pytest.fail, ("a pickle was executed",))


@pytest.mark.parametrize("suffix", [".bin", ".pt", ".pth", ".pkl", ".ckpt", ".BIN"])
def test_pickle_files_are_refused_without_being_read(tmp_path, suffix):
    path = tmp_path / f"pytorch_model{suffix}"
    path.write_bytes(pickle.dumps(_Boom()))
    with pytest.raises(
        CheckpointError, match=r"refusing to load pickle file .*only loads safetensors"
    ):
        load_state_dict(path)


def test_loads_safetensors(tmp_path):
    tensors = {"lora_A.weight": torch.arange(6.0).reshape(2, 3), "step": torch.tensor([7])}
    save_file(tensors, tmp_path / "adapter_model.safetensors")
    loaded = load_state_dict(str(tmp_path / "adapter_model.safetensors"))
    assert loaded.keys() == tensors.keys()
    for name, tensor in tensors.items():
        assert torch.equal(loaded[name], tensor)


@pytest.mark.parametrize(
    ("filename", "content", "message"),
    [
        ("weights.npz", b"", "only loads .safetensors"),
        ("missing.safetensors", None, "no such file"),
        ("garbage.safetensors", b"not a safetensors file", "not a valid safetensors file"),
        ("pickle.safetensors", pickle.dumps(_Boom()), "not a valid safetensors file"),
    ],
)
def test_other_files_are_refused(tmp_path, filename, content, message):
    path = tmp_path / filename
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(CheckpointError, match=message):
        load_state_dict(path)
