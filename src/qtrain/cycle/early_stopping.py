"""When to stop the cycle loop: patience, min_delta, max_cycles and an optional target."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from qtrain.config.schema import RunConfig


@dataclass(frozen=True)
class StopDecision:
    """Whether to stop, and why (``None`` while the loop goes on)."""

    stop: bool
    reason: str | None = None


class EarlyStopping:
    """Tracks the best value per cycle; stops on target, max_cycles, or lost patience."""

    def __init__(
        self,
        patience: int,
        min_delta: float = 0.0,
        max_cycles: int = 10,
        target: float | None = None,
        direction: Literal["min", "max"] = "min",
    ) -> None:
        if patience < 1:
            raise ValueError("patience must be >= 1")
        if min_delta < 0:
            raise ValueError("min_delta must be >= 0")
        if max_cycles < 1:
            raise ValueError("max_cycles must be >= 1")
        self.patience = patience
        self.min_delta = min_delta
        self.max_cycles = max_cycles
        self.target = target
        self.direction = direction
        self.best: float | None = None
        self.cycles_without_improvement = 0
        self.cycles_seen = 0

    @classmethod
    def from_config(cls, config: RunConfig) -> EarlyStopping:
        """The ``early_stopping`` section, on the selection metric's direction."""
        stopping = config.early_stopping
        return cls(
            patience=stopping.patience,
            min_delta=stopping.min_delta,
            max_cycles=stopping.max_cycles,
            target=stopping.target,
            direction=config.selection_direction,
        )

    def improves(self, value: float, reference: float | None) -> bool:
        """Whether ``value`` beats ``reference`` by more than ``min_delta``."""
        if reference is None:
            return True
        if self.direction == "min":
            return value < reference - self.min_delta
        return value > reference + self.min_delta

    def update(self, cycle_best: float) -> StopDecision:
        """Feed the best selection-metric value of the cycle just finished."""
        self.cycles_seen += 1
        if not math.isfinite(cycle_best):
            self.cycles_without_improvement += 1
        elif self.improves(cycle_best, self.best):
            self.best = cycle_best
            self.cycles_without_improvement = 0
        else:
            self.cycles_without_improvement += 1
        if self.target is not None and self.best is not None and self._reached(self.best):
            return StopDecision(True, f"target {self.target:g} reached ({self.best:.4g})")
        if self.cycles_without_improvement >= self.patience:
            return StopDecision(
                True, f"no improvement > {self.min_delta:g} for {self.patience} cycle(s)"
            )
        if self.cycles_seen >= self.max_cycles:
            return StopDecision(True, f"max_cycles {self.max_cycles} reached")
        return StopDecision(False)

    def _reached(self, value: float) -> bool:
        assert self.target is not None
        return value <= self.target if self.direction == "min" else value >= self.target
