"""Shared test set-up: one torch thread, offline Hugging Face, repository paths."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# BLAS threads on tiny matrices only contend with torch's one thread on 2 cores.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread() -> None:
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository root (for shipped configs and assets)."""
    return REPO_ROOT


@pytest.fixture
def tiny_overrides(tmp_path: Path) -> list[str]:
    """Overrides that make the tiny config quick: few steps, few eval rows, a temp output dir."""
    return [
        f"runtime.output_dir={tmp_path / 'runs'}",
        "training.steps_per_cycle=8",
        "training.logging_steps=4",
        "data.eval_size=16",
        "data.max_rows=400",
        "evaluation.num_samples_saved=2",
        "early_stopping.max_cycles=2",
    ]


@pytest.fixture
def tiny_config(tiny_overrides: list[str]):
    """The shipped tiny config with :func:`tiny_overrides` applied."""
    from qtrain.config import load_config

    return load_config(None, tiny_overrides)


@pytest.fixture(scope="session")
def azurite():
    """A running Azurite blob service on 127.0.0.1 for the whole session (see support/azurite)."""
    from support.azurite import running_azurite

    with running_azurite() as server:
        yield server
