"""One writer per run: ``control/lock.json`` with the owner's pid, host and heartbeat.

The lock is created with ``O_EXCL``; a thread rewrites its heartbeat every few seconds. A
second writer is refused while the owner is alive: on the same host its pid exists and the
heartbeat is fresh, on another host the heartbeat is fresh. A lock whose owner died (killed,
crashed, machine rebooted) is stale and is taken over. A heartbeat that cannot be written (a
full disk, an I/O error) is kept for the run's own thread to raise (:meth:`raise_failure`):
the machine's failure stops the run there, cleanly, rather than on a side thread. A heartbeat
never writes over another owner's lock: an owner that stalled past the staleness limit (a
suspended process, a frozen machine) and was taken over finds it lost (:attr:`RunLock.lost_to`)
and stops at its next check. This narrows, and does not close, the window of two writers: a
process that wakes inside a heartbeat's write, or mid-trial, can still write once before it
notices.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from qtrain.errors import QtrainError
from qtrain.rundir import write_json_atomic

HEARTBEAT_S = 2.0
STALE_AFTER_S = 20.0


class RunBusyError(QtrainError):
    """Another live process writes this run."""


@dataclass(frozen=True)
class LockOwner:
    """Who holds a run's lock."""

    pid: int
    host: str
    started: float
    heartbeat: float

    def alive(self, stale_after: float = STALE_AFTER_S) -> bool:
        """Whether the owner looks alive (its pid exists here; its heartbeat is fresh)."""
        if time.time() - self.heartbeat > stale_after:
            return False
        if self.host != socket.gethostname():
            return True
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def read_owner(path: Path) -> LockOwner | None:
    """The lock's owner (None: no lock, or an unreadable one, which counts as stale)."""
    try:
        return LockOwner(**json.loads(Path(path).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


class RunLock:
    """The run's writer lock; :meth:`acquire` it, :meth:`release` it when done."""

    def __init__(self, path: Path, run: str = "the run", heartbeat_s: float = HEARTBEAT_S) -> None:
        self.path = Path(path)
        self.run = run
        self.heartbeat_s = heartbeat_s
        self._owner: LockOwner | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.failure: OSError | None = None
        #: Who took the lock over after this owner went stale (it then writes nothing more).
        self.lost_to: str | None = None

    def acquire(self) -> None:
        """Take the lock, or raise :class:`RunBusyError` naming the live owner."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        now = time.time()
        me = LockOwner(os.getpid(), socket.gethostname(), now, now)
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                owner = read_owner(self.path)
                if owner is not None and owner.alive():
                    raise RunBusyError(
                        f"{self.run} is being run by process {owner.pid} on {owner.host}: "
                        "control it with `qtrain pause/resume/stop`, or wait for it to end"
                    ) from None
                self.path.unlink(missing_ok=True)  # stale: its owner is gone
                continue
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(asdict(me), handle)
            break
        else:
            raise RunBusyError(f"{self.run}: another process took the lock at the same time")
        self._owner = me
        self._stop.clear()
        self._thread = threading.Thread(target=self._beat, name="qtrain-heartbeat", daemon=True)
        self._thread.start()

    def release(self) -> None:
        """Stop the heartbeat and remove the lock (if it is still ours)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._mine(read_owner(self.path)):
            self.path.unlink(missing_ok=True)
        self._owner = None

    def _mine(self, owner: LockOwner | None) -> bool:
        """Whether ``owner`` (read from the file) is this lock's holder."""
        me = self._owner
        return me is not None and owner is not None and (owner.pid, owner.host, owner.started) == (
            me.pid, me.host, me.started,
        )  # fmt: skip

    def holds(self) -> bool:
        """Whether this process still holds the lock, read from the file; once another
        process took it over (or removed it: taken over, or its new owner has ended) it says
        who in :attr:`lost_to`, and False from then on."""
        if self.lost_to is None and self._owner is not None:
            current = read_owner(self.path)
            if current is not None and not self._mine(current):
                self.lost_to = f"process {current.pid} on {current.host}"  # while stalled
            elif current is None and not self.path.exists():
                self.lost_to = f"another process (it removed {self.path.name})"
        return self.lost_to is None and self._owner is not None

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            if self._owner is None:
                return
            try:
                if not self.holds():
                    return
                self._owner = replace(self._owner, heartbeat=time.time())
                write_json_atomic(self.path, asdict(self._owner))
            except OSError as exc:  # a side thread: the run's own thread raises it
                if self.failure is None:
                    self.failure = OSError(exc.errno, exc.strerror, str(self.path))
                    self.failure.__cause__ = exc

    def raise_failure(self) -> None:
        """Raise the error a heartbeat write met (once), naming the lock file; or
        :class:`RunBusyError` once another process has taken the lock over."""
        if self.lost_to is not None:
            raise RunBusyError(
                f"{self.run}: {self.lost_to} took over its lock while this process was stalled "
                f"for over {STALE_AFTER_S:.0f} s; this process stops here and records nothing "
                "more of the run"
            )
        failure, self.failure = self.failure, None
        if failure is not None:
            raise failure
