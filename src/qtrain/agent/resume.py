"""Keep a run resumable from its checkpoint store, and resume it (``storage.resume: true``).

With a remote store (``storage.kind: azure_blob``) the checkpoints outlive the machine, but
the loop's state (which trials ran, with what result) lives in the run directory. So the
agent mirrors ``history.jsonl`` and ``run.json`` (run id, base-model metrics, the config
without secrets) into the store at each cycle's selection: after the pointers moved and
before retention deletes anything, so the stored history never names a deleted checkpoint.
A process on another machine with a
fresh ``runtime.output_dir``, the same config, ``runtime.run_id`` and ``storage.resume=true``
then replays that history (:meth:`QuantumTrainingAgent.replay`: incumbent, early stopping
and proposer end as they were), re-verifies the incumbent checkpoint by sha256, drops
checkpoints of the cycle that was interrupted, and carries on with the next cycle.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from qtrain.errors import ConfigError, QtrainError
from qtrain.history import TrialRecord

if TYPE_CHECKING:
    from qtrain.agent.loop import QuantumTrainingAgent

HISTORY_FILE = "history.jsonl"
RUN_FILE = "run.json"
# Sections that may differ between the original and the resuming process: paths, secrets,
# threads, the cluster it runs on, and how long to keep going.
_MAY_DIFFER = {"runtime", "storage", "early_stopping", "kubeflow"}


def sync_with_store(agent: QuantumTrainingAgent) -> None:
    """Resume from the store if asked, then mirror the history into it after every cycle.

    Called by ``initialize_training`` once the store, proposer and baseline exist. A
    no-op for stores without run files (the local store: the run directory is the state).
    """
    store = agent.store
    if not hasattr(store, "write_run_file"):
        return
    assert agent.run_dir is not None
    if agent.config.storage.resume:
        resume(agent)
    elif store.read_run_file(RUN_FILE) is not None or store.list():
        raise ConfigError(
            f"run {agent.run_dir.run_id} already has checkpoints in the store: set "
            "storage.resume=true to continue it, or choose another runtime.run_id"
        )
    store.write_run_file(RUN_FILE, _run_state(agent))
    agent.events.subscribe(HistoryMirror(agent))


class HistoryMirror:
    """An event listener that copies the agent's history into the store at each selection."""

    def __init__(self, agent: QuantumTrainingAgent) -> None:
        self.agent = agent

    def __call__(self, event: dict[str, Any]) -> None:
        if event.get("type") == "selection":
            lines = (json.dumps(r.to_dict()) + "\n" for r in self.agent.history.records)
            self.agent.store.write_run_file(HISTORY_FILE, "".join(lines).encode())


def resume(agent: QuantumTrainingAgent) -> None:
    """Restore history, incumbent, stopping and proposer state; verify the incumbent."""
    assert agent.run_dir is not None
    store, run_id = agent.store, agent.run_dir.run_id
    if agent.config.runtime.run_id is None:
        raise ConfigError(
            "storage.resume needs runtime.run_id: set it to the id of the run to continue"
        )
    raw_state = store.read_run_file(RUN_FILE)
    records = _records(store.read_run_file(HISTORY_FILE) or b"", run_id)
    if raw_state is None and not records:
        agent.events.emit("resume", run_id=run_id, cycles=0, incumbent=None)
        return  # nothing stored yet: this is the run's first start
    state = json.loads(raw_state) if raw_state else {}
    _check_same_config(agent, state.get("config"), run_id)
    if isinstance(state.get("baseline"), dict):
        agent.baseline = state["baseline"]  # what cycle 1's objective was measured against

    # Replayed decisions must not move pointers or apply retention to the live store.
    agent.store = None
    try:
        result = agent.replay(records)
    finally:
        agent.store = store
    if result is not None and result.decision.stop:
        raise QtrainError(
            f"run {run_id} already finished ({result.decision.reason}); nothing to resume. "
            "Raise early_stopping.max_cycles to continue it"
        )
    incumbent = agent.incumbent.checkpoint if agent.incumbent else None
    if incumbent is not None:
        store.materialize(incumbent)  # downloaded and sha256-verified before any training
    latest = next((r.checkpoint for r in reversed(records) if r.checkpoint), None)
    # Undo pointer moves the history never recorded, and adopt the pointers (a stale agent
    # now fails); with nothing recorded yet (a crash in cycle 1) a pointer naming an
    # unrecorded checkpoint is removed, so that checkpoint can be dropped.
    unrecorded = _unrecorded(agent, store)
    for pointer, target in (("incumbent", incumbent), ("best", incumbent), ("latest", latest)):
        if target is not None:
            store.set_pointer(pointer, target)
        elif store.get_pointer(pointer) in unrecorded:
            store.delete_pointer(pointer)
    for name in unrecorded:
        store.delete(name)
    agent.events.emit(
        "resume", run_id=run_id, cycles=agent.cycle, incumbent=incumbent, dropped=unrecorded
    )


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


def _unrecorded(agent: QuantumTrainingAgent, store: Any) -> list[str]:
    """Checkpoints of cycles after the last recorded one (trained, never concluded)."""
    return [
        info.name
        for info in store.list()
        if isinstance(info.metadata.get("cycle"), int) and info.metadata["cycle"] > agent.cycle
    ]


def _run_state(agent: QuantumTrainingAgent) -> bytes:
    assert agent.run_dir is not None
    state = {
        "run_id": agent.run_dir.run_id,
        "baseline": agent.baseline,
        "config": agent.config.model_dump(mode="json"),  # secrets are excluded from dumps
    }
    return (json.dumps(state, indent=2, default=str) + "\n").encode()


def _check_same_config(
    agent: QuantumTrainingAgent, stored: dict[str, Any] | None, run_id: str
) -> None:
    if not isinstance(stored, dict):
        return
    current = agent.config.model_dump(mode="json")
    differ = sorted(
        section
        for section in current.keys() | stored.keys()
        if section not in _MAY_DIFFER and current.get(section) != stored.get(section)
    )
    if differ:
        raise ConfigError(
            f"run {run_id} was started with other {', '.join(differ)} settings: resume it "
            f"with the config it started with (only {', '.join(sorted(_MAY_DIFFER))} may change)"
        )
