"""What the Azure Blob store adds to the contract: crash safety, CAS pointers, downloads.

Runs against Azurite (the ``azurite`` fixture); the contract suite itself runs on this
store through ``STORE_FACTORIES`` in conftest.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from support.checkpoint_files import new_blob_container, write_tree

from qtrain.checkpoints import MANIFEST_NAME, read_manifest
from qtrain.checkpoints.azure_blob import AzureBlobCheckpointStore, PointerConflictError
from qtrain.errors import CheckpointError, InfrastructureError

PREFIX = "team/r1/checkpoints"


@pytest.fixture
def container(azurite):
    return new_blob_container(azurite)


@pytest.fixture
def open_store(azurite, container, tmp_path):
    """``open_store(local="a")``: a store on the shared container with its own local folder."""

    def _open(local: str = "a", **kwargs) -> AzureBlobCheckpointStore:
        from azure.storage.blob import ContainerClient

        # A client of its own, as another process or machine would have.
        client = ContainerClient.from_connection_string(
            azurite.connection_string, container.container_name
        )
        return AzureBlobCheckpointStore(client, PREFIX, tmp_path / local, **kwargs)

    return _open


def commit(store, name, files, **metadata):
    return store.commit(write_tree(store.staging_dir(name), files), name, metadata)


def loaded(store, name, read_files) -> dict[str, bytes]:
    """The files of checkpoint ``name`` as ``store`` materializes them, manifest left out."""
    files = read_files(store.materialize(name))
    files.pop(MANIFEST_NAME)
    return files


def blob_names(container) -> list[str]:
    return sorted(b.name for b in container.list_blobs(name_starts_with=PREFIX + "/"))


# -- crash safety --------------------------------------------------------------------------
CRASHING_UPLOAD = textwrap.dedent(
    """
    import os, signal, sys
    from azure.storage.blob import BlobClient, ContainerClient
    from qtrain.checkpoints.azure_blob import AzureBlobCheckpointStore

    conn, container, local, method, after = sys.argv[1:]
    calls = 0
    original = getattr(BlobClient, method)

    def counting(self, *args, **kwargs):
        global calls
        result = original(self, *args, **kwargs)
        calls += 1
        if calls >= int(after):
            os.kill(os.getpid(), signal.SIGKILL)  # no finally, no clean-up: a real crash
        return result

    setattr(BlobClient, method, counting)
    client = ContainerClient.from_connection_string(conn, container)
    store = AzureBlobCheckpointStore(client, "@PREFIX@", local, block_size=4096, max_concurrency=1)
    staged = store.staging_dir("c002-t00")
    for i in range(4):
        (staged / f"shard-{i}.safetensors").write_bytes(os.urandom(5 * 4096))
    store.commit(staged, "c002-t00", {"cycle": 2})
    print("upload finished: the kill never came")
    """
).replace("@PREFIX@", PREFIX)


@pytest.mark.parametrize(
    ("method", "after"),
    [
        ("stage_block", 2),  # inside the first file
        ("stage_block", 12),  # two files visible, a third half staged
        ("commit_block_list", 4),  # every file visible, the manifest not yet written
    ],
)
def test_upload_killed_midway_never_shows_a_checkpoint(
    azurite, container, open_store, tmp_path, sample_files, method, after
):
    store = open_store()
    commit(store, "c001-t00", sample_files)
    store.set_pointer("latest", "c001-t00")
    before = blob_names(container)

    crashed = subprocess.run(
        [sys.executable, "-c", CRASHING_UPLOAD, azurite.connection_string,
         container.container_name, str(tmp_path / "crashed"), method, str(after)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert crashed.returncode == -signal.SIGKILL, crashed.stdout + crashed.stderr
    leftovers = sorted(set(blob_names(container)) - set(before))
    if method == "commit_block_list":
        assert len(leftovers) == 4  # files are there, but no manifest commits them

    fresh = open_store("b")  # another process looks at the container
    assert [info.name for info in fresh.list()] == ["c001-t00"]
    assert not fresh.exists("c002-t00")
    assert fresh.get_pointer("latest") == "c001-t00"
    with pytest.raises(CheckpointError, match="no checkpoint named 'c002-t00'"):
        fresh.materialize("c002-t00")

    # Young garbage may be an upload in progress elsewhere: spared until it is old enough.
    assert fresh.clean_staging(min_age_s=3600) == []
    removed = fresh.clean_staging(min_age_s=0)
    assert len(removed) == (1 if leftovers else 0)
    assert blob_names(container) == before

    commit(fresh, "c002-t00", sample_files, cycle=2)  # the name was never taken
    fresh.set_pointer("latest", "c002-t00")
    assert read_manifest(fresh.materialize("c002-t00")).metadata == {"cycle": 2}


def test_failed_upload_removes_its_blobs(open_store, container, sample_files, monkeypatch):
    from azure.core.exceptions import ServiceRequestError
    from azure.storage.blob import BlobClient

    store = open_store()
    original = BlobClient.commit_block_list
    calls = []

    def flaky(self, *args, **kwargs):
        calls.append(self.blob_name)
        if len(calls) == 3:
            raise ServiceRequestError("connection reset by peer")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(BlobClient, "commit_block_list", flaky)
    # the service's failure, not the checkpoint's: the run stops, resumable
    with pytest.raises(InfrastructureError, match="storage unreachable.*connection reset by peer"):
        commit(store, "t1", sample_files)
    assert blob_names(container) == []
    assert not store.exists("t1")


# -- pointers: compare-and-swap ------------------------------------------------------------
def test_two_writers_race_for_latest_exactly_one_wins_each_round(open_store, sample_files):
    writers = [open_store("a"), open_store("b")]
    commit(writers[0], "seed", sample_files)
    writers[0].set_pointer("latest", "seed")
    rounds = 8
    barrier = threading.Barrier(2)
    outcomes: dict[tuple[int, int], tuple[str | None, bool]] = {}

    def write(index: int) -> None:
        store = writers[index]
        for r in range(rounds):
            mine = f"w{index}-r{r}"
            commit(store, mine, {"weights.safetensors": os.urandom(1024)}, round=r)
            barrier.wait()
            seen = store.get_pointer("latest")
            barrier.wait()  # both have read the same value before either writes
            try:
                store.set_pointer("latest", mine, expected=seen)
                outcomes[index, r] = (seen, True)
            except PointerConflictError:
                outcomes[index, r] = (seen, False)
            barrier.wait()

    threads = [threading.Thread(target=write, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    previous = "seed"
    for r in range(rounds):
        winners = [i for i in range(2) if outcomes[i, r][1]]
        assert len(winners) == 1, f"round {r}: {outcomes}"
        assert outcomes[winners[0], r][0] == previous  # each win builds on the last one
        previous = f"w{winners[0]}-r{r}"
    final = open_store("c")
    assert final.get_pointer("latest") == previous
    assert read_manifest(final.materialize(previous)).name == previous


def test_update_pointer_loses_no_update(open_store, sample_files):
    first, second = open_store("a"), open_store("b")
    total = 16
    for i in range(total + 1):
        commit(first, f"n{i:02d}", {"x.json": b"{}"})
    first.set_pointer("latest", "n00")

    def increment(store) -> None:
        for _ in range(total // 2):
            store.update_pointer("latest", lambda cur: f"n{int(cur[1:]) + 1:02d}")

    threads = [threading.Thread(target=increment, args=(s,)) for s in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert open_store("c").get_pointer("latest") == f"n{total:02d}"


def test_a_second_agent_moving_a_pointer_stops_the_first(open_store, sample_files):
    old_machine, new_machine = open_store("a"), open_store("b")
    for name in ("t1", "t2", "t3"):
        commit(old_machine, name, sample_files)
    old_machine.set_pointer("incumbent", "t1")
    old_machine.set_pointer("incumbent", "t2")  # its own moves never conflict

    new_machine.set_pointer("incumbent", "t3")  # e.g. a resumed run on another machine
    with pytest.raises(PointerConflictError, match=r"'incumbent'.*another writer.*'t3'"):
        old_machine.set_pointer("incumbent", "t1")
    assert new_machine.get_pointer("incumbent") == "t3"


def test_explicit_cas_refuses_a_stale_expectation(open_store, sample_files):
    store = open_store()
    commit(store, "t1", sample_files)
    commit(store, "t2", sample_files)
    store.set_pointer("best", "t1", expected=None)
    with pytest.raises(PointerConflictError, match=r"names 't1', not the expected None"):
        store.set_pointer("best", "t2", expected=None)
    store.set_pointer("best", "t2", expected="t1")
    assert store.get_pointer("best") == "t2"


# -- downloads -----------------------------------------------------------------------------
def _data_blob(container, name: str, rel: str):
    manifest = container.get_blob_client(f"{PREFIX}/{name}/{MANIFEST_NAME}")
    upload = manifest.get_blob_properties().metadata["upload"]
    return container.get_blob_client(f"{PREFIX}/{name}/{upload}/{rel}")


def test_tampered_blob_fails_download_naming_the_file(open_store, container, sample_files):
    commit(open_store("a"), "t1", sample_files)
    blob = _data_blob(container, "t1", "tokenizer/tokenizer.json")
    blob.upload_blob(b'{"model": {"type": "BPX"}}', overwrite=True)  # same size

    other = open_store("b")
    with pytest.raises(CheckpointError, match=r"tokenizer/tokenizer\.json.*sha256") as caught:
        other.materialize("t1")
    assert blob.blob_name in str(caught.value)
    assert not (other.local_dir / "cache" / "t1").exists()  # nothing unverified is kept


def test_cached_copy_is_reused_only_while_blobs_are_unchanged(
    open_store, container, sample_files, read_files
):
    store = open_store()
    commit(store, "t1", sample_files)
    folder = store.materialize("t1")  # the committed folder itself: no download
    assert (
        read_files(folder)["adapter_model.safetensors"] == sample_files["adapter_model.safetensors"]
    )

    blob = _data_blob(container, "t1", "adapter_model.safetensors")
    data = bytearray(blob.download_blob().readall())
    data[-1] ^= 0x01
    blob.upload_blob(bytes(data), overwrite=True)  # new etag: the cache no longer vouches
    with pytest.raises(CheckpointError, match=r"adapter_model\.safetensors.*sha256"):
        store.materialize("t1")


def test_local_cache_rot_is_detected_and_redownloaded(open_store, sample_files, read_files):
    store = open_store()
    commit(store, "t1", sample_files)
    cached = store.materialize("t1") / "metrics.json"
    cached.write_bytes(b'{"eval_loss": 0.00}')  # a local disk fault, same size
    loaded = read_files(store.materialize("t1"))
    assert loaded["metrics.json"] == sample_files["metrics.json"]


def test_run_files_round_trip(open_store):
    store = open_store()
    assert store.read_run_file("history.jsonl") is None
    store.write_run_file("history.jsonl", b'{"cycle": 1}\n')
    assert open_store("b").read_run_file("history.jsonl") == b'{"cycle": 1}\n'
    assert store.list() == []  # run files are not checkpoints


# -- lost responses: the write lands, then the SDK's retry (or the client) sees an error ----
def lost_response(monkeypatch, cls, method, hits, then="retry"):
    """Make ``cls.method`` on blobs for which ``hits(blob_name)`` holds land, then fail once.

    ``then="retry"`` repeats the call, as the SDK's retry does after a lost response (the
    service answers the repeat with "already exists" or a failed precondition); otherwise
    ``then`` is the exception raised.
    """
    original = getattr(cls, method)
    lost = []

    def landing(self, *args, **kwargs):
        name = getattr(self, "blob_name", None) or (args[0] if args else "")
        if lost or not hits(name):
            return original(self, *args, **kwargs)
        lost.append(name)
        original(self, *args, **kwargs)
        if then == "retry":
            return original(self, *args, **kwargs)
        raise then

    monkeypatch.setattr(cls, method, landing)
    return lost


@pytest.mark.parametrize("then", ["retry", "error"])
def test_a_manifest_write_whose_response_is_lost_still_commits(
    open_store, sample_files, read_files, monkeypatch, then
):
    from azure.core.exceptions import ServiceResponseError
    from azure.storage.blob import BlobClient

    store = open_store()
    failure = "retry" if then == "retry" else ServiceResponseError("connection reset")
    lost = lost_response(
        monkeypatch, BlobClient, "upload_blob", lambda n: n.endswith(MANIFEST_NAME), failure
    )
    commit(store, "t1", sample_files)
    assert lost  # the fault did fire
    monkeypatch.undo()
    other = open_store("b")
    assert loaded(other, "t1", read_files) == sample_files


def test_losing_the_manifest_race_removes_only_the_losers_files(
    open_store, container, sample_files, read_files, monkeypatch
):
    from azure.storage.blob import BlobClient

    store, rival = open_store("a"), open_store("b")
    original = BlobClient.upload_blob
    files = dict(sample_files, **{"metrics.json": b'{"eval_loss": 9.0}'})

    def rival_first(self, *args, **kwargs):
        if self.blob_name.endswith(MANIFEST_NAME) and not rival.exists("t1"):
            monkeypatch.setattr(BlobClient, "upload_blob", original)
            commit(rival, "t1", files)  # lands between a's exists() check and its manifest
        return original(self, *args, **kwargs)

    monkeypatch.setattr(BlobClient, "upload_blob", rival_first)
    with pytest.raises(CheckpointError, match="'t1' already exists"):
        commit(store, "t1", sample_files)
    upload = container.get_blob_client(f"{PREFIX}/t1/{MANIFEST_NAME}")
    upload = upload.get_blob_properties().metadata["upload"]
    assert {n.split("/")[4] for n in blob_names(container) if n.count("/") > 4} == {upload}
    assert loaded(open_store("c"), "t1", read_files) == files


@pytest.mark.parametrize(("first", "then"), [(True, "retry"), (False, "retry"), (False, "error")])
def test_a_pointer_write_whose_response_is_lost_still_moves_it(
    open_store, sample_files, monkeypatch, first, then
):
    from azure.core.exceptions import ServiceResponseError
    from azure.storage.blob import BlobClient

    store = open_store()
    for name in ("t1", "t2", "t3"):
        commit(store, name, sample_files)
    if not first:
        store.set_pointer("latest", "t1")
    failure = "retry" if then == "retry" else ServiceResponseError("connection reset")

    def is_latest(blob_name: str) -> bool:
        return blob_name.endswith("pointers/latest.json")

    lost = lost_response(monkeypatch, BlobClient, "upload_blob", is_latest, failure)
    store.set_pointer("latest", "t2")  # If-None-Match / If-Match fails on the retry
    assert lost
    monkeypatch.undo()
    assert open_store("b").get_pointer("latest") == "t2"
    store.set_pointer("latest", "t3")  # its own last write is still known as its own
    assert store.update_pointer("latest", lambda cur: "t1") == "t1"


def test_a_pointer_moved_by_another_writer_still_conflicts(open_store, sample_files):
    store, other = open_store("a"), open_store("b")
    for name in ("t1", "t2"):
        commit(store, name, sample_files)
    store.set_pointer("latest", "t1")
    other.set_pointer("latest", "t2")
    with pytest.raises(PointerConflictError):
        store.set_pointer("latest", "t1")


def test_delete_pointer(open_store, sample_files):
    store = open_store()
    commit(store, "t1", sample_files)
    store.delete_pointer("best")  # never set: nothing to do
    store.set_pointer("best", "t1")
    store.delete_pointer("best")
    assert store.get_pointer("best") is None
    store.delete("t1")  # no pointer names it any more


# -- garbage collection and slow uploads ---------------------------------------------------
def test_clean_staging_spares_a_slow_upload_whose_first_blobs_are_old(
    open_store, sample_files, read_files, monkeypatch
):
    from azure.storage.blob import BlobClient

    store, pruner = open_store("a"), open_store("b")
    original = BlobClient.commit_block_list
    committed = []

    def slow(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        committed.append(self.blob_name)
        if len(committed) == 1:
            time.sleep(3)  # the first file is older than min_age_s by the time ...
        elif len(committed) == 2:
            assert pruner.clean_staging(min_age_s=1.5) == []  # ... prune runs mid-upload
        return result

    monkeypatch.setattr(BlobClient, "commit_block_list", slow)
    commit(store, "t1", sample_files)
    monkeypatch.undo()
    assert loaded(open_store("c"), "t1", read_files) == sample_files


def test_commit_refuses_when_an_uploaded_blob_vanished(
    open_store, container, sample_files, monkeypatch
):
    from azure.storage.blob import BlobClient

    store = open_store()
    original = BlobClient.commit_block_list
    committed = []

    def pruned(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        committed.append(self.blob_name)
        if len(committed) == 2:
            container.delete_blob(committed[0])  # an over-eager prune elsewhere
        return result

    monkeypatch.setattr(BlobClient, "commit_block_list", pruned)
    with pytest.raises(CheckpointError, match=r"'t1'.*vanished before the manifest"):
        commit(store, "t1", sample_files)
    assert not store.exists("t1")
    assert blob_names(container) == []


def test_delete_reports_a_pointer_set_while_it_ran(open_store, sample_files, monkeypatch):
    from azure.storage.blob import BlobClient

    store, racer = open_store("a"), open_store("b")
    commit(store, "t1", sample_files)
    commit(store, "t2", sample_files)
    original = BlobClient.delete_blob

    def race(self, *args, **kwargs):
        if self.blob_name.endswith(f"t1/{MANIFEST_NAME}"):
            racer.set_pointer("best", "t1")  # passed its exists() check just before
        return original(self, *args, **kwargs)

    monkeypatch.setattr(BlobClient, "delete_blob", race)
    with pytest.raises(CheckpointError, match=r"pointer 'best'.*set to checkpoint 't1' while"):
        store.delete("t1")
    assert not store.exists("t1")
