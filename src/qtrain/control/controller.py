"""The runner's side of the control plane: read commands at safe points, act, acknowledge.

The runner calls :meth:`RunController.check` after every optimizer step (``"step"``), after
every trial (``"trial"``) and between cycles (``"cycle"``). Each command is acknowledged
by a ``control`` event: ``accepted`` when read, ``rejected`` with the reason, ``done`` when
it took effect; every change of state is a ``state`` event and a new ``status.json``.

- ``pause`` (``after``: ``trial``, ``cycle`` or ``now``) holds the run at the next such
  point; ``now`` saves the running trial's full trainer state first (the runner does that
  when :meth:`check` at a step says ``"suspend"``). ``resume`` continues a held run.
- ``stop`` ends the run gracefully at the next step (the trial is saved mid-way and the run
  stays resumable); ``abort`` ends it at once (resumable from the last committed trial).
- ``set`` changes whitelisted settings from the next cycle (:mod:`qtrain.control.settings`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Literal

from qtrain.control.channel import BadLine, Command, ControlChannel
from qtrain.control.folder import ControlFolder
from qtrain.control.status import RunStatus, write_status
from qtrain.errors import InfrastructureError, one_line
from qtrain.events import EventLog
from qtrain.infra_failures import infrastructure_cause

Point = Literal["step", "trial", "cycle"]
#: Validates ``set`` arguments ({key: value}); returns them parsed or raises ValueError.
Validator = Callable[[dict[str, Any]], dict[str, Any]]
HOLD_POLL_S = 0.2
STATUS_EVERY_S = 1.0


class StopRequested(BaseException):  # control flow, like KeyboardInterrupt
    """The run was asked to end: ``mode`` ``stop`` (graceful) or ``abort``."""

    def __init__(self, mode: str, reason: str, exit_code: int = 0) -> None:
        super().__init__(reason)
        self.mode = mode
        self.reason = reason
        self.exit_code = exit_code


class RunController:
    """Reads a run's command channel and keeps its status; one per running process."""

    def __init__(
        self,
        folder: ControlFolder,
        events: EventLog,
        status: RunStatus,
        validate: Validator | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._poll_lock = threading.RLock()
        self.folder = folder
        self.events = events
        self.channel = ControlChannel(folder.commands)
        self.channel.skip_existing()  # commands sent to an earlier process are history
        self.status = status
        self.validate = validate
        self.sleep = sleep
        self.pause_after: str | None = None
        self._pause_id: str | None = None
        self._resume_id: str | None = None
        self._holding = False
        self.stop_mode: str | None = None
        self._stop: tuple[str, str, int] | None = None
        self.settings: dict[str, Any] = {}
        self._set_ids: list[str] = []
        self.decision: dict[str, Any] | None = None  # guided mode: the pending decision
        self.decide_check: Validator | None = None
        self.decisions: list[Command] = []
        self._written = 0.0
        self.checks = 0
        self.check_seconds = 0.0
        self._watcher: threading.Thread | None = None
        self._watch_stop = threading.Event()
        self._watch_failure: OSError | None = None
        #: Called at every safe point; each raises the machine's failure met on a side thread.
        self.machine_checks: list[Callable[[], None]] = []
        #: Whether this process still owns the run (its lock): the watcher reads commands
        #: only while it does, so a stalled process never acknowledges a new owner's commands.
        self.owns_run: Callable[[], bool] = lambda: True
        write_status(folder, status)
        events.emit("state", state=status.state, reason=status.reason)

    # -- state -------------------------------------------------------------------------
    def set_state(self, state: str, reason: str | None = None, **progress: Any) -> None:
        """Record a new state (``status.json`` and a ``state`` event)."""
        with self._poll_lock:  # the watcher thread changes state too
            changed = state != self.status.state or reason != self.status.reason
            self.status = self.status.but(state=state, reason=reason, **progress)
            write_status(self.folder, self.status)
            self._written = time.monotonic()
            if changed:
                self.events.emit("state", state=state, reason=reason)

    def finish(self, state: str, reason: str | None, record: bool = True) -> None:
        """Stop watching for commands; then (``record``) the run's last state, after a
        ``control_checks`` event: how many safe-point checks ran and how long they took
        together (the control plane's cost). A run taken over by another process records
        nothing (``record=False``): the run's files are the new owner's."""
        self._watch_stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout=5)
        if not record:
            return
        self.events.emit("control_checks", checks=self.checks, seconds=self.check_seconds)
        self.set_state(state, reason=reason)

    def progress(self, **fields: Any) -> None:
        """Update the progress (cycle, trial, step, ...); written at most once a second."""
        with self._poll_lock:
            self.status = self.status.but(**fields)
            if time.monotonic() - self._written >= STATUS_EVERY_S or "step" not in fields:
                write_status(self.folder, self.status)
                self._written = time.monotonic()

    def request_stop(self, mode: str, reason: str, exit_code: int = 0) -> None:
        """Ask the run to stop (from a signal handler: no file, no event here)."""
        if self._stop is None or mode == "abort":
            self._stop = (mode, reason, exit_code)

    # -- safe points -------------------------------------------------------------------
    def check(self, point: Point) -> str:
        """Read new commands and act at a safe point.

        At a ``step`` it returns ``"suspend"`` when the running trial must be saved mid-way
        (pause ``now``, graceful stop) and ``"continue"`` otherwise; an abort raises
        :class:`StopRequested`. At a ``trial`` or ``cycle`` boundary a stop raises and a
        pause that applies holds until ``resume``.
        """
        self.run_machine_checks()
        self.poll()
        if self._stop is not None and self._stop[0] == "abort":
            raise StopRequested(*self._stop)
        if point == "step":
            return "suspend" if self._stop is not None or self.pause_after == "now" else "continue"
        if self._stop is not None:
            raise StopRequested(*self._stop)
        if self.pause_after in ("now", "trial") or (self.pause_after == "cycle" == point):
            self.hold()
        return "continue"

    def run_machine_checks(self) -> None:
        """Raise a machine failure met on a side thread (the lock's heartbeat, the command
        watcher), each once, as an :class:`InfrastructureError` whatever its errno: the run's
        control files failing is never a trial's fault, so it stops the run, resumable."""
        try:
            if (failure := self._watch_failure) is not None:
                self._watch_failure = None  # the watcher has ended: nothing can race this
                raise failure
            for machine_check in self.machine_checks:
                machine_check()
        except OSError as exc:
            cause = infrastructure_cause(exc) or "OS error"
            raise InfrastructureError(
                f"{cause} on the run's control files ({one_line(exc, 300)}): the run stopped "
                "and can be resumed once that is fixed; nothing was recorded as a failed trial"
            ) from exc

    def hold(self) -> None:
        """Hold (state ``paused``) until ``resume``; a stop or a machine failure while held
        raises (a paused run whose lock cannot be refreshed would look abandoned)."""
        self.set_state("paused", reason=f"paused after {self.pause_after}")
        self._ack(self._pause_id, "pause", "done")
        self._holding = True
        try:
            while self.pause_after is not None:
                self.sleep(HOLD_POLL_S)
                self.run_machine_checks()
                self.poll()
                if self._stop is not None:
                    raise StopRequested(*self._stop)
        finally:
            self._holding = False
        self.set_state("running")
        self._ack(self._resume_id, "resume", "done")

    @property
    def stop_requested(self) -> tuple[str, str, int] | None:
        """The requested stop (mode, reason, exit code), if any."""
        return self._stop

    def take_settings(self) -> dict[str, Any]:
        """The settings sent with ``set`` since the last call (applied from the next cycle)."""
        settings, self.settings = self.settings, {}
        for command_id in self._set_ids:
            self._ack(command_id, "set", "done", args=settings)
        self._set_ids = []
        return settings

    # -- commands ----------------------------------------------------------------------
    def watch(self, interval: float = HOLD_POLL_S) -> None:
        """Also read commands on a side thread every ``interval`` seconds, so a command is
        acknowledged while the runner is between safe points (loading, evaluating); what it
        asks for still happens at the next safe point. Stopped by :meth:`finish`, or by an
        I/O error (a full disk), which the run's own thread raises at its next check."""
        if self._watcher is not None:
            return

        def loop() -> None:
            while not self._watch_stop.wait(interval):
                try:
                    if not self.owns_run():  # taken over: the run's thread raises at its check
                        return
                    self.poll()
                except OSError as exc:  # not on a side thread: see run_machine_checks
                    self._watch_failure = exc
                    return

        self._watcher = threading.Thread(target=loop, name="qtrain-control", daemon=True)
        self._watcher.start()

    def poll(self) -> None:
        """Read and acknowledge the commands sent since the last poll (counted in
        :attr:`checks` and :attr:`check_seconds`, the control plane's cost)."""
        start = time.perf_counter()
        with self._poll_lock:
            self._poll()
            self.checks += 1
            self.check_seconds += time.perf_counter() - start

    def _poll(self) -> None:
        for item in self.channel.receive():
            if isinstance(item, BadLine):
                self._ack(None, "?", "rejected", reason=item.reason)
                continue
            reason = self._handle(item)
            self._ack(item.id, item.command, "rejected" if reason else "accepted", reason=reason)
            if reason is None and item.command == "resume" and not self._holding:
                self._ack(item.id, "resume", "done")  # a pause not yet reached: cancelled

    def _handle(self, command: Command) -> str | None:
        """Apply one command; returns why it was rejected (None: accepted)."""
        args = command.args
        if command.command == "pause":
            after = str(args.get("after", "trial"))
            if after not in ("trial", "cycle", "now"):
                return f"pause after {after!r}: use trial, cycle or now"
            if self.status.state == "paused":
                return "the run is already paused"
            self.pause_after, self._pause_id = after, command.id
            self.set_state("pausing", reason=f"pause after {after} requested by {command.who}")
            return None
        if command.command == "resume":
            if self.pause_after is None:
                return f"the run is {self.status.state}, not paused"
            self.pause_after, self._resume_id = None, command.id
            return None
        if command.command == "stop":
            mode = "abort" if args.get("abort") else "stop"
            self.request_stop(mode, f"{mode} requested by {command.who}")
            self.set_state("stopping", reason=f"{mode} requested by {command.who}")
            return None
        if command.command in ("approve", "reject"):
            return self._take_decision(command)
        if self.validate is None:
            return "this run takes no settings"
        try:
            self.settings.update(self.validate(dict(args)))
        except ValueError as exc:
            return str(exc)
        self._set_ids.append(command.id)
        return None

    def _take_decision(self, command: Command) -> str | None:
        """Queue an ``approve``/``reject`` of the pending decision (guided mode); the first of
        two racing deciders wins, the second is refused by the decision's version."""
        decision = self.decision
        if decision is None:
            return f"the run waits for no decision (it is {self.status.state})"
        version = command.args.get("version", decision["version"])
        if version != decision["version"]:
            return f"stale decision version {version}: it is at version {decision['version']}"
        if self.decide_check is not None:
            try:
                self.decide_check(dict(command.args, command=command.command))
            except ValueError as exc:
                return str(exc)
        decision["version"] += 1  # a racing decider with the old version is refused
        self.decisions.append(command)
        return None

    def acknowledge(self, command: Command, outcome: str, **fields: Any) -> None:
        """Acknowledge a queued command's outcome (``done`` or ``rejected``)."""
        self._ack(command.id, command.command, outcome, **fields)

    def _ack(self, command_id: str | None, command: str, outcome: str, **fields: Any) -> None:
        if command_id is None and outcome == "done":
            return
        self.events.emit("control", id=command_id, command=command, outcome=outcome, **fields)
