"""LocalCheckpointStore specifics: on-disk layout and crash safety at every step."""

from __future__ import annotations

import errno
import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time

import pytest

import qtrain.checkpoints.local as local
import qtrain.fsio as fs
from qtrain.checkpoints import MANIFEST_NAME, LocalCheckpointStore
from qtrain.errors import CheckpointError


@pytest.fixture
def store(tmp_path):
    return LocalCheckpointStore(tmp_path / "store")


@pytest.fixture
def stage(store, sample_files, write_files):
    """``stage(name)`` returns a staging folder filled with the sample files."""
    return lambda name: write_files(store.staging_dir(name), sample_files)


def assert_not_a_checkpoint(store, name):
    assert not store.exists(name)
    assert name not in [info.name for info in store.list()]
    with pytest.raises(CheckpointError, match=name):
        store.materialize(name)


def test_on_disk_layout(store, stage):
    staged = stage("trial-1")
    assert staged.parent == store.root / ".staging"
    assert staged.name.startswith("trial-1-")
    assert stat.S_IMODE(staged.stat().st_mode) == 0o700

    store.commit(staged, "trial-1", {"eval_loss": 0.5})
    store.set_pointer("best", "trial-1")

    assert not staged.exists()
    assert (store.root / "trial-1" / MANIFEST_NAME).is_file()
    assert store.materialize("trial-1") == store.root / "trial-1"
    pointer = json.loads((store.root / "pointers" / "best.json").read_text())
    assert pointer["pointer"] == "best" and pointer["name"] == "trial-1"
    assert "updated_at" in pointer
    assert sorted(p.name for p in (store.root / "pointers").iterdir()) == ["best.json"]


def test_commit_refuses_a_folder_outside_staging(store, tmp_path, sample_files, write_files):
    outside = write_files(tmp_path / "elsewhere", sample_files)
    with pytest.raises(CheckpointError, match="commit_from"):
        store.commit(outside, "trial-1")
    assert (outside / "adapter_model.safetensors").exists()


def test_crash_before_rename_leaves_no_checkpoint(store, stage, monkeypatch):
    staged = stage("trial-1")

    def crash(*args):
        raise OSError(errno.EIO, "simulated crash")

    monkeypatch.setattr(local.os, "rename", crash)
    with pytest.raises(OSError, match="simulated crash"):
        store.commit(staged, "trial-1")
    monkeypatch.undo()

    assert (staged / MANIFEST_NAME).exists()  # fully written, but still only staged
    assert_not_a_checkpoint(store, "trial-1")
    assert store.clean_staging() == [f".staging/{staged.name}"]
    assert not staged.exists()
    store.commit(stage("trial-1"), "trial-1")
    assert store.materialize("trial-1")


_CHILD = textwrap.dedent(
    """
    import os, pathlib, sys, time
    import qtrain.checkpoints.local as local
    import qtrain.checkpoints.manifest as manifest
    from qtrain.checkpoints import LocalCheckpointStore

    root, point, ready = sys.argv[1:4]

    def hang(*args):
        pathlib.Path(ready).touch()
        time.sleep(60)

    def torn_manifest(path, data):
        path.write_bytes(data[: len(data) // 2])
        hang()

    if point == "hashing":
        manifest.sha256_file = hang
    elif point == "torn-manifest":
        local.write_atomic = torn_manifest
    elif point == "before-rename":
        local.os.rename = hang
    store = LocalCheckpointStore(root)
    staged = store.staging_dir("trial-1")
    (staged / "adapter_model.safetensors").write_bytes(os.urandom(1 << 16))
    store.commit(staged, "trial-1", {"eval_loss": 0.5})
    """
)


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL is POSIX-only")
@pytest.mark.parametrize("point", ["hashing", "torn-manifest", "before-rename"])
def test_sigkill_mid_commit_leaves_no_checkpoint(store, tmp_path, point):
    ready = tmp_path / "ready"
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(store.root), point, str(ready)])
    try:
        deadline = time.monotonic() + 30
        while not ready.exists():
            assert child.poll() is None, f"child exited early with {child.returncode}"
            assert time.monotonic() < deadline, "child never reached the crash point"
            time.sleep(0.01)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait()

    assert_not_a_checkpoint(store, "trial-1")
    assert not (store.root / "trial-1").exists()
    removed = store.clean_staging()
    assert len(removed) == 1 and removed[0].startswith(".staging/trial-1-")
    assert not any((store.root / ".staging").iterdir())


