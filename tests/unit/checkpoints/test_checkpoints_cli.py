"""``qtrain checkpoints list|verify|prune`` on a blob store (Azurite) and on a local run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml
from support.checkpoint_files import write_tree

from qtrain.checkpoints import open_store
from qtrain.config import load_config


def qtrain(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qtrain.cli.app", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture
def blob_run(azurite, tmp_path, sample_files, monkeypatch):
    """A config file naming a fresh container, and run r1 in it with three checkpoints."""
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)
    storage = {"kind": "azure_blob", "container": f"cli-{uuid.uuid4().hex[:12]}", "prefix": "p"}
    config_file = tmp_path / "run.yaml"
    config_file.write_text(yaml.safe_dump({"storage": storage}))
    store = open_store(load_config(config_file).storage, tmp_path / "writer", "r1")
    for name in ("c001-t00", "c001-t01", "c002-t00"):
        store.commit(write_tree(store.staging_dir(name), sample_files), name, {"cycle": 1})
    store.set_pointer("incumbent", "c001-t01")
    return config_file, store


def test_list_verify_prune_a_blob_run_by_config_and_run_id(blob_run, azurite):
    config_file, store = blob_run
    env = {"AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string}
    args = ("r1", "--config", str(config_file))

    listed = qtrain("checkpoints", "list", *args, env=env)
    assert listed.returncode == 0, listed.stderr
    assert "c001-t00" in listed.stdout and "incumbent" in listed.stdout
    verified = qtrain("checkpoints", "verify", *args, env=env)
    assert verified.returncode == 0 and verified.stdout.count("ok ") == 3

    manifest = store.container.get_blob_client("p/r1/checkpoints/c001-t00/manifest.json")
    upload = manifest.get_blob_properties().metadata["upload"]
    weights = f"p/r1/checkpoints/c001-t00/{upload}/adapter_model.safetensors"
    store.container.get_blob_client(weights).upload_blob(b"\0" * 65536, overwrite=True)
    broken = qtrain("checkpoints", "verify", *args, env=env)
    assert broken.returncode == 1
    assert "FAIL c001-t00" in broken.stdout and "adapter_model.safetensors" in broken.stdout
    assert "1 of 3 checkpoints failed" in broken.stderr and "Traceback" not in broken.stderr

    garbage = "p/r1/checkpoints/c003-t00/" + "0" * 32 + "/adapter_model.safetensors"
    store.container.get_blob_client(garbage).upload_blob(b"half an upload")
    dry = qtrain("checkpoints", "prune", *args, "--keep-last", "1", "--garbage-min-age", "0",
                 "--dry-run")  # fmt: skip
    assert "would delete: c001-t00" in dry.stdout
    assert "would remove interrupted uploads: c003-t00/" in dry.stdout, dry.stdout
    assert list(store.container.list_blobs(name_starts_with="p/r1/checkpoints/c003-t00/"))
    pruned = qtrain("checkpoints", "prune", *args, "--keep-last", "1", "--garbage-min-age", "0")
    assert pruned.returncode == 0, pruned.stderr
    assert "deleted: c001-t00" in pruned.stdout and "c003-t00/" in pruned.stdout
    assert [i.name for i in store.list()] == ["c001-t01", "c002-t00"]
    assert not list(store.container.list_blobs(name_starts_with="p/r1/checkpoints/c003-t00/"))
    secret = azurite.connection_string.split("AccountKey=")[1].split(";")[0]
    for result in (listed, verified, broken, pruned):
        assert secret not in result.stdout + result.stderr


def test_a_run_directory_names_its_blob_store(blob_run, azurite, tmp_path):
    config_file, _ = blob_run
    run_dir = tmp_path / "runs" / "r1"
    run_dir.mkdir(parents=True)
    run_config = load_config(config_file).model_dump(mode="json")
    (run_dir / "config.yaml").write_text(yaml.safe_dump(run_config))  # as the agent writes it
    env = {"AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string}
    listed = qtrain("checkpoints", "list", str(run_dir), env=env)
    assert listed.returncode == 0, listed.stderr
    assert "c002-t00" in listed.stdout

    missing = qtrain(
        "checkpoints", "list", str(run_dir), env={"AZURE_STORAGE_CONNECTION_STRING": ""}
    )
    assert missing.returncode == 2 and "AZURE_STORAGE_CONNECTION_STRING" in missing.stderr


def test_local_run_directory_still_works(tmp_path: Path, sample_files):
    run_dir = tmp_path / "r1"
    store = open_store(load_config(None).storage, run_dir / "checkpoints", "r1")
    store.commit(write_tree(store.staging_dir("c001-t00"), sample_files), "c001-t00")
    listed = qtrain("checkpoints", "list", str(run_dir))
    assert listed.returncode == 0 and "c001-t00" in listed.stdout
    nothing = qtrain("checkpoints", "list", str(tmp_path / "nope"))
    assert nothing.returncode == 2 and "no checkpoints/ folder" in nothing.stderr


def local_run(tmp_path: Path, sample_files, names=("c001-t00", "c001-t01")):
    run_dir = tmp_path / "r1"
    store = open_store(load_config(None).storage, run_dir / "checkpoints", "r1")
    for name in names:
        store.commit(write_tree(store.staging_dir(name), sample_files), name)
    return run_dir, store


def test_verify_fails_on_an_empty_store(tmp_path: Path) -> None:
    (tmp_path / "r1" / "checkpoints").mkdir(parents=True)
    empty = qtrain("checkpoints", "verify", str(tmp_path / "r1"))
    assert empty.returncode == 1 and "no committed checkpoint to verify" in empty.stderr


def test_verify_and_list_report_a_checkpoint_without_its_manifest(tmp_path, sample_files):
    run_dir, _ = local_run(tmp_path, sample_files)
    (run_dir / "checkpoints" / "c001-t00" / "manifest.json").unlink()
    verified = qtrain("checkpoints", "verify", str(run_dir))
    assert verified.returncode == 1, verified.stdout
    assert "ok  c001-t01" in verified.stdout
    assert "FAIL c001-t00 has no committed manifest" in verified.stdout
    listed = qtrain("checkpoints", "list", str(run_dir))
    assert listed.returncode == 0 and "problem: c001-t00 has no committed manifest" in listed.stdout


def test_verify_and_list_report_a_pointer_to_a_missing_checkpoint(tmp_path, sample_files):
    run_dir, store = local_run(tmp_path, sample_files)
    store.set_pointer("best", "c001-t00")
    shutil.rmtree(run_dir / "checkpoints" / "c001-t00")
    verified = qtrain("checkpoints", "verify", str(run_dir))
    assert verified.returncode == 1
    assert "FAIL pointer 'best' names 'c001-t00', which is not a complete" in verified.stdout
    listed = qtrain("checkpoints", "list", str(run_dir))
    assert "problem: pointer 'best' names 'c001-t00'" in listed.stdout


def test_prune_dry_run_names_the_interrupted_uploads_a_prune_removes(tmp_path, sample_files):
    run_dir, store = local_run(tmp_path, sample_files, names=("c001-t00",))
    write_tree(store.staging_dir("c002-t00"), sample_files)  # a killed upload
    dry = qtrain("checkpoints", "prune", str(run_dir), "--garbage-min-age", "0", "--dry-run")
    assert dry.returncode == 0 and "would remove interrupted uploads: .staging/" in dry.stdout
    assert any((run_dir / "checkpoints" / ".staging").iterdir()), "a dry run removes nothing"
    real = qtrain("checkpoints", "prune", str(run_dir), "--garbage-min-age", "0")
    assert "removed interrupted uploads: .staging/" in real.stdout
