"""One writer per run: a live owner refuses a second, a dead one's lock is taken over."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qtrain.control.lock import LockOwner, RunBusyError, RunLock, read_owner


def test_second_writer_is_refused_while_the_first_lives(tmp_path: Path) -> None:
    first = RunLock(tmp_path / "lock.json", run="run r1", heartbeat_s=0.05)
    first.acquire()
    try:
        with pytest.raises(RunBusyError, match=f"run r1 is being run by process {os.getpid()}"):
            RunLock(tmp_path / "lock.json", run="run r1").acquire()
        before = read_owner(tmp_path / "lock.json")
        time.sleep(0.3)
        after = read_owner(tmp_path / "lock.json")
        assert before and after and after.heartbeat > before.heartbeat  # the heartbeat beats
    finally:
        first.release()
    assert not (tmp_path / "lock.json").exists()


def test_a_dead_owners_lock_is_stale_and_taken_over(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    pid = int(dead.stdout)
    now = time.time()
    owner = {"pid": pid, "host": socket.gethostname(), "started": now, "heartbeat": now}
    (tmp_path / "lock.json").write_text(json.dumps(owner), "utf-8")
    assert not LockOwner(**owner).alive()
    lock = RunLock(tmp_path / "lock.json")
    lock.acquire()
    assert read_owner(tmp_path / "lock.json").pid == os.getpid()  # type: ignore[union-attr]
    lock.release()


def test_stale_heartbeat_and_unreadable_lock(tmp_path: Path) -> None:
    old = time.time() - 3600
    assert not LockOwner(os.getpid(), "elsewhere", old, old).alive()
    assert LockOwner(1, "elsewhere", time.time(), time.time()).alive()  # another host: trust it
    (tmp_path / "lock.json").write_text("{torn", "utf-8")
    assert read_owner(tmp_path / "lock.json") is None
    lock = RunLock(tmp_path / "lock.json")
    lock.acquire()
    lock.release()


def test_a_heartbeat_that_cannot_be_written_is_raised_by_the_runs_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An I/O error on the side thread is kept, then raised once where the run can stop."""
    import errno

    from qtrain.control import lock as lock_module
    from qtrain.infra_failures import infrastructure_cause

    def failing_write(path: Path, payload: object) -> None:
        raise OSError(errno.EIO, "Input/output error")

    lock = RunLock(tmp_path / "lock.json", run="run r1", heartbeat_s=0.02)
    lock.acquire()
    try:
        lock.raise_failure()  # nothing failed yet
        monkeypatch.setattr(lock_module, "write_json_atomic", failing_write)
        deadline = time.monotonic() + 5
        while lock.failure is None and time.monotonic() < deadline:
            time.sleep(0.02)
        with pytest.raises(OSError) as raised:
            lock.raise_failure()
        assert raised.value.errno == errno.EIO
        assert raised.value.filename == str(tmp_path / "lock.json")
        assert infrastructure_cause(raised.value) == "I/O error"
    finally:
        monkeypatch.undo()
        lock.release()
    assert not (tmp_path / "lock.json").exists()


def test_an_owner_taken_over_while_stalled_stops_and_leaves_the_new_lock(tmp_path: Path) -> None:
    """A stalled owner whose lock another process took over never writes over the new lock."""
    path = tmp_path / "lock.json"
    stalled = RunLock(path, run="run r1", heartbeat_s=0.02)
    stalled.acquire()
    try:
        stalled.raise_failure()  # still the owner: nothing to raise
        now = time.time()
        newcomer = {"pid": 4242, "host": "other-host", "started": now, "heartbeat": now}
        deadline = time.monotonic() + 5
        while stalled.lost_to is None and time.monotonic() < deadline:
            # as a takeover of a stale lock writes it; again, should a heartbeat that read the
            # lock just before have replaced it (the window this narrows, not closes)
            path.write_text(json.dumps(newcomer), "utf-8")
            time.sleep(0.05)
        time.sleep(0.1)  # several heartbeats later
        assert json.loads(path.read_text("utf-8")) == newcomer
        with pytest.raises(RunBusyError, match="process 4242 on other-host took over its lock"):
            stalled.raise_failure()
    finally:
        stalled.release()
    assert json.loads(path.read_text("utf-8")) == newcomer  # release leaves it too


def test_an_owner_whose_lock_was_removed_stops_and_does_not_recreate_it(tmp_path: Path) -> None:
    """A removed lock means another process took the run over (or took it and ended)."""
    path = tmp_path / "lock.json"
    stalled = RunLock(path, run="run r1", heartbeat_s=0.02)
    stalled.acquire()
    try:
        deadline = time.monotonic() + 5
        while stalled.lost_to is None and time.monotonic() < deadline:
            path.unlink(missing_ok=True)  # (again, should a heartbeat's write have recreated it)
            time.sleep(0.05)
        time.sleep(0.1)
        assert not path.exists()
        with pytest.raises(RunBusyError, match="another process .* took over its lock"):
            stalled.raise_failure()
    finally:
        stalled.release()
    assert not path.exists()
