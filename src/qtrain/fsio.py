"""Durable file-system helpers: fsync files and folders, replace files atomically.

``os.rename`` is only crash-safe once the data it publishes has reached the disk, so every
publish in :mod:`qtrain.checkpoints` fsyncs the files first, then the folders holding
them, then renames, then fsyncs the parent folder so the rename itself is durable.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import uuid
from pathlib import Path

_log = logging.getLogger(__name__)


def fsync_file(path: Path) -> None:
    """Flush one file's data and metadata to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """Flush a folder's entries (creations, renames) to disk; a no-op where unsupported."""
    if os.name != "posix":  # Windows cannot open a folder for fsync; NTFS journals renames.
        return
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(folder: Path) -> None:
    """Fsync every file under ``folder``, then every folder, deepest first."""
    for dirpath, _dirnames, filenames in os.walk(folder, topdown=False):
        for filename in filenames:
            fsync_file(Path(dirpath, filename))
        fsync_dir(Path(dirpath))


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so a crash leaves either the old file or the new one.

    The bytes go to a hidden temporary file in the same folder, which is fsynced and then
    ``os.replace``-d over ``path``; the folder is fsynced last to make the swap durable.
    """
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(path.parent)


def remove_tree(path: Path) -> bool:
    """Remove a folder tree (or a file), tolerating a concurrent remover; True once gone.

    Only called on folders already renamed out of the published namespace, so a partial
    removal is harmless: a warning is logged and a later clean-up retries.
    """
    if path.is_symlink() or path.is_file():
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    else:
        shutil.rmtree(path, ignore_errors=True)
    if os.path.lexists(path):
        _log.warning("could not fully remove %s; it will be retried by clean_staging()", path)
        return False
    return True
