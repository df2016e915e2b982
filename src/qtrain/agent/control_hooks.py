"""Where the in-process runner meets its control plane: the trainer callback that checks
the command channel after every optimizer step, the run lock's checks, the signal handlers,
and the suspended trial's saved trainer state.

Signals (documented in docs/control.md): the first Ctrl-C (SIGINT) or a SIGTERM asks for a
graceful stop, like ``qtrain stop`` (the running trial is saved mid-way, the report says
``stopped``; exit 130 or 143); a second Ctrl-C aborts at once (exit 130).
"""

from __future__ import annotations

import json
import shutil
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from transformers import TrainerCallback

from qtrain.control import RunController, RunLock
from qtrain.control.folder import ControlFolder
from qtrain.cycle import TrialPlan
from qtrain.events import EventLog
from qtrain.rundir import json_default, write_json_atomic
from qtrain.training.segment import Segment, TrialSuspended

SIGINT_EXIT = 130
SIGTERM_EXIT = 143


class ControlCallback(TrainerCallback):
    """After each optimizer step: read commands, keep the status' step, save and stop the
    trial when the run is to be held mid-trial or stopped."""

    def __init__(self, controller: RunController, cycle: int, trial: int, steps: int) -> None:
        self.controller = controller
        self.cycle, self.trial, self.steps = cycle, trial, steps

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Check the channel; on ``suspend`` ask the trainer to save its state and stop."""
        self.controller.progress(step=state.global_step, total_steps=self.steps)
        if self.controller.check("step") == "suspend":
            control.should_save = True
            control.should_training_stop = True


def guard_with_lock(controller: RunController, lock: RunLock) -> None:
    """The run goes on only while it holds ``lock``: every safe point reads the lock (a
    process that wakes from a stall sees a takeover before it reads or acknowledges a
    command) and raises what the heartbeat met (a failed write); the command watcher reads
    commands only while the lock is still this process's."""

    def check_lock() -> None:
        lock.holds()  # sets lock.lost_to on a takeover, which raise_failure raises
        lock.raise_failure()

    controller.machine_checks.append(check_lock)
    controller.owns_run = lock.holds


@contextmanager
def stop_on_signals(controller: RunController) -> Iterator[None]:
    """While the run is in this block, SIGINT/SIGTERM request a stop (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    interrupts = 0

    def on_sigint(signum: int, frame: Any) -> None:
        nonlocal interrupts
        interrupts += 1
        if interrupts >= 2:
            controller.request_stop("abort", "aborted: Ctrl-C twice", SIGINT_EXIT)
            raise KeyboardInterrupt
        controller.request_stop("stop", "stopped: Ctrl-C", SIGINT_EXIT)

    def on_sigterm(signum: int, frame: Any) -> None:
        controller.request_stop("stop", "stopped: SIGTERM", SIGTERM_EXIT)

    previous = {
        signal.SIGINT: signal.signal(signal.SIGINT, on_sigint),
        signal.SIGTERM: signal.signal(signal.SIGTERM, on_sigterm),
    }
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextmanager
def best_effort(when: bool) -> Iterator[None]:
    """``when``, an OS error inside is ignored: a record that must not hide, by failing on
    the same full disk, why the run stopped."""
    try:
        yield
    except OSError:
        if not when:
            raise


@contextmanager
def shielded() -> Iterator[None]:
    """While the run writes its report and releases its lock, Ctrl-C and SIGTERM wait
    (a second Ctrl-C right after the first must not leave a run without its report)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def save_suspended(
    folder: ControlFolder, trial: TrialPlan, suspended: TrialSuspended, events: EventLog
) -> Segment:
    """Move a suspended trial's trainer state into the control folder, record it there and
    announce it (``trial_suspended``)."""
    segment = suspended.segment
    target = folder.suspended_dir / trial.name / segment.checkpoint.name
    if target.exists():
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(segment.checkpoint), str(target))
    saved = Segment(target, segment.steps, segment.summary)
    record = {**_identity(trial), **saved.to_dict()}
    write_json_atomic(folder.suspended, record)
    events.emit("trial_suspended", cycle=trial.cycle, trial=trial.trial, step=saved.steps)
    return saved


def clear_suspended(folder: ControlFolder) -> None:
    """Forget a suspended trial (it finished, or its cycle restarts)."""
    folder.suspended.unlink(missing_ok=True)
    shutil.rmtree(folder.suspended_dir, ignore_errors=True)


def suspended_segment(folder: ControlFolder, trial: TrialPlan) -> Segment | None:
    """The saved segment of ``trial``, if it was suspended: the same cycle and trial with the
    same settings, start and length (a trial planned anew after a resume starts over)."""
    try:
        record = json.loads(folder.suspended.read_text(encoding="utf-8"))
        segment = Segment.from_dict(record)
    except (OSError, ValueError, TypeError, KeyError):
        return None
    if {key: record.get(key) for key in _identity(trial)} != _identity(trial):
        return None
    return segment if segment.checkpoint.is_dir() else None


def _identity(trial: TrialPlan) -> dict[str, Any]:
    """What a saved segment must match to continue ``trial`` (as JSON holds it)."""
    fields = {"cycle": trial.cycle, "trial": trial.trial, "params": trial.params,
              "start_checkpoint": trial.start_checkpoint, "trial_steps": trial.steps}  # fmt: skip
    return json.loads(json.dumps(fields, default=json_default))  # as suspended.json holds it
