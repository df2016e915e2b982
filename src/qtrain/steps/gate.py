"""The early-stopping gate between cycles: its single output decides whether the next runs."""

from __future__ import annotations

from pathlib import Path

from qtrain.steps.state import read_state


def should_continue(state_dir: Path) -> bool:
    """True when the run state says another cycle should run (no stop decision yet)."""
    return not read_state(state_dir).stop
