"""Store factories for the checkpoint-store conformance suite, and sample checkpoint files.

Every implementation of ``CheckpointStore`` registers a factory in ``STORE_FACTORIES``;
``test_checkpoint_store_contract.py`` then runs the whole suite against it. A factory
returns a :class:`StoreHarness`: the store plus hooks that tamper with its backing storage
the way a disk fault or a careless user would (the Azure factory will edit blobs).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from qtrain.checkpoints import CheckpointStore, LocalCheckpointStore


@dataclass
class StoreHarness:
    """A store under test and hooks that modify a committed checkpoint behind its back."""

    store: CheckpointStore
    corrupt_file: Callable[[str, str], None]  # (checkpoint, relative path): flip bytes
    add_file: Callable[[str, str], None]  # (checkpoint, relative path): add an unlisted file
    remove_file: Callable[[str, str], None]  # (checkpoint, relative path): delete a file


def _local_harness(request: pytest.FixtureRequest, tmp_path: Path) -> StoreHarness:
    root = tmp_path / "store"

    def corrupt(name: str, rel: str) -> None:
        path = root / name / rel
        data = bytearray(path.read_bytes())
        data[0] ^= 0xFF  # same size: only the sha256 can catch it
        path.write_bytes(bytes(data))

    def add(name: str, rel: str) -> None:
        (root / name / rel).write_bytes(b"stray")

    def remove(name: str, rel: str) -> None:
        (root / name / rel).unlink()

    return StoreHarness(LocalCheckpointStore(root), corrupt, add, remove)


StoreFactory = Callable[[pytest.FixtureRequest, Path], StoreHarness]
STORE_FACTORIES: dict[str, StoreFactory] = {"local": _local_harness}


@pytest.fixture(params=sorted(STORE_FACTORIES))
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> StoreHarness:
    """One harness per registered store implementation."""
    return STORE_FACTORIES[request.param](request, tmp_path)


@pytest.fixture
def sample_files() -> dict[str, bytes]:
    """The files of a small LoRA trial checkpoint, by relative path."""
    return {
        "adapter_model.safetensors": os.urandom(64 * 1024),
        "adapter_config.json": json.dumps({"r": 8, "lora_alpha": 16}).encode(),
        "metrics.json": json.dumps({"eval_loss": 1.25}).encode(),
        "trial.json": json.dumps({"learning_rate": 3e-4}).encode(),
        "tokenizer/tokenizer.json": b'{"model": {"type": "BPE"}}',
    }


def write_tree(folder: Path, files: dict[str, bytes]) -> Path:
    """Write ``files`` (relative path -> bytes) under ``folder``; return ``folder``."""
    for rel, data in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return folder


@pytest.fixture
def write_files() -> Callable[[Path, dict[str, bytes]], Path]:
    """``write_files(folder, files)`` writes a checkpoint's files into a folder."""
    return write_tree


def read_tree(folder: Path) -> dict[str, bytes]:
    """Every regular file under ``folder`` by POSIX relative path."""
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@pytest.fixture
def read_files() -> Callable[[Path], dict[str, bytes]]:
    """``read_files(folder)`` reads every file under a folder (relative path -> bytes)."""
    return read_tree
