"""``qtrain set`` in the in-process runner: check settings when sent, apply them at the
cycle's decision (config, engine, ``config.yaml``, a ``settings`` event with the diff)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from qtrain.control.settings import apply_settings as applied
from qtrain.control.settings import settings_diff

if TYPE_CHECKING:
    from qtrain.agent.runner import Runner


def check_settings(agent: Runner, settings: dict[str, Any]) -> dict[str, Any]:
    """Whether ``settings`` (with those still pending) apply to the run's config; else
    ``ValueError`` naming the key. Returns them unchanged."""
    pending = dict(agent.controller.settings) if agent.controller else {}
    applied(agent.config, {**pending, **settings})
    return settings


def apply_settings(agent: Runner) -> None:
    """Take the settings sent since the last cycle: the config, the engine, config.yaml."""
    controller, engine, run_dir, events = (
        agent.controller,
        agent.engine,
        agent.run_dir,
        agent.events,
    )
    assert controller is not None and engine is not None and run_dir is not None
    assert events is not None
    settings = controller.take_settings()
    if not settings:
        return
    updated = applied(agent.config, settings)
    diff = settings_diff(agent.config, updated, list(settings))
    agent.config = updated
    engine.reconfigure(updated)
    run_dir.write_config(updated.model_dump(mode="json"))  # a resumed run keeps them
    controller.status = controller.status.but(max_cycles=updated.early_stopping.max_cycles)
    events.emit("settings", cycle=engine.cycle + 1, diff=diff)
