"""Checkpoint stores: atomic, verified, immutable checkpoints with named pointers.

``LocalCheckpointStore`` is the file-system implementation of :class:`CheckpointStore`,
``AzureBlobCheckpointStore`` the Blob Storage one (the ``azure`` extra, imported only when a
store is opened); ``open_store`` opens whichever a run's ``storage`` section names;
``RetentionPolicy`` prunes old trial checkpoints; ``load_state_dict`` reads weights
without ever unpickling. Nothing here imports torch until a state dict is loaded.
"""

from __future__ import annotations

from qtrain.checkpoints.azure_blob import AzureBlobCheckpointStore, PointerConflictError
from qtrain.checkpoints.factory import open_store, run_prefix
from qtrain.checkpoints.local import LocalCheckpointStore
from qtrain.checkpoints.manifest import (
    MANIFEST_NAME,
    FileEntry,
    Manifest,
    build_manifest,
    read_manifest,
    verify_manifest,
)
from qtrain.checkpoints.retention import RetentionPolicy
from qtrain.checkpoints.safe_load import load_state_dict
from qtrain.checkpoints.store import POINTERS, CheckpointInfo, CheckpointStore, check_name

__all__ = [
    "MANIFEST_NAME",
    "POINTERS",
    "AzureBlobCheckpointStore",
    "CheckpointInfo",
    "CheckpointStore",
    "FileEntry",
    "LocalCheckpointStore",
    "Manifest",
    "PointerConflictError",
    "RetentionPolicy",
    "build_manifest",
    "check_name",
    "load_state_dict",
    "open_store",
    "read_manifest",
    "run_prefix",
    "verify_manifest",
]
