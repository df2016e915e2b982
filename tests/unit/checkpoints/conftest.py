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
from support.checkpoint_files import new_blob_container, write_tree

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


def _azure_harness(request: pytest.FixtureRequest, tmp_path: Path) -> StoreHarness:
    from qtrain.checkpoints.azure_blob import AzureBlobCheckpointStore

    container = new_blob_container(request.getfixturevalue("azurite"))
    # Small blocks and 2 upload threads: every file above 16 KiB takes several blocks.
    store = AzureBlobCheckpointStore(
        container, "runs/r1/checkpoints", tmp_path / "cache", block_size=16 * 1024,
        max_concurrency=2,
    )  # fmt: skip

    def blob_name(name: str, rel: str) -> str:
        manifest = container.get_blob_client(f"runs/r1/checkpoints/{name}/manifest.json")
        upload = manifest.get_blob_properties().metadata["upload"]
        return f"runs/r1/checkpoints/{name}/{upload}/{rel}"

    def corrupt(name: str, rel: str) -> None:
        blob = container.get_blob_client(blob_name(name, rel))
        data = bytearray(blob.download_blob().readall())
        data[0] ^= 0xFF  # same size: only the sha256 can catch it
        blob.upload_blob(bytes(data), overwrite=True)

    def add(name: str, rel: str) -> None:
        container.get_blob_client(blob_name(name, rel)).upload_blob(b"stray")

    def remove(name: str, rel: str) -> None:
        container.delete_blob(blob_name(name, rel))

    return StoreHarness(store, corrupt, add, remove)


StoreFactory = Callable[[pytest.FixtureRequest, Path], StoreHarness]
STORE_FACTORIES: dict[str, StoreFactory] = {"local": _local_harness, "azure_blob": _azure_harness}


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
