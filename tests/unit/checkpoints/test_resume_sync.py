"""``qtrain.agent.resume`` without training: what is mirrored, and what a resume refuses.

The end-to-end resume on the tiny model is tests/integration/test_blob_resume.py.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from support.checkpoint_files import new_blob_container

from qtrain.agent.resume import HISTORY_FILE, RUN_FILE, sync_with_store
from qtrain.checkpoints import AzureBlobCheckpointStore, LocalCheckpointStore
from qtrain.config import load_config
from qtrain.errors import ConfigError, QtrainError
from qtrain.events import EventLog
from qtrain.history import History, TrialRecord
from qtrain.rundir import RunDirectory

BLOB = ["storage.kind=azure_blob", "storage.container=unused", "runtime.run_id=r1"]


def fake_agent(store, tmp_path, *overrides: str) -> SimpleNamespace:
    """Just what sync_with_store touches of a QuantumTrainingAgent."""
    return SimpleNamespace(
        store=store,
        config=load_config(None, [*BLOB, *overrides]),
        run_dir=RunDirectory(tmp_path / "run" / "r1"),
        events=EventLog(None),
        history=History(),
        baseline={"eval_loss": 3.0},
        cycle=0,
        incumbent=None,
        replay=lambda records: None,  # an empty history replays to nothing
    )


@pytest.fixture
def store(azurite, tmp_path):
    return AzureBlobCheckpointStore(new_blob_container(azurite), "r1/checkpoints", tmp_path / "c")


def record(cycle: int, trial: int) -> TrialRecord:
    return TrialRecord(cycle, trial, {"lr": 0.01}, None, f"c{cycle:03d}-t{trial:02d}", 8, {})


def test_history_is_mirrored_at_each_selection(store, tmp_path):
    agent = fake_agent(store, tmp_path)
    sync_with_store(agent)
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


def test_a_fresh_run_on_a_used_run_id_is_refused(store, tmp_path):
    sync_with_store(fake_agent(store, tmp_path))
    with pytest.raises(ConfigError, match=r"run r1 already has checkpoints.*storage\.resume=true"):
        sync_with_store(fake_agent(store, tmp_path))


def test_resume_with_nothing_stored_starts_the_run(store, tmp_path):
    agent = fake_agent(store, tmp_path, "storage.resume=true")
    seen = []
    agent.events.subscribe(seen.append)
    sync_with_store(agent)
    assert [e["type"] for e in seen] == ["resume"] and seen[0]["cycles"] == 0
    assert store.read_run_file(RUN_FILE) is not None


def test_resume_needs_the_run_id(store, tmp_path):
    agent = fake_agent(store, tmp_path, "storage.resume=true", "runtime.run_id=null")
    with pytest.raises(ConfigError, match=r"storage\.resume needs runtime\.run_id"):
        sync_with_store(agent)


def test_resume_refuses_a_different_config(store, tmp_path):
    sync_with_store(fake_agent(store, tmp_path))
    changed = fake_agent(
        store, tmp_path, "storage.resume=true", "training.seed=7", "early_stopping.max_cycles=9"
    )
    with pytest.raises(ConfigError, match=r"other training settings.*only early_stopping, "):
        sync_with_store(changed)


def test_resume_refuses_a_damaged_history(store, tmp_path):
    sync_with_store(fake_agent(store, tmp_path))
    store.write_run_file(HISTORY_FILE, json.dumps(record(1, 0).to_dict()).encode() + b"\n{oops\n")
    with pytest.raises(QtrainError, match=r"history\.jsonl of run r1.*damaged at line 2"):
        sync_with_store(fake_agent(store, tmp_path, "storage.resume=true"))


def test_resume_after_a_crash_in_cycle_1_clears_the_pointers_it_moved(
    store, tmp_path, sample_files, write_files
):
    sync_with_store(fake_agent(store, tmp_path))
    for name in ("c001-t00", "c001-t01"):  # trained and committed, the cycle never concluded
        store.commit(write_files(store.staging_dir(name), sample_files), name, {"cycle": 1})
    for pointer in ("incumbent", "best", "latest"):
        store.set_pointer(pointer, "c001-t01")  # moved just before the crash

    agent = fake_agent(store, tmp_path, "storage.resume=true")
    seen = []
    agent.events.subscribe(seen.append)
    sync_with_store(agent)
    assert sorted(seen[0]["dropped"]) == ["c001-t00", "c001-t01"]
    assert store.list() == []
    assert [store.get_pointer(p) for p in ("incumbent", "best", "latest")] == [None] * 3


def test_local_stores_are_left_alone(tmp_path):
    agent = fake_agent(LocalCheckpointStore(tmp_path / "c"), tmp_path)
    agent.config = load_config(None, [])
    sync_with_store(agent)  # nothing to mirror: the run directory is the state
    assert agent.events._listeners == []
