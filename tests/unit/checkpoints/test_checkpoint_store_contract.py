"""Conformance suite every ``CheckpointStore`` implementation passes (see conftest.py)."""

from __future__ import annotations

import hashlib
import math

import pytest

from qtrain.checkpoints import (
    MANIFEST_NAME,
    POINTERS,
    CheckpointStore,
    RetentionPolicy,
    read_manifest,
)
from qtrain.errors import CheckpointError


class TestCheckpointStoreContract:
    """Behaviour a checkpoint store guarantees whatever it stores checkpoints on."""

    @pytest.fixture
    def store(self, harness):
        return harness.store

    @pytest.fixture
    def commit(self, store, sample_files, write_files):
        """``commit(name, files=None, **metadata)`` stages files and commits them."""

        def _commit(name, files=None, **metadata):
            staged = write_files(store.staging_dir(name), files or sample_files)
            return store.commit(staged, name, metadata)

        return _commit

    def test_is_a_checkpoint_store(self, store):
        assert isinstance(store, CheckpointStore)

    def test_staging_dirs_are_fresh_and_empty(self, store):
        first, second = store.staging_dir("t1"), store.staging_dir("t1")
        assert first != second
        assert first.is_dir() and not any(first.iterdir())

    def test_commit_list_materialize_roundtrip(self, store, commit, sample_files, read_files):
        info = commit("trial-1", eval_loss=0.5, cycle=1)

        assert info.name == "trial-1"
        assert info.metadata == {"eval_loss": 0.5, "cycle": 1}
        assert info.file_count == len(sample_files)
        assert info.size_bytes == sum(len(data) for data in sample_files.values())
        assert info.created_at.utcoffset().total_seconds() == 0
        assert store.exists("trial-1")
        assert store.info("trial-1") == info
        assert [i.name for i in store.list()] == ["trial-1"]

        folder = store.materialize("trial-1")
        loaded = read_files(folder)
        assert loaded.pop(MANIFEST_NAME)
        assert loaded == sample_files

    def test_manifest_records_sha256_and_size(self, store, commit, sample_files):
        commit("trial-1")
        manifest = read_manifest(store.materialize("trial-1"))

        assert manifest.name == "trial-1"
        assert set(manifest.files) == set(sample_files)
        for rel, data in sample_files.items():
            assert manifest.files[rel].sha256 == hashlib.sha256(data).hexdigest()
            assert manifest.files[rel].size == len(data)

    def test_metadata_keeps_nan_metrics(self, store, commit):
        commit("diverged", eval_loss=float("nan"))
        assert math.isnan(store.info("diverged").metadata["eval_loss"])

    def test_corrupt_file_fails_materialize_naming_it(self, harness, commit):
        commit("trial-1")
        harness.corrupt_file("trial-1", "adapter_model.safetensors")
        with pytest.raises(CheckpointError, match=r"adapter_model\.safetensors.*sha256"):
            harness.store.materialize("trial-1")

    def test_missing_file_fails_materialize_naming_it(self, harness, commit):
        commit("trial-1")
        harness.remove_file("trial-1", "tokenizer/tokenizer.json")
        with pytest.raises(CheckpointError, match=r"missing tokenizer/tokenizer\.json"):
            harness.store.materialize("trial-1")

    def test_unlisted_extra_file_fails_materialize(self, harness, commit):
        commit("trial-1")
        harness.add_file("trial-1", "optimizer.pt")
        with pytest.raises(CheckpointError, match=r"does not list.*optimizer\.pt"):
            harness.store.materialize("trial-1")

    def test_commit_never_overwrites(self, store, commit, sample_files, read_files):
        commit("trial-1", eval_loss=0.5)
        with pytest.raises(CheckpointError, match="already exists"):
            commit("trial-1", files={"other.json": b"{}"}, eval_loss=9.0)

        loaded = read_files(store.materialize("trial-1"))
        loaded.pop(MANIFEST_NAME)
        assert loaded == sample_files
        assert store.info("trial-1").metadata == {"eval_loss": 0.5}

    def test_commit_from_copies_a_folder(self, store, tmp_path, sample_files, write_files):
        src = write_files(tmp_path / "trainer-output", sample_files)
        info = store.commit_from(src, "imported", {"source": "hf"})

        assert info.file_count == len(sample_files)
        assert (src / "adapter_model.safetensors").exists()  # the source is left alone
        with pytest.raises(CheckpointError, match="already exists"):
            store.commit_from(src, "imported")
        assert store.materialize("imported")

    def test_commit_from_a_materialized_checkpoint(self, store, commit):
        commit("trial-1")
        store.commit_from(store.materialize("trial-1"), "promoted")
        assert read_manifest(store.materialize("promoted")).name == "promoted"

    def test_list_is_ordered_by_commit_time(self, store, commit):
        for name in ("b", "c", "a"):
            commit(name)
        assert [info.name for info in store.list()] == ["b", "c", "a"]

    def test_unknown_checkpoint_errors(self, store):
        assert not store.exists("nope")
        assert store.list() == []
        for call in (store.materialize, store.info, store.delete):
            with pytest.raises(CheckpointError, match="nope"):
                call("nope")

    @pytest.mark.parametrize("bad", ["", "../escape", "a/b", ".staging", "pointers", "x" * 129])
    def test_invalid_names_are_refused(self, store, bad, tmp_path):
        with pytest.raises(CheckpointError, match="name"):
            store.staging_dir(bad)
        with pytest.raises(CheckpointError, match="name"):
            store.commit_from(tmp_path, bad)

    def test_pointers_set_get_overwrite(self, store, commit):
        commit("trial-1")
        commit("trial-2")
        assert {p: store.get_pointer(p) for p in POINTERS} == dict.fromkeys(POINTERS)

        store.set_pointer("incumbent", "trial-1")
        store.set_pointer("best", "trial-1")
        assert store.get_pointer("incumbent") == "trial-1"

        store.set_pointer("incumbent", "trial-2")
        assert store.get_pointer("incumbent") == "trial-2"
        assert store.get_pointer("best") == "trial-1"

    def test_pointer_to_unknown_checkpoint_is_refused(self, store, commit):
        commit("trial-1")
        store.set_pointer("best", "trial-1")
        with pytest.raises(CheckpointError, match="no-such"):
            store.set_pointer("best", "no-such")
        assert store.get_pointer("best") == "trial-1"

    def test_unknown_pointer_name_is_refused(self, store, commit):
        commit("trial-1")
        with pytest.raises(CheckpointError, match="bets"):
            store.set_pointer("bets", "trial-1")
        with pytest.raises(CheckpointError, match="bets"):
            store.get_pointer("bets")

    def test_delete(self, store, commit):
        commit("trial-1")
        commit("trial-2")
        store.delete("trial-1")

        assert not store.exists("trial-1")
        assert [info.name for info in store.list()] == ["trial-2"]
        with pytest.raises(CheckpointError):
            store.materialize("trial-1")
        commit("trial-1")  # the name is free again
        assert store.exists("trial-1")

    def test_delete_refuses_a_pointer_target(self, store, commit):
        commit("trial-1")
        store.set_pointer("incumbent", "trial-1")
        with pytest.raises(CheckpointError, match="incumbent"):
            store.delete("trial-1")
        assert store.materialize("trial-1")

    def test_retention_keeps_pointer_targets_and_last_n(self, store, commit):
        for i in range(6):
            commit(f"c{i}")
        store.set_pointer("best", "c0")
        store.set_pointer("incumbent", "c1")
        store.set_pointer("latest", "c5")

        assert RetentionPolicy(keep_last=2).plan(store) == ["c2", "c3"]
        assert len(store.list()) == 6  # plan deletes nothing
        assert RetentionPolicy(keep_last=2).apply(store) == ["c2", "c3"]
        assert [info.name for info in store.list()] == ["c0", "c1", "c4", "c5"]

        assert RetentionPolicy(keep_last=0).apply(store) == ["c4"]
        assert [info.name for info in store.list()] == ["c0", "c1", "c5"]
        assert RetentionPolicy(keep_last=0).apply(store) == []

    def test_clean_staging_removes_abandoned_staging(self, store, write_files, sample_files):
        write_files(store.staging_dir("abandoned"), sample_files)
        removed = store.clean_staging()
        assert len(removed) == 1 and "abandoned" in removed[0]
        assert store.clean_staging() == []
        assert store.list() == []
