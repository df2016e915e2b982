"""Keep a run resumable from its checkpoint store, and resume it (``storage.resume: true``).

With a remote store (``storage.kind: azure_blob``) the checkpoints outlive the machine, but
the loop's state (which trials ran, with what result) lives in the run directory. So the
agent mirrors ``history.jsonl`` and ``run.json`` (run id, base-model metrics, the config
without secrets) into the store at each cycle's selection: after the pointers moved and
before retention deletes anything, so the stored history never names a deleted checkpoint.
A process on another machine with a fresh ``runtime.output_dir``, the same config,
``runtime.run_id`` and ``storage.resume=true`` then replays that history (the cycle engine
restores incumbent, early stopping and proposer), re-verifies the incumbent checkpoint by
sha256, drops checkpoints of the cycle that was interrupted, and carries on with the next
cycle.
"""

from __future__ import annotations

import json
from typing import Any

from qtrain.config.schema import RunConfig
from qtrain.cycle import CycleEngine
from qtrain.errors import ConfigError, QtrainError
from qtrain.events import EventLog
from qtrain.history import History, TrialRecord
from qtrain.rundir import HISTORY_FILE, RUN_FILE

# Sections that may differ between the original and the resuming process: paths, secrets,
# threads, the cluster it runs on, and how long to keep going.
_MAY_DIFFER = {"runtime", "storage", "early_stopping", "kubeflow"}


def keeps_run_files(store: Any) -> bool:
    """Whether ``store`` keeps run files (remote stores); the local store's run is its folder."""
    return callable(getattr(store, "write_run_file", None))


class StoreSync:
    """Resumes a run from a remote store if asked, then mirrors its history into the store.

    :meth:`load` runs before the cycle engine exists (it says what to replay);
    :meth:`attach` after (it checks the replayed state against the store and starts the
    mirror).
    """

    def __init__(self, config: RunConfig, store: Any, run_id: str, events: EventLog) -> None:
        self.config = config
        self.store = store
        self.run_id = run_id
        self.events = events
        self._stored_nothing = False

    def load(self, baseline: dict[str, float]) -> tuple[dict[str, float], list[TrialRecord]]:
        """The baseline and the recorded trials to restore the engine from.

        A fresh run on a run id the store already holds is refused; a resume checks that
        the config is the one the run started with and reads the stored history.
        """
        store, run_id = self.store, self.run_id
        if not self.config.storage.resume:
            if store.read_run_file(RUN_FILE) is not None or store.list():
                raise ConfigError(
                    f"run {run_id} already has checkpoints in the store: set "
                    "storage.resume=true to continue it, or choose another runtime.run_id"
                )
            return baseline, []
        if self.config.runtime.run_id is None:
            raise ConfigError(
                "storage.resume needs runtime.run_id: set it to the id of the run to continue"
            )
        raw_state = store.read_run_file(RUN_FILE)
        records = _records(store.read_run_file(HISTORY_FILE) or b"", run_id)
        if raw_state is None and not records:
            self._stored_nothing = True  # nothing stored yet: this is the run's first start
            return baseline, []
        state = json.loads(raw_state) if raw_state else {}
        self._check_same_config(state.get("config"))
        if isinstance(state.get("baseline"), dict):
            baseline = state["baseline"]  # what cycle 1's objective was measured against
        return baseline, records

    def attach(self, engine: CycleEngine, reconcile: bool = True) -> None:
        """Reconcile the store with the replayed run (``storage.resume``), then keep it
        mirrored. ``reconcile=False``: ``qtrain run --resume`` already reconciled it with the
        run directory, whose history (and open cycle's trials) is the one that counts."""
        if self.config.storage.resume and reconcile:
            self._reconcile(engine)
        self.store.write_run_file(RUN_FILE, self._run_state(engine))
        self.events.subscribe(HistoryMirror(engine.history, self.store))

    def _reconcile(self, engine: CycleEngine) -> None:
        """Verify the incumbent, move the pointers back to the history, drop the rest."""
        store, run_id = self.store, self.run_id
        if self._stored_nothing:
            self.events.emit("resume", run_id=run_id, cycles=0, incumbent=None)
            return
        if engine.decision.stop:
            raise QtrainError(
                f"run {run_id} already finished ({engine.decision.reason}); nothing to resume. "
                "Raise early_stopping.max_cycles to continue it"
            )
        incumbent = engine.start_checkpoint
        if incumbent is not None:
            store.materialize(incumbent)  # downloaded and sha256-verified before any training
        records = engine.history.records
        latest = next((r.checkpoint for r in reversed(records) if r.checkpoint), None)
        # Undo pointer moves the history never recorded, and adopt the pointers (a stale agent
        # now fails); with nothing recorded yet (a crash in cycle 1) a pointer naming an
        # unrecorded checkpoint is removed, so that checkpoint can be dropped.
        unrecorded = [
            info.name
            for info in store.list()
            if isinstance(info.metadata.get("cycle"), int) and info.metadata["cycle"] > engine.cycle
        ]
        for pointer, target in (("incumbent", incumbent), ("best", incumbent), ("latest", latest)):
            if target is not None:
                store.set_pointer(pointer, target)
            elif store.get_pointer(pointer) in unrecorded:
                store.delete_pointer(pointer)
        for name in unrecorded:
            store.delete(name)
        cleaned = store.clean_staging()  # uploads the stopped run left half-way
        self.events.emit(
            "resume", run_id=run_id, cycles=engine.cycle, incumbent=incumbent, dropped=unrecorded,
            cleaned=cleaned,
        )  # fmt: skip

    def _run_state(self, engine: CycleEngine) -> bytes:
        state = {
            "run_id": self.run_id,
            "baseline": engine.baseline,
            "config": self.config.model_dump(mode="json"),  # secrets are excluded from dumps
        }
        return (json.dumps(state, indent=2, default=str) + "\n").encode()

    def _check_same_config(self, stored: dict[str, Any] | None) -> None:
        if not isinstance(stored, dict):
            return
        current = self.config.model_dump(mode="json")
        differ = sorted(
            section
            for section in current.keys() | stored.keys()
            if section not in _MAY_DIFFER and current.get(section) != stored.get(section)
        )
        if differ:
            raise ConfigError(
                f"run {self.run_id} was started with other {', '.join(differ)} settings: resume "
                f"it with the config it started with (only {', '.join(sorted(_MAY_DIFFER))} "
                "may change)"
            )


class HistoryMirror:
    """An event listener that copies the history into the store at each selection."""

    def __init__(self, history: History, store: Any) -> None:
        self.history = history
        self.store = store

    def __call__(self, event: dict[str, Any]) -> None:
        """On ``selection``: write ``history.jsonl`` into the store."""
        if event.get("type") == "selection":
            lines = (json.dumps(r.to_dict()) + "\n" for r in self.history.records)
            self.store.write_run_file(HISTORY_FILE, "".join(lines).encode())


def _records(raw: bytes, run_id: str) -> list[TrialRecord]:
    records = []
    for number, line in enumerate(raw.decode("utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(TrialRecord(**json.loads(line)))
        except (ValueError, TypeError) as exc:
            raise QtrainError(
                f"{HISTORY_FILE} of run {run_id} in the checkpoint store is damaged at line "
                f"{number} ({type(exc).__name__}): the run cannot be resumed"
            ) from None
    return records
