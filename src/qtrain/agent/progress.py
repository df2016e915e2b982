"""A trainer callback that turns TRL/transformers logging into qtrain events."""

from __future__ import annotations

from typing import Any

from transformers import TrainerCallback

from qtrain.events import EventLog


class EventCallback(TrainerCallback):
    """Emits ``step`` events (loss, learning rate) for one trial."""

    def __init__(self, events: EventLog, cycle: int, trial: int, total_steps: int) -> None:
        self.events = events
        self.cycle = cycle
        self.trial = trial
        self.total_steps = total_steps

    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        """Forward the trainer's periodic log (skipping the end-of-train summary)."""
        if not logs or "loss" not in logs:
            return
        self.events.emit(
            "step",
            cycle=self.cycle,
            trial=self.trial,
            step=state.global_step,
            total_steps=self.total_steps,
            loss=float(logs["loss"]),
            learning_rate=float(logs.get("learning_rate", 0.0)),
        )
