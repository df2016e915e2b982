"""What is wrong with a checkpoint store besides its files' hashes: pointers that name no
complete checkpoint, and checkpoints without a committed manifest (a damaged checkpoint, or
an upload that never finished)."""

from __future__ import annotations

from dataclasses import dataclass, field

from qtrain.checkpoints.local import LocalCheckpointStore
from qtrain.checkpoints.store import POINTERS, CheckpointStore


@dataclass(frozen=True)
class StoreAudit:
    """The store's problems that listing its complete checkpoints does not show."""

    dangling_pointers: dict[str, str] = field(default_factory=dict)  #: pointer -> its name
    incomplete: list[str] = field(default_factory=list)  #: folders or uploads, no manifest

    def problems(self) -> list[str]:
        """One line per problem."""
        lines = [
            f"pointer {pointer!r} names {name!r}, which is not a complete checkpoint"
            for pointer, name in self.dangling_pointers.items()
        ]
        lines += [
            f"{entry} has no committed manifest (damaged, or an upload that never finished)"
            for entry in self.incomplete
        ]
        return lines


def audit_store(store: CheckpointStore) -> StoreAudit:
    """Audit ``store`` (local or Azure Blob) without hashing any file."""
    dangling = {}
    for pointer in POINTERS:
        name = store.get_pointer(pointer)
        if name is not None and not store.exists(name):
            dangling[pointer] = name
    if isinstance(store, LocalCheckpointStore):
        incomplete = store.incomplete()
    else:  # Azure Blob: uploads no manifest names, however recent
        incomplete = [
            label
            for label in store.clean_staging(min_age_s=0.0, dry_run=True)
            if not label.startswith(".staging/")
        ]
    return StoreAudit(dangling, incomplete)
