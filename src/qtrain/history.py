"""The record of every finished trial, persisted as ``history.jsonl``."""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from qtrain.errors import QtrainError


@dataclass
class TrialRecord:
    """One trial: where it started, what it tried, what it measured, where its checkpoint is.

    ``status`` is ``completed``, ``failed`` (it crashed: ``error`` says why) or ``halved``
    (successive halving stopped it after its rung: ``metrics`` are the rung's eval loss).
    """

    cycle: int
    trial: int
    params: dict[str, Any]
    start_checkpoint: str | None
    checkpoint: str | None
    steps: int
    metrics: dict[str, float]
    train: dict[str, float] = field(default_factory=dict)
    proposal: dict[str, Any] = field(default_factory=dict)
    status: str = "completed"
    error: str | None = None
    rung: dict[str, float] = field(default_factory=dict)
    """Successive halving: the trial's ``steps`` and ``eval_loss`` after its short rung."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return asdict(self)

    def checked(self) -> TrialRecord:
        """This record, or, when a completed trial measured a non-finite metric (it diverged),
        a failed one saying so: no NaN or infinity reaches selection, the surrogate, or a
        pipeline step's outputs (a cluster's launcher refuses them in its JSON)."""
        bad = sorted(k for k, v in self.metrics.items() if not math.isfinite(float(v)))
        if self.status != "completed" or not bad:
            return self
        what = ", ".join(f"{k} {self.metrics[k]}" for k in bad)
        return replace(
            self, status="failed", checkpoint=None, metrics={}, error=f"diverged: {what}"
        )


class History:
    """All trials of a run in order, appended to a JSONL file as they finish."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.records: list[TrialRecord] = []

    def add(self, record: TrialRecord) -> None:
        """Append a record (and persist it when the history has a file)."""
        self.records.append(record)
        if self.path is not None:
            _cut_torn_tail(self.path)
            with self.path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(record.to_dict()) + "\n")
                f.flush()
                os.fsync(f.fileno())  # durable before anything that relies on it

    def cycle(self, cycle: int) -> list[TrialRecord]:
        """The trials of one cycle."""
        return [r for r in self.records if r.cycle == cycle]

    def completed(self) -> list[TrialRecord]:
        """Trials that finished and were evaluated."""
        return [r for r in self.records if r.status == "completed"]

    @classmethod
    def load(cls, path: Path) -> History:
        """Read a persisted history (new records keep appending to the same file)."""
        history = cls(path)
        if not path.is_file():
            return history
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                history.records.append(TrialRecord(**json.loads(line)))
            except (ValueError, TypeError) as exc:
                if number == len(lines) and not text.endswith("\n"):
                    break  # cut short by a crash or a full disk: that record was never written
                raise QtrainError(
                    f"{path} line {number} is not a trial record ({exc}); restore the file "
                    "from a copy (each line is one finished trial)"
                ) from None
        return history


def _cut_torn_tail(path: Path) -> None:
    """Make the next record start on a line of its own: bytes after the last newline are a
    record a crash or a full disk cut short (never written: dropped, as :meth:`History.load`
    drops them), or a whole record whose newline was lost (kept: the newline is added)."""
    try:
        with path.open("r+b") as handle:
            size = handle.seek(0, os.SEEK_END)
            if size == 0 or (handle.seek(size - 1) >= 0 and handle.read(1) == b"\n"):
                return
            handle.seek(0)
            data = handle.read()
            end = data.rfind(b"\n") + 1
            try:
                TrialRecord(**json.loads(data[end:]))
            except (ValueError, TypeError):
                handle.truncate(end)
            else:
                handle.write(b"\n")
    except FileNotFoundError:
        return
