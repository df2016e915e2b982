"""Open the checkpoint store a run's ``storage`` section describes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from qtrain.checkpoints.local import LocalCheckpointStore
from qtrain.checkpoints.store import CheckpointStore
from qtrain.config.azure_storage import CONNECTION_STRING_ENV
from qtrain.errors import ConfigError

if TYPE_CHECKING:
    from qtrain.config.schema import StorageConfig


def run_prefix(storage: StorageConfig, run_id: str) -> str:
    """The blob prefix of one run: ``<storage.prefix>/<run_id>``."""
    return f"{storage.prefix}/{run_id}" if storage.prefix else run_id


def open_store(storage: StorageConfig, checkpoints_dir: Path, run_id: str) -> CheckpointStore:
    """The store for one run: a local folder, or ``<prefix>/<run_id>/checkpoints`` in a container.

    ``checkpoints_dir`` is the run's local ``checkpoints/`` folder: the store itself for
    ``kind: local``, staging and the verified download cache for ``kind: azure_blob``.
    """
    if storage.kind == "local":
        return LocalCheckpointStore(checkpoints_dir)
    from qtrain.checkpoints import _azure
    from qtrain.checkpoints.azure_blob import AzureBlobCheckpointStore

    assert storage.container is not None  # the schema requires it for azure_blob
    if storage.credential == "default":
        assert storage.account_url is not None
        container = _azure.container_from_default_credential(
            storage.account_url, storage.container, storage.connect_timeout_s
        )
    else:
        secret = storage.connection_string
        connection_string = (
            secret.get_secret_value() if secret else os.environ.get(CONNECTION_STRING_ENV)
        )
        if not connection_string:
            raise ConfigError(
                f"storage.credential 'connection_string' needs ${CONNECTION_STRING_ENV} (or "
                "storage.connection_string); or set storage.credential=default with "
                "storage.account_url"
            )
        container = _azure.container_from_connection_string(
            connection_string, storage.container, storage.connect_timeout_s
        )
    return AzureBlobCheckpointStore(
        container, f"{run_prefix(storage, run_id)}/checkpoints", checkpoints_dir
    )
