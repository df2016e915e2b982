from pathlib import Path

import pytest

from qtrain.config.schema import ModelConfig, RuntimeConfig
from qtrain.errors import ModelLoadError, QtrainError
from qtrain.modeling import check_quantization, resolve_device, resolve_model_source


def test_builtin_model_resolves_to_shipped_folder() -> None:
    src = resolve_model_source("builtin:tiny-phi4")
    assert src.local and (Path(src.location) / "config.json").is_file()
    assert src.from_pretrained_kwargs() == {"local_files_only": True}


def test_hub_ids_keep_the_real_path() -> None:
    src = resolve_model_source("microsoft/phi-4", revision="main")
    assert not src.local and src.location == "microsoft/phi-4"
    assert src.from_pretrained_kwargs() == {"local_files_only": False, "revision": "main"}


def test_bad_names(tmp_path: Path) -> None:
    with pytest.raises(QtrainError, match="unknown builtin model"):
        resolve_model_source("builtin:nope")
    with pytest.raises(ModelLoadError, match="no config.json"):
        resolve_model_source(str(tmp_path))
    with pytest.raises(ModelLoadError, match="neither a local model folder"):
        resolve_model_source("not a model")


def test_qlora_without_gpu_is_a_clear_error() -> None:
    with pytest.raises(ModelLoadError, match="needs a CUDA GPU"):
        check_quantization(ModelConfig(training_mode="qlora"), "cpu")
    check_quantization(ModelConfig(), "cpu")


def test_cuda_requested_without_gpu() -> None:
    import torch

    if torch.cuda.is_available():
        assert resolve_device(RuntimeConfig(device="cuda")) == "cuda"
    else:
        with pytest.raises(ModelLoadError, match="no GPU is visible"):
            resolve_device(RuntimeConfig(device="cuda"))
        assert resolve_device(RuntimeConfig(device="auto")) == "cpu"
