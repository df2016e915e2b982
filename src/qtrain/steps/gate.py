"""The gate between cycles: its single output decides whether the next cycle runs.

It says stop when early stopping decided so, and, for a controllable run (see
:mod:`qtrain.steps.run_control`), when the run's control channel holds a ``stop`` or a
``pause`` (or a ``set`` of ``early_stopping.max_cycles`` that is reached): the command is
acknowledged and recorded for the export step, which reports ``stopped`` or ``paused``.
"""

from __future__ import annotations

from pathlib import Path

from qtrain.steps.state import parse_config_json, read_state


def should_continue(state_dir: Path, config_json: str | None = None) -> bool:
    """True when another cycle should run: no stop decision, no stop or pause command."""
    state = read_state(state_dir)
    if state.stop:
        return False
    if config_json is None:
        return True
    from qtrain.steps.run_control import gate_commands

    return gate_commands(parse_config_json(config_json), state) is None


def decided(proposals: list) -> bool:
    """Guided mode: whether the propose step returned decided trials (none: the run ended
    while it waited for the decision, and exports)."""
    return bool(proposals)
