"""The runner's control: commands read at safe points, acted on, and acknowledged."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from qtrain.config import load_config
from qtrain.control.channel import ControlChannel
from qtrain.control.controller import RunController, StopRequested
from qtrain.control.folder import ControlFolder
from qtrain.control.settings import apply_settings
from qtrain.control.status import RunStatus, read_status
from qtrain.errors import InfrastructureError
from qtrain.events import EventLog, read_events


def _controller(tmp_path: Path, **kwargs: Any) -> tuple[RunController, ControlChannel]:
    folder = ControlFolder.of(tmp_path)
    events = EventLog(tmp_path / "events.jsonl")
    controller = RunController(folder, events, RunStatus("running", run_id="r"), **kwargs)
    return controller, ControlChannel(folder.commands)


def _acks(tmp_path: Path) -> list[tuple[str, str]]:
    events = read_events(tmp_path / "events.jsonl")
    return [(e["command"], e["outcome"]) for e in events if e["type"] == "control"]


def _states(tmp_path: Path) -> list[str]:
    return [e["state"] for e in read_events(tmp_path / "events.jsonl") if e["type"] == "state"]


def test_pause_after_trial_holds_until_resume(tmp_path: Path) -> None:
    controller, channel = _controller(tmp_path)
    channel.send("pause", after="trial")
    assert controller.check("step") == "continue"
    assert read_status(ControlFolder.of(tmp_path)).state == "pausing"  # type: ignore[union-attr]
    timer = threading.Timer(0.5, lambda: channel.send("resume"))
    timer.start()
    start = time.monotonic()
    controller.check("trial")  # holds here
    assert time.monotonic() - start >= 0.4
    assert _states(tmp_path) == ["running", "pausing", "paused", "running"]
    assert _acks(tmp_path) == [
        ("pause", "accepted"), ("pause", "done"), ("resume", "accepted"), ("resume", "done"),
    ]  # fmt: skip


def test_pause_after_cycle_does_not_hold_at_a_trial(tmp_path: Path) -> None:
    controller, channel = _controller(tmp_path)
    channel.send("pause", after="cycle")
    assert controller.check("trial") == "continue"
    threading.Timer(0.3, lambda: channel.send("resume")).start()
    controller.check("cycle")
    assert "paused" in _states(tmp_path)


def test_pause_now_suspends_at_the_next_step(tmp_path: Path) -> None:
    controller, channel = _controller(tmp_path)
    channel.send("pause", after="now")
    assert controller.check("step") == "suspend"


def test_stop_is_graceful_and_abort_is_at_once(tmp_path: Path) -> None:
    controller, channel = _controller(tmp_path)
    channel.send("stop")
    assert controller.check("step") == "suspend"
    with pytest.raises(StopRequested) as stop:
        controller.check("trial")
    assert stop.value.mode == "stop" and stop.value.exit_code == 0
    channel.send("stop", abort=True)
    with pytest.raises(StopRequested) as abort:
        controller.check("step")
    assert abort.value.mode == "abort"


def test_stop_while_paused_ends_the_hold(tmp_path: Path) -> None:
    controller, channel = _controller(tmp_path)
    channel.send("pause", after="trial")
    threading.Timer(0.3, lambda: channel.send("stop")).start()
    with pytest.raises(StopRequested):
        controller.check("trial")
    assert _states(tmp_path)[-1] == "stopping"


def test_signals_request_a_stop_without_the_channel(tmp_path: Path) -> None:
    controller, _ = _controller(tmp_path)
    controller.request_stop("stop", "SIGTERM", exit_code=143)
    assert controller.check("step") == "suspend"
    with pytest.raises(StopRequested) as stop:
        controller.check("cycle")
    assert stop.value.exit_code == 143 and stop.value.reason == "SIGTERM"


def test_bad_commands_are_rejected_and_the_run_goes_on(tmp_path: Path) -> None:
    controller, channel = _controller(tmp_path)
    channel.send("resume")
    channel.send("pause", after="lunch")
    with channel.path.open("a", encoding="utf-8") as handle:
        handle.write("garbage\n")
    assert controller.check("trial") == "continue"
    events = [e for e in read_events(tmp_path / "events.jsonl") if e["type"] == "control"]
    assert [e["outcome"] for e in events] == ["rejected"] * 3
    assert "not paused" in events[0]["reason"] and "use trial, cycle or now" in events[1]["reason"]
    assert "no command" in events[2]["reason"]


def test_set_is_validated_then_taken_at_the_next_cycle(tmp_path: Path) -> None:
    config = load_config("configs/tiny.yaml")

    def validate(args: dict[str, Any]) -> dict[str, Any]:
        apply_settings(config, args)
        return args

    controller, channel = _controller(tmp_path, validate=validate)
    channel.send("set", **{"early_stopping.max_cycles": "9"})
    channel.send("set", **{"training.learning_rate": "1"})
    controller.check("trial")
    assert _acks(tmp_path) == [("set", "accepted"), ("set", "rejected")]
    assert controller.take_settings() == {"early_stopping.max_cycles": "9"}
    assert _acks(tmp_path)[-1] == ("set", "done") and controller.take_settings() == {}


def test_progress_is_written_at_most_once_a_second(tmp_path: Path) -> None:
    controller, _ = _controller(tmp_path)
    folder = ControlFolder.of(tmp_path)
    controller.progress(cycle=1, trial=0)
    controller.progress(step=1)
    assert read_status(folder).step is None  # type: ignore[union-attr]
    controller.progress(trial=1)
    status = read_status(folder)
    assert status is not None and status.step == 1 and status.trial == 1


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (OSError(5, "Input/output error", "control/lock.json"), "I/O error on the run's"),
        (OSError(13, "Permission denied", "control/lock.json"), "OS error on the run's"),
    ],
)
def test_every_safe_point_runs_the_machine_checks_first(
    error: OSError, said: str, tmp_path: Path
) -> None:
    """A machine failure met on a side thread (the lock's heartbeat) stops the run at the
    next step, trial or cycle check, as the machine's failure whatever its errno: inside a
    trial, it must never become a failed trial."""
    controller, _ = _controller(tmp_path)
    failures = [error]

    def heartbeat_failed() -> None:
        if failures:
            raise failures.pop()

    controller.machine_checks.append(heartbeat_failed)
    with pytest.raises(InfrastructureError, match=said) as stopped:
        controller.check("step")
    assert "control/lock.json" in str(stopped.value) and stopped.value.__cause__ is error
    assert controller.check("step") == "continue"  # raised once


def _hold_limit(calls: int) -> Callable[[float], None]:
    """A ``sleep`` for hold loops that fails the test instead of spinning forever."""
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        if len(slept) > calls:
            raise AssertionError(f"still holding after {calls} polls")

    return sleep


def test_a_machine_failure_while_paused_ends_the_hold(tmp_path: Path) -> None:
    """A paused run whose lock can no longer be refreshed would look abandoned to a second
    writer: the failure stops the run during the hold, not after a resume."""
    controller, channel = _controller(tmp_path, sleep=_hold_limit(50))
    polls: list[int] = []

    def heartbeat_fails_on_the_third_poll() -> None:
        polls.append(1)
        if len(polls) == 3:
            raise OSError(28, "No space left on device", "control/lock.json")

    channel.send("pause", after="trial")
    controller.check("step")
    controller.machine_checks.append(heartbeat_fails_on_the_third_poll)
    with pytest.raises(InfrastructureError, match="disk full on the run's control files"):
        controller.check("trial")  # holds: no resume ever comes
    assert "paused" in _states(tmp_path) and len(polls) == 3


def test_an_io_error_on_the_watcher_thread_is_raised_by_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The watcher acknowledges commands between safe points; a disk failing under it must
    stop the run at its next check, not die as a traceback on a side thread."""
    controller, _ = _controller(tmp_path)
    died: list[threading.ExceptHookArgs] = []
    monkeypatch.setattr(threading, "excepthook", died.append)

    def disk_fails() -> list[Any]:
        raise OSError(5, "Input/output error", "control/commands.jsonl")

    monkeypatch.setattr(controller.channel, "receive", disk_fails)
    controller.watch(interval=0.01)
    assert controller._watcher is not None
    controller._watcher.join(timeout=5)
    assert not controller._watcher.is_alive() and not died
    with pytest.raises(InfrastructureError, match="commands.jsonl"):
        controller.check("step")
    monkeypatch.setattr(controller.channel, "receive", list)  # the disk is back
    assert controller.check("step") == "continue"  # raised once


def test_a_taken_over_runs_watcher_leaves_the_new_owners_commands_alone(tmp_path: Path) -> None:
    """A process that stalled past the lock's staleness and was taken over must not
    acknowledge the commands sent to the new owner when it wakes, nor go on running."""
    import json

    from qtrain.agent.control_hooks import guard_with_lock
    from qtrain.control.lock import RunBusyError, RunLock

    controller, channel = _controller(tmp_path)
    lock = RunLock(tmp_path / "control" / "lock.json", run="run r", heartbeat_s=60)
    lock.acquire()  # its heartbeat will not beat during the test: only the watcher looks
    try:
        guard_with_lock(controller, lock)
        channel.send("pause", after="cycle")
        controller.watch(interval=0.01)
        deadline = time.monotonic() + 5
        while not _acks(tmp_path) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert _acks(tmp_path) == [("pause", "accepted")]  # still the owner: acknowledged
        now = time.time()
        newcomer = {"pid": 4242, "host": "other-host", "started": now, "heartbeat": now}
        lock.path.write_text(json.dumps(newcomer), "utf-8")  # the takeover
        assert controller._watcher is not None
        controller._watcher.join(timeout=5)
        assert not controller._watcher.is_alive()  # it stopped reading commands
        assert lock.lost_to == "process 4242 on other-host"
        channel.send("stop")  # the new owner's
        with pytest.raises(RunBusyError, match="took over its lock"):
            controller.check("step")
        assert _acks(tmp_path) == [("pause", "accepted")]
    finally:
        controller.finish("stopped", None, record=False)
        lock.release()
    assert json.loads(lock.path.read_text("utf-8")) == newcomer


def test_a_taken_over_run_reads_its_lock_before_the_new_owners_commands(tmp_path: Path) -> None:
    """Woken from a stall, the run's own thread may reach a step before the heartbeat or
    the watcher notice the takeover: the step's check reads the lock first."""
    import json

    from qtrain.agent.control_hooks import guard_with_lock
    from qtrain.control.lock import RunBusyError, RunLock

    controller, channel = _controller(tmp_path)
    lock = RunLock(tmp_path / "control" / "lock.json", run="run r", heartbeat_s=60)
    lock.acquire()  # no heartbeat and no watcher during the test
    try:
        guard_with_lock(controller, lock)
        assert controller.check("step") == "continue"
        now = time.time()
        newcomer = {"pid": 4242, "host": "other-host", "started": now, "heartbeat": now}
        lock.path.write_text(json.dumps(newcomer), "utf-8")  # taken over while stalled
        channel.send("stop")  # the new owner's
        with pytest.raises(RunBusyError, match="process 4242 on other-host took over"):
            controller.check("step")
        assert _acks(tmp_path) == []  # not acknowledged, not acted on
    finally:
        lock.release()
    assert json.loads(lock.path.read_text("utf-8")) == newcomer
