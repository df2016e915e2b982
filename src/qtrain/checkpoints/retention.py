"""Retention: which checkpoints a store keeps once trials pile up."""

from __future__ import annotations

from collections.abc import Iterable

from qtrain.checkpoints.store import POINTERS, CheckpointStore


class RetentionPolicy:
    """Keep every pointer target (incumbent, best, latest) and the ``keep_last`` newest.

    Everything else is deleted by :meth:`apply`. ``keep_last=0`` keeps pointer targets only.
    """

    def __init__(self, keep_last: int) -> None:
        if isinstance(keep_last, bool) or not isinstance(keep_last, int) or keep_last < 0:
            raise ValueError(f"keep_last must be an integer >= 0, got {keep_last!r}")
        self.keep_last = keep_last

    def __repr__(self) -> str:
        return f"RetentionPolicy(keep_last={self.keep_last})"

    def plan(self, store: CheckpointStore, protect: Iterable[str] = ()) -> list[str]:
        """Names :meth:`apply` would delete, oldest first; deletes nothing.

        ``protect`` names checkpoints to keep besides (the head of a second lineage, say).
        """
        infos = store.list()
        keep = {name for name in map(store.get_pointer, POINTERS) if name is not None}
        keep.update(protect)
        if self.keep_last:
            keep.update(info.name for info in infos[-self.keep_last :])
        return [info.name for info in infos if info.name not in keep]

    def apply(self, store: CheckpointStore, protect: Iterable[str] = ()) -> list[str]:
        """Delete the checkpoints this policy does not keep; return their names, oldest first."""
        doomed = self.plan(store, protect)
        for name in doomed:
            store.delete(name)
        return doomed
