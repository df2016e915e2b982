"""Resume a run on "another machine" from Azure Blob Storage (Azurite), on the tiny model.

Machine A trains two cycles and dies at cycle 2's selection: both cycle-2 checkpoints are
committed and the incumbent/best pointers already moved to one of them, but the history in
the store still ends at cycle 1.
Machine B has none of A's files: a fresh output_dir, the same config and run id, and
``storage.resume=true``. It must replay A's history from the container, load the
incumbent (downloaded and sha256-verified), move the pointers back, drop the orphaned
cycle-2 checkpoints, and
train cycle 2 exactly as an uninterrupted run does.
"""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import pytest

from qtrain import QuantumTrainingAgent, load_config
from qtrain.events import read_events

pytestmark = pytest.mark.slow


class Crash(Exception):
    """Stands in for the machine going away."""


def _crash_at_selection_of_cycle_2(event: dict) -> None:
    if event["type"] == "selection" and event["cycle"] == 2:
        raise Crash("machine A lost")


def _trial_metrics(report: dict, cycle: int) -> list[dict]:
    return [t["metrics"] for c in report["cycles"] if c["cycle"] == cycle for t in c["trials"]]


def test_a_run_resumes_on_another_machine_from_blob_storage(
    azurite, tiny_overrides, tmp_path, monkeypatch
):
    from azure.storage.blob import ContainerClient

    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)
    container = f"resume-{uuid.uuid4().hex[:12]}"
    common = [
        *tiny_overrides,
        "early_stopping.max_cycles=2",
        "early_stopping.patience=5",
        "storage.keep_last=1",
    ]
    blob = [
        "storage.kind=azure_blob",
        f"storage.container={container}",
        "storage.prefix=team/tiny",
        "runtime.run_id=r1",
    ]
    machine_a = tmp_path / "machine-a"
    agent_a = QuantumTrainingAgent(
        load_config(None, [*common, *blob, f"runtime.output_dir={machine_a}"]),
        listeners=(_crash_at_selection_of_cycle_2,),
    )
    with pytest.raises(Crash):
        agent_a.run()
    incumbent_a = agent_a.selector.best(agent_a.history.cycle(1)).checkpoint
    shutil.rmtree(machine_a)  # nothing of machine A survives but the container

    client = ContainerClient.from_connection_string(azurite.connection_string, container)
    names = {b.name for b in client.list_blobs()}
    for orphan in ("c002-t00", "c002-t01"):
        assert f"team/tiny/r1/checkpoints/{orphan}/manifest.json" in names
    assert "team/tiny/r1/checkpoints/.run/history.jsonl" in names
    pointer = client.get_blob_client("team/tiny/r1/checkpoints/pointers/incumbent.json")
    moved = json.loads(pointer.download_blob().readall())["name"]

    machine_b = tmp_path / "machine-b"
    report = QuantumTrainingAgent(
        load_config(
            None, [*common, *blob, f"runtime.output_dir={machine_b}", "storage.resume=true"]
        )
    ).run()
    assert report["status"] == "completed"
    run_dir = Path(report["run_dir"])
    events = read_events(run_dir / "events.jsonl")
    resumed = next(e for e in events if e["type"] == "resume")
    assert resumed["cycles"] == 1
    assert resumed["incumbent"] == incumbent_a
    assert sorted(resumed["dropped"]) == ["c002-t00", "c002-t01"]
    assert moved.startswith("c002") or moved == incumbent_a
    starts = [e for e in events if e["type"] == "trial_start"]
    assert {e["cycle"] for e in starts} == {2}  # cycle 1 was replayed, not retrained
    assert {e["start_checkpoint"] for e in starts} == {incumbent_a}
    assert events.index(resumed) < events.index(starts[0])

    # The resumed run is the run that never crashed (a local store, same config).
    reference = QuantumTrainingAgent(
        load_config(None, [*common, f"runtime.output_dir={tmp_path / 'reference'}"])
    ).run()
    assert _trial_metrics(report, 1) == _trial_metrics(reference, 1)
    assert _trial_metrics(report, 2) == _trial_metrics(reference, 2)
    assert report["best"]["checkpoint"] == reference["best"]["checkpoint"]

    history = client.get_blob_client("team/tiny/r1/checkpoints/.run/history.jsonl")
    cycles = [json.loads(line)["cycle"] for line in history.download_blob().readall().splitlines()]
    assert cycles == [1, 1, 2, 2]
    assert json.loads(pointer.download_blob().readall())["name"] == report["best"]["checkpoint"]
    secret = azurite.connection_string.split("AccountKey=")[1].split(";")[0]
    for path in run_dir.rglob("*"):
        if path.is_file() and path.suffix in (".json", ".jsonl", ".yaml", ".md"):
            assert secret not in path.read_text(encoding="utf-8"), path


