"""Manifest building and verification, independent of any store."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from qtrain.checkpoints import MANIFEST_NAME, Manifest, build_manifest, verify_manifest
from qtrain.checkpoints.manifest import CHUNK_SIZE, sha256_file
from qtrain.errors import CheckpointError


@pytest.fixture
def checkpoint(tmp_path, sample_files, write_files):
    """A folder holding the sample files and their manifest."""
    folder = write_files(tmp_path / "ckpt", sample_files)
    manifest = build_manifest(folder, "ckpt", {"eval_loss": 1.0})
    (folder / MANIFEST_NAME).write_text(manifest.to_json())
    return folder


def test_sha256_streams_large_files(tmp_path):
    data = os.urandom(2 * CHUNK_SIZE + 123)
    (tmp_path / "big.bin").write_bytes(data)
    assert sha256_file(tmp_path / "big.bin") == hashlib.sha256(data).hexdigest()


def test_build_manifest_lists_every_file_but_itself(checkpoint, sample_files):
    manifest = build_manifest(checkpoint, "ckpt")
    assert sorted(manifest.files) == sorted(sample_files)
    assert MANIFEST_NAME not in manifest.files
    assert manifest.files["tokenizer/tokenizer.json"].size == len(
        sample_files["tokenizer/tokenizer.json"]
    )
    assert manifest.total_size == sum(len(data) for data in sample_files.values())
    assert manifest.created_at.utcoffset().total_seconds() == 0


def test_manifest_json_roundtrip(checkpoint):
    manifest = verify_manifest(checkpoint, expected_name="ckpt")
    assert Manifest.from_json(manifest.to_json(), source="x") == manifest
    raw = json.loads((checkpoint / MANIFEST_NAME).read_text())
    assert raw["format_version"] == 1 and raw["created_at"].endswith("Z")
    assert set(raw["files"]["metrics.json"]) == {"sha256", "size"}


def test_verify_detects_a_same_size_corruption(checkpoint):
    path = checkpoint / "metrics.json"
    data = path.read_bytes()
    path.write_bytes(data[:-1] + b"!")
    with pytest.raises(CheckpointError, match=r"metrics\.json does not match its sha256"):
        verify_manifest(checkpoint)


def test_verify_detects_unlisted_and_missing_files(checkpoint):
    (checkpoint / "tokenizer" / "extra.txt").write_text("x")
    with pytest.raises(CheckpointError, match=r"does not list.*tokenizer/extra\.txt"):
        verify_manifest(checkpoint)
    (checkpoint / "tokenizer" / "extra.txt").unlink()
    (checkpoint / "trial.json").unlink()
    with pytest.raises(CheckpointError, match=r"missing trial\.json"):
        verify_manifest(checkpoint)


def test_verify_checks_the_expected_name(checkpoint):
    with pytest.raises(CheckpointError, match="belongs to checkpoint 'ckpt', not 'other'"):
        verify_manifest(checkpoint, expected_name="other")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"format_version": 99}', "format_version 99"),
        ('{"name": "x", "created_at": "2026-01-01T00:00:00Z", "files": {}, "x": 1}', "x:"),
        ('{"name": "x", "created_at": "2026-01-01T00:00:00", "files": {}}', "created_at"),
    ],
)
def test_damaged_manifests_are_reported(tmp_path, text, message):
    (tmp_path / MANIFEST_NAME).write_text(text)
    with pytest.raises(CheckpointError, match=message):
        verify_manifest(tmp_path)


@pytest.mark.parametrize("rel", ["../outside", "/etc/passwd", "a//b", "./a", "a\\b", MANIFEST_NAME])
def test_manifest_paths_must_stay_inside_the_checkpoint(rel):
    raw = {
        "name": "x",
        "created_at": "2026-01-01T00:00:00Z",
        "files": {rel: {"sha256": "0" * 64, "size": 1}},
    }
    with pytest.raises(CheckpointError, match="not a valid manifest"):
        Manifest.from_json(json.dumps(raw), source="m.json")


def test_metadata_must_be_json_serialisable(tmp_path):
    with pytest.raises(TypeError, match="metadata for checkpoint 'x'"):
        build_manifest(tmp_path, "x", {"path": tmp_path})