def test_folder_without_manifest_is_not_a_checkpoint(store, sample_files, write_files):
    write_files(store.root / "half", sample_files)
    assert_not_a_checkpoint(store, "half")
    with pytest.raises(CheckpointError, match=r"no manifest\.json"):
        store.materialize("half")
    with pytest.raises(CheckpointError, match="already exists"):
        store.commit_from(store.root / "half", "half")


def test_renamed_checkpoint_folder_is_refused(store, stage):
    store.commit(stage("trial-1"), "trial-1")
    os.rename(store.root / "trial-1", store.root / "trial-9")
    assert_not_a_checkpoint(store, "trial-9")
    with pytest.raises(CheckpointError, match="belongs to checkpoint 'trial-1'"):
        store.materialize("trial-9")


def test_crash_mid_delete_hides_the_checkpoint(store, stage, monkeypatch):
    store.commit(stage("trial-1"), "trial-1")
    monkeypatch.setattr(local, "remove_tree", lambda path: False)  # killed after the rename
    store.delete("trial-1")
    monkeypatch.undo()

    assert_not_a_checkpoint(store, "trial-1")
    removed = store.clean_staging()
    assert len(removed) == 1 and removed[0].startswith(".trash/trial-1-")
    assert not any((store.root / ".trash").iterdir())


def test_crash_mid_pointer_write_keeps_the_old_pointer(store, stage, monkeypatch):
    store.commit(stage("a"), "a")
    store.commit(stage("b"), "b")
    store.set_pointer("best", "a")

    def crash(*args):
        raise OSError(errno.EIO, "simulated crash")

    monkeypatch.setattr(fs.os, "replace", crash)
    with pytest.raises(OSError, match="simulated crash"):
        store.set_pointer("best", "b")
    monkeypatch.undo()

    assert store.get_pointer("best") == "a"
    assert sorted(p.name for p in (store.root / "pointers").iterdir()) == ["best.json"]


def test_clean_staging_removes_pointer_temp_files(store, stage):
    store.commit(stage("a"), "a")
    store.set_pointer("best", "a")
    leftover = store.root / "pointers" / ".best.json.0123.tmp"  # a SIGKILLed set_pointer
    leftover.write_text("{")
    assert store.clean_staging() == ["pointers/.best.json.0123.tmp"]
    assert store.get_pointer("best") == "a"


def test_clean_staging_spares_recent_staging(store, stage):
    old, fresh = stage("old"), stage("fresh")
    past = time.time() - 3600
    for path in (old, *old.rglob("*")):
        os.utime(path, (past, past))

    assert store.clean_staging(min_age_s=600) == [f".staging/{old.name}"]
    assert fresh.is_dir()


def test_damaged_pointer_file_is_reported(store):
    (store.root / "pointers").mkdir()
    (store.root / "pointers" / "latest.json").write_text("not json")
    with pytest.raises(CheckpointError, match=r"latest\.json is damaged"):
        store.get_pointer("latest")


def test_commit_from_failure_leaves_no_staging(store, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    os.symlink(tmp_path / "missing-target", src / "dangling")
    with pytest.raises(CheckpointError, match="could not copy"):
        store.commit_from(src, "trial-1")
    assert not any((store.root / ".staging").iterdir())


def test_symlinks_in_staging_are_refused(store, stage, tmp_path):
    staged = stage("trial-1")
    (tmp_path / "outside").write_bytes(b"x")
    os.symlink(tmp_path / "outside", staged / "link.bin")
    with pytest.raises(CheckpointError, match="symlink"):
        store.commit(staged, "trial-1")
    assert_not_a_checkpoint(store, "trial-1")