def test_resuming_a_finished_run_is_refused(azurite, tiny_overrides, tmp_path, monkeypatch):
    from qtrain.errors import QtrainError

    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)
    blob = [
        *tiny_overrides,
        "early_stopping.max_cycles=1",
        "storage.kind=azure_blob",
        f"storage.container=done-{uuid.uuid4().hex[:12]}",
        "runtime.run_id=r1",
    ]
    QuantumTrainingAgent(load_config(None, [*blob, f"runtime.output_dir={tmp_path / 'a'}"])).run()
    fresh = load_config(None, [*blob, f"runtime.output_dir={tmp_path / 'c'}"])
    with pytest.raises(QtrainError, match=r"run r1 already has checkpoints.*storage\.resume"):
        QuantumTrainingAgent(fresh).run()
    again = load_config(None, [*blob, f"runtime.output_dir={tmp_path / 'b'}", "storage.resume=1"])
    with pytest.raises(QtrainError, match=r"run r1 already finished.*max_cycles"):
        QuantumTrainingAgent(again).run()


def _crash_after_cycle_2s_first_trial(event: dict) -> None:
    if event["type"] == "trial_end" and event["cycle"] == 2 and event["trial"] == 0:
        raise Crash("machine A lost mid-cycle")


def test_a_blob_run_started_with_storage_resume_continues_with_qtrain_run_resume(
    azurite, tiny_overrides, tmp_path, monkeypatch
):
    """``storage.resume=true`` from the first start (the documented way to keep a blob run
    resumable anywhere) is in the run's config.yaml; ``qtrain run --resume RUN`` on the same
    machine must keep the open cycle's finished trial and its checkpoint, not delete it as
    unrecorded in the store's history."""
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)
    overrides = [
        *tiny_overrides, "early_stopping.max_cycles=2", "early_stopping.patience=5",
        "storage.kind=azure_blob", f"storage.container=again-{uuid.uuid4().hex[:12]}",
        "runtime.run_id=r1", "storage.resume=true",
    ]  # fmt: skip
    agent = QuantumTrainingAgent(
        load_config(None, overrides), listeners=(_crash_after_cycle_2s_first_trial,)
    )
    with pytest.raises(Crash):
        agent.run()
    root = Path(agent.run_dir.root)
    report = QuantumTrainingAgent(load_config(root / "config.yaml"), resume=root).run()
    assert report["status"] == "completed", report["stopped_because"]
    events = read_events(root / "events.jsonl")
    resumed = max(i for i, e in enumerate(events) if e["type"] == "resume")
    assert events[resumed]["pending"] == [0] and events[resumed]["dropped"] == []
    again = [(e["cycle"], e["trial"]) for e in events[resumed:] if e["type"] == "trial_start"]
    assert again == [(2, 1)]  # cycle 2's first trial was kept, not trained again
    cycle_2 = [t["checkpoint"] for c in report["cycles"] if c["cycle"] == 2 for t in c["trials"]]
    assert cycle_2 == ["c002-t00", "c002-t01"]
