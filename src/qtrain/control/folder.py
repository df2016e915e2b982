"""A run's control folder: where its command channel, status, lock and suspended trial live."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from qtrain.rundir import (
    COMMANDS_FILE,
    CONTROL_DIR,
    DECISION_FILE,
    LOCK_FILE,
    STATUS_FILE,
    SUSPENDED_DIR,
    SUSPENDED_FILE,
)


@dataclass(frozen=True)
class ControlFolder:
    """A run's control channel: commands in, the run's status and its writer's lock out."""

    root: Path

    @classmethod
    def of(cls, run_root: Path) -> ControlFolder:
        """The control folder of the run directory ``run_root``."""
        return cls(Path(run_root) / CONTROL_DIR)

    @property
    def commands(self) -> Path:
        """``commands.jsonl``: append-only, one command per line (id, command, args, who, when)."""
        return self.root / COMMANDS_FILE

    @property
    def status(self) -> Path:
        """``status.json``: the run's state and progress, replaced atomically."""
        return self.root / STATUS_FILE

    @property
    def lock(self) -> Path:
        """``lock.json``: the one writer's pid, host and heartbeat."""
        return self.root / LOCK_FILE

    @property
    def decision(self) -> Path:
        """``decision.json``: guided mode's pending decision (id, version, proposals)."""
        return self.root / DECISION_FILE

    @property
    def suspended(self) -> Path:
        """``suspended.json``: the trial a pause or stop saved mid-way, and where."""
        return self.root / SUSPENDED_FILE

    @property
    def suspended_dir(self) -> Path:
        """The trainer state (adapter, optimizer, scheduler, RNG) of a trial saved mid-way."""
        return self.root / SUSPENDED_DIR
