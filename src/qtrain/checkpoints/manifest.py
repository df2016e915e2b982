"""The checkpoint manifest: which files a checkpoint holds, their sizes and sha256 digests.

A folder is a checkpoint only when its ``manifest.json`` lists exactly the files in it
and every file matches its digest. The manifest is written last, so a folder without one
is an interrupted write, never a checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator

from qtrain.errors import CheckpointError

MANIFEST_NAME = "manifest.json"
FORMAT_VERSION = 1
CHUNK_SIZE = 1 << 20  # 1 MiB: sha256 streams big weight files without loading them.

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class FileEntry(BaseModel):
    """Size and sha256 digest of one file in a checkpoint."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sha256: str
    size: int = Field(ge=0)

    @field_validator("sha256")
    @classmethod
    def _is_hex_digest(cls, value: str) -> str:
        if not _SHA256.match(value):
            raise ValueError("must be 64 lowercase hex characters")
        return value


class Manifest(BaseModel):
    """What a committed checkpoint contains; stored as ``manifest.json`` in its folder.

    ``files`` maps POSIX paths relative to the checkpoint folder (never the manifest
    itself) to their :class:`FileEntry`. ``metadata`` is free-form JSON (metrics, trial
    parameters, ...); NaN and infinities are kept as in Python's ``json`` module.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, ser_json_inf_nan="constants")

    format_version: int = FORMAT_VERSION
    name: str
    created_at: AwareDatetime
    files: dict[str, FileEntry]
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("created_at")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    @field_validator("files")
    @classmethod
    def _relative_paths(cls, value: dict[str, FileEntry]) -> dict[str, FileEntry]:
        for rel in value:
            _check_relative_path(rel)
        return value

    @property
    def total_size(self) -> int:
        """Sum of the listed files' sizes in bytes (the manifest itself excluded)."""
        return sum(entry.size for entry in self.files.values())

    def to_json(self) -> str:
        """Serialise to the JSON text stored in ``manifest.json``."""
        return self.model_dump_json(indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes, source: str) -> Manifest:
        """Parse manifest JSON; ``source`` names the file in the error on failure."""
        try:
            raw = json.loads(text)
        except (ValueError, UnicodeDecodeError) as exc:
            raise CheckpointError(
                f"{source} is not valid JSON ({exc}): the checkpoint is damaged; delete it"
            ) from None
        if isinstance(raw, dict) and raw.get("format_version", FORMAT_VERSION) != FORMAT_VERSION:
            raise CheckpointError(
                f"{source} has manifest format_version {raw.get('format_version')!r}, this "
                f"qtrain reads version {FORMAT_VERSION}: upgrade qtrain to load it"
            )
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "(top level)"
            raise CheckpointError(
                f"{source} is not a valid manifest ({where}: {first['msg']}): "
                "the checkpoint is damaged; delete it"
            ) from None


def _check_relative_path(rel: str) -> None:
    parts = rel.split("/")
    if (
        not rel
        or rel.startswith("/")
        or "\\" in rel
        or any(part in ("", ".", "..") for part in parts)
        or rel == MANIFEST_NAME
    ):
        raise ValueError(f"{rel!r} is not a plain relative path inside the checkpoint")


def sha256_file(path: Path) -> str:
    """Hex sha256 digest of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    buffer = bytearray(CHUNK_SIZE)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as handle:
        while count := handle.readinto(buffer):
            digest.update(view[:count])
    return digest.hexdigest()


def list_files(folder: Path) -> list[str]:
    """Sorted POSIX paths of the regular files under ``folder``, the manifest excluded.

    Symlinks and special files are refused: a checkpoint must hold its own bytes.
    Empty folders are ignored.
    """
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(folder):
        for entry in (*dirnames, *filenames):
            path = Path(dirpath, entry)
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode) or not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
                raise CheckpointError(
                    f"{path} is a symlink or special file: a checkpoint may hold only "
                    "regular files; copy the target in instead"
                )
        for filename in filenames:
            rel = Path(dirpath, filename).relative_to(folder).as_posix()
            if rel != MANIFEST_NAME:
                found.append(rel)
    return sorted(found)


def build_manifest(folder: Path, name: str, metadata: dict[str, Any] | None = None) -> Manifest:
    """Hash every file under ``folder`` into a :class:`Manifest` stamped with the time now.

    ``metadata`` must be JSON-serialisable; a ``TypeError`` says which value is not.
    """
    metadata = dict(metadata or {})
    try:
        json.dumps(metadata)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"metadata for checkpoint {name!r} is not JSON-serialisable: {exc}"
        ) from exc
    files = {
        rel: FileEntry(sha256=sha256_file(folder / rel), size=(folder / rel).stat().st_size)
        for rel in list_files(folder)
    }
    return Manifest(name=name, created_at=datetime.now(UTC), files=files, metadata=metadata)


def read_manifest(folder: Path) -> Manifest:
    """Read and validate ``folder/manifest.json`` without hashing any file."""
    path = folder / MANIFEST_NAME
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(
            f"{folder} has no {MANIFEST_NAME}: it is not a complete checkpoint "
            "(an interrupted commit?); delete it and commit again"
        ) from None
    except OSError as exc:
        raise CheckpointError(f"cannot read {path}: {exc.strerror or exc}") from None
    return Manifest.from_json(text, source=str(path))


def verify_manifest(folder: Path, expected_name: str | None = None) -> Manifest:
    """Check that ``folder`` holds exactly the files its manifest lists, byte for byte.

    Raises :class:`CheckpointError` naming the first missing, unlisted or corrupt file
    (missing and unlisted files are reported before any hashing), or a manifest whose
    name differs from ``expected_name``.
    """
    manifest = read_manifest(folder)
    if expected_name is not None and manifest.name != expected_name:
        raise CheckpointError(
            f"{folder / MANIFEST_NAME} belongs to checkpoint {manifest.name!r}, not "
            f"{expected_name!r}: the folder was renamed or moved; restore its name"
        )
    present = set(list_files(folder))
    for rel in sorted(manifest.files):
        if rel not in present:
            raise CheckpointError(
                f"checkpoint {manifest.name!r} is missing {rel} ({folder / rel}): "
                "the checkpoint is damaged; delete it or restore the file"
            )
    unlisted = sorted(present - manifest.files.keys())
    if unlisted:
        raise CheckpointError(
            f"checkpoint {manifest.name!r} has a file its manifest does not list: "
            f"{folder / unlisted[0]}; remove it (checkpoints are immutable once committed)"
        )
    for rel, entry in sorted(manifest.files.items()):
        path = folder / rel
        if path.stat().st_size != entry.size or sha256_file(path) != entry.sha256:
            raise CheckpointError(
                f"checkpoint {manifest.name!r} file {path} does not match its sha256 in "
                f"{MANIFEST_NAME}: the file is corrupt; delete the checkpoint or restore it"
            )
    return manifest
