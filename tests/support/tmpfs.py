"""A small tmpfs: a real file system that fills up (ENOSPC) when the test decides."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def mounted_tmpfs(path: Path, size_mb: int) -> Iterator[Path]:
    """Mount a ``size_mb`` tmpfs at ``path`` for the block (root only: mount(2)). Without
    the privilege the test is skipped, except under CI=true, where it fails."""
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m,mode=0755", "tmpfs", str(path)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        why = f"cannot mount a tmpfs ({done.stderr.strip()}): the disk-full faults need root"
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        pytest.skip(why)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(path: Path) -> Path:
    """Fill the file system holding ``path`` to the last byte; returns the filler file."""
    filler = path / "filler.bin"
    chunk = b"\0" * (1 << 16)
    with open(filler, "wb", buffering=0) as f:  # unbuffered: close() has nothing left to fail
        for size in (1 << 16, 4096, 1):
            try:
                while True:
                    f.write(chunk[:size])
            except OSError:
                continue
    return filler


def free_space_bytes(path: Path) -> int:
    """Bytes a non-root process could still write on ``path``'s file system."""
    stats = os.statvfs(path)
    return stats.f_bavail * stats.f_frsize
