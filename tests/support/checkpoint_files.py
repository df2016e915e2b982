"""Helpers for checkpoint-store tests: write a checkpoint's files, make a blob container.

A module of its own (not a conftest) so test modules import it by a unique name.
"""

from __future__ import annotations

import uuid
from pathlib import Path


def write_tree(folder: Path, files: dict[str, bytes]) -> Path:
    """Write ``files`` (relative path -> bytes) under ``folder``; return ``folder``."""
    for rel, data in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return folder


def new_blob_container(azurite) -> object:
    """A fresh, empty container (a ``ContainerClient``) in the session's Azurite."""
    from azure.storage.blob import ContainerClient

    container = ContainerClient.from_connection_string(
        azurite.connection_string, f"t-{uuid.uuid4().hex[:20]}"
    )
    container.create_container()
    return container
