"""Failpoints: faults injected at named points, for the fault-injection suite and benchmark.

Off unless ``$QTRAIN_FAILPOINTS`` is set (as etcd's gofail or TiKV's fail-rs do), to a comma
list of the following; it reaches every engine (a local pipeline's steps inherit it, in
containers too):

- ``nan@C.T.S``: after optimizer step S of cycle C's trial T, the trainable weights become
  NaN (the loss diverges from there, as a bad learning rate makes it);
- ``raise@C.T.S``: that step raises ``RuntimeError`` (a crash caused by the trial);
- ``solver-outage``: the first solver of the chain fails on every call (an Azure outage).

Everything else (signals, a full disk, storage errors) is injected from outside the process.
"""

from __future__ import annotations

import functools
import os
from typing import Any

ENV = "QTRAIN_FAILPOINTS"


class InjectedFault(RuntimeError):
    """A fault a failpoint raised on purpose."""


@functools.cache
def _active(spec: str) -> frozenset[tuple[str, tuple[int, ...]]]:
    points = set()
    for item in filter(None, (part.strip() for part in spec.split(","))):
        kind, _, where = item.partition("@")
        try:
            position = tuple(int(n) for n in where.split(".")) if where else ()
        except ValueError:
            raise ValueError(
                f"${ENV}: bad failpoint {item!r} (want kind@cycle.trial.step)"
            ) from None
        points.add((kind, position))
    return frozenset(points)


def active() -> frozenset[tuple[str, tuple[int, ...]]]:
    """The failpoints ``$QTRAIN_FAILPOINTS`` names (empty when unset)."""
    return _active(os.environ.get(ENV, ""))


def training_step(model: Any, cycle: int, trial: int, step: int) -> None:
    """Fire ``nan@`` or ``raise@`` failpoints set for this step."""
    points = active()
    if not points:
        return
    where = (cycle, trial, step)
    if ("raise", where) in points:
        raise InjectedFault(f"injected fault at cycle {cycle} trial {trial} step {step}")
    if ("nan", where) in points and model is not None:
        import torch

        with torch.no_grad():
            for parameter in model.parameters():
                if parameter.requires_grad:
                    parameter.fill_(float("nan"))


def step_callback(cycle: int, trial: int) -> Any:
    """A ``TrainerCallback`` that fires :func:`training_step` after each optimizer step of
    cycle ``cycle``'s trial ``trial``."""
    from transformers import TrainerCallback

    class FailpointCallback(TrainerCallback):  # type: ignore[misc]
        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            training_step(kwargs.get("model"), cycle, trial, state.global_step)

    return FailpointCallback()


def solver_call(position: int) -> None:
    """Fire ``solver-outage`` for the chain's first solver (``position`` 0)."""
    if position == 0 and ("solver-outage", ()) in active():
        raise InjectedFault("injected solver outage (the service did not answer)")
