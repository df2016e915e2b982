"""``qtrain.agent.resume`` without training: what is mirrored, and what a resume refuses.

The end-to-end resume on the tiny model is tests/integration/test_blob_resume.py.
"""

from __future__ import annotations

import json

import pytest
from support.checkpoint_files import new_blob_container

from qtrain.agent.resume import StoreSync, keeps_run_files
from qtrain.checkpoints import AzureBlobCheckpointStore, LocalCheckpointStore
from qtrain.config import load_config
from qtrain.cycle import CycleEngine
from qtrain.errors import ConfigError, QtrainError
from qtrain.events import EventLog
from qtrain.history import History, TrialRecord
from qtrain.rundir import HISTORY_FILE, RUN_FILE

BLOB = ["storage.kind=azure_blob", "storage.container=unused", "runtime.run_id=r1"]


def sync_with_store(store, *overrides: str, seen: list | None = None) -> CycleEngine:
    """What the agent does with a store that keeps run files: load, restore, attach."""
    config = load_config(None, [*BLOB, *overrides])
    events = EventLog(None)
    if seen is not None:
        events.subscribe(seen.append)
    sync = StoreSync(config, store, "r1", events)
    baseline, records = sync.load({"eval_loss": 3.0})
    history = History()
    history.records.extend(records)
    engine = CycleEngine(config, baseline, history, events=events, store=store)
    sync.attach(engine)
    return engine


@pytest.fixture
def store(azurite, tmp_path):
    return AzureBlobCheckpointStore(new_blob_container(azurite), "r1/checkpoints", tmp_path / "c")


def record(cycle: int, trial: int) -> TrialRecord:
    return TrialRecord(cycle, trial, {"lr": 0.01}, None, f"c{cycle:03d}-t{trial:02d}", 8, {})


def test_history_is_mirrored_at_each_selection(store):
    agent = sync_with_store(store)
    state = json.loads(store.read_run_file(RUN_FILE))
    assert state["run_id"] == "r1" and state["baseline"] == {"eval_loss": 3.0}
    assert state["config"]["storage"]["kind"] == "azure_blob"
    assert store.read_run_file(HISTORY_FILE) is None

    agent.history.add(record(1, 0))
    agent.events.emit("trial_end", cycle=1)  # not yet: the cycle is not concluded
    assert store.read_run_file(HISTORY_FILE) is None
    agent.events.emit("selection", cycle=1)
    lines = store.read_run_file(HISTORY_FILE).decode().splitlines()
    assert [json.loads(line)["checkpoint"] for line in lines] == ["c001-t00"]


def test_a_fresh_run_on_a_used_run_id_is_refused(store):
    sync_with_store(store)
    with pytest.raises(ConfigError, match=r"run r1 already has checkpoints.*storage\.resume=true"):
        sync_with_store(store)


def test_resume_with_nothing_stored_starts_the_run(store):
    seen = []
    sync_with_store(store, "storage.resume=true", seen=seen)
    assert [e["type"] for e in seen] == ["resume"] and seen[0]["cycles"] == 0
    assert store.read_run_file(RUN_FILE) is not None


def test_resume_needs_the_run_id(store):
    with pytest.raises(ConfigError, match=r"storage\.resume needs runtime\.run_id"):
        sync_with_store(store, "storage.resume=true", "runtime.run_id=null")


def test_resume_refuses_a_different_config(store):
    sync_with_store(store)
    changed = ("storage.resume=true", "training.seed=7", "early_stopping.max_cycles=9")
    with pytest.raises(ConfigError, match=r"other training settings.*only early_stopping, "):
        sync_with_store(store, *changed)


def test_resume_refuses_a_damaged_history(store):
    sync_with_store(store)
    store.write_run_file(HISTORY_FILE, json.dumps(record(1, 0).to_dict()).encode() + b"\n{oops\n")
    with pytest.raises(QtrainError, match=r"history\.jsonl of run r1.*damaged at line 2"):
        sync_with_store(store, "storage.resume=true")


def test_resume_after_a_crash_in_cycle_1_clears_the_pointers_it_moved(
    store, sample_files, write_files
):
    sync_with_store(store)
    for name in ("c001-t00", "c001-t01"):  # trained and committed, the cycle never concluded
        store.commit(write_files(store.staging_dir(name), sample_files), name, {"cycle": 1})
    for pointer in ("incumbent", "best", "latest"):
        store.set_pointer(pointer, "c001-t01")  # moved just before the crash

    seen = []
    sync_with_store(store, "storage.resume=true", seen=seen)
    assert sorted(seen[0]["dropped"]) == ["c001-t00", "c001-t01"]
    assert store.list() == []
    assert [store.get_pointer(p) for p in ("incumbent", "best", "latest")] == [None] * 3


def test_local_stores_are_left_alone(tmp_path, store):
    # nothing to mirror: the run directory is the state
    assert not keeps_run_files(LocalCheckpointStore(tmp_path / "c"))
    assert keeps_run_files(store)
