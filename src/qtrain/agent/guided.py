"""Guided mode (``runtime.mode: guided``): a person approves, edits or rejects each cycle's
proposals before any compute is spent on them.

The planned cycle becomes a pending decision (``control/decision.json``: id, version,
deadline, the proposals with the solver that produced them) and the run waits in state
``waiting-for-decision``. ``qtrain approve RUN [--set key=value] [--trial N]`` and ``qtrain
reject RUN [--trial N] [--reason ...]`` (or the interactive prompt of ``qtrain run``, which
sends the same commands) decide through the control channel. An edit is checked by the
config schema; a value outside the search space's levels still runs, is marked
``off_grid`` and is not told to the optimizer. A rejection asks the optimizer for other
points (the rejected ones stay excluded). Every decision is a ``decision`` event (who, what,
the diff): the audit trail; each trial's proposal metadata says ``guided``: proposed,
approved or edited, by whom, and what was rejected for its slot.
"""

from __future__ import annotations

import dataclasses
import functools
import time
import uuid
from typing import Any

from qtrain.agent.runner import Runner
from qtrain.control import StopRequested
from qtrain.control.channel import Command
from qtrain.control.folder import ControlFolder
from qtrain.control.settings import parse_value
from qtrain.cycle import CyclePlan, TrialPlan
from qtrain.errors import ConfigError
from qtrain.rundir import write_json_atomic
from qtrain.training.params import apply_params

POLL_S = 0.2


def decide_plan(agent: Runner, plan: CyclePlan) -> CyclePlan:
    """Wait for a person's decision on ``plan``; returns the plan to run (approved, edited,
    or re-proposed after rejections)."""
    controller, events, engine = agent.controller, agent.events, agent.engine
    assert controller is not None and events is not None and engine is not None
    assert agent.run_dir is not None
    folder, guided = ControlFolder.of(agent.run_dir.root), agent.config.guided
    decision: dict[str, Any] = {"id": uuid.uuid4().hex[:12], "version": 1, "cycle": plan.cycle}
    rejections, rejected = 0, {t.trial: [] for t in plan.trials}
    while True:
        deadline = time.time() + guided.deadline_s if guided.deadline_s else None
        _publish(agent, folder, plan, decision, deadline, rejections)
        controller.decide_check = functools.partial(_check, agent, plan, rejections=rejections)
        controller.decision = decision
        command = _wait(agent, deadline)
        if command is None:  # the deadline passed
            limit = guided.max_rejections
            if guided.on_deadline == "wait" or (
                guided.on_deadline == "reject" and rejections >= limit
            ):
                continue
            if guided.on_deadline == "pause":
                controller.pause_after = "trial"
                controller.check("trial")  # holds until resume (or raises on stop)
                continue
            command = Command(guided.on_deadline, {}, who="deadline")
        if command.command == "approve":
            plan = _approve(agent, plan, command, decision, rejected)
            controller.decision = None
            folder.decision.unlink(missing_ok=True)
            controller.set_state("running")
            return plan
        slots = _slots(plan, command)
        fresh = engine.repropose(len(slots))
        if len(fresh) < len(slots):
            controller.acknowledge(command, "rejected", reason="the proposer has no other points")
            continue
        new_trials = list(plan.trials)
        for index, proposal in zip(slots, fresh, strict=True):
            old = plan.trials[index]
            rejected[old.trial].append(old.params)
            new_trials[index] = dataclasses.replace(
                old, params=proposal.params, metadata=proposal.metadata
            )
        events.emit(
            "decision", id=decision["id"], version=decision["version"], action="reject",
            who=command.who, trials=[plan.trials[i].trial for i in slots],
            reason=command.args.get("reason"),
            diff={str(plan.trials[i].trial): [plan.trials[i].params, new_trials[i].params]
                  for i in slots},
        )  # fmt: skip
        controller.acknowledge(command, "done")
        plan, rejections = CyclePlan(plan.cycle, plan.start_checkpoint, new_trials), rejections + 1
        engine.announce(plan)


def _publish(
    agent: Runner,
    folder: ControlFolder,
    plan: CyclePlan,
    decision: dict[str, Any],
    deadline: float | None,
    rejections: int,
) -> None:
    """Write the pending decision, announce it, and wait in ``waiting-for-decision``."""
    assert agent.controller is not None and agent.events is not None
    pending = {
        **decision, "deadline": deadline, "rejections": rejections,
        "max_rejections": agent.config.guided.max_rejections,
        "proposals": [{"trial": t.trial, "params": t.params, "metadata": t.metadata}
                      for t in plan.trials],
    }  # fmt: skip
    folder.root.mkdir(parents=True, exist_ok=True)
    write_json_atomic(folder.decision, pending)
    agent.events.emit("decision_pending", **pending)
    agent.controller.set_state("waiting-for-decision", reason=f"decision {decision['id']}")


def _wait(agent: Runner, deadline: float | None) -> Command | None:
    """The next queued decision command (None at the deadline); a stop raises, a pause holds."""
    controller = agent.controller
    assert controller is not None
    while not controller.decisions:
        if deadline is not None and time.time() >= deadline:
            return None
        time.sleep(POLL_S)
        controller.poll()
        if controller.stop_requested:
            raise StopRequested(*controller.stop_requested)
        if controller.pause_after is not None:
            controller.check("trial")  # holds until resume, still waiting for the decision
            controller.set_state("waiting-for-decision", reason="resumed")
    return controller.decisions.pop(0)


def _slots(plan: CyclePlan, command: Command) -> list[int]:
    """The plan indices a command names (``trials``; none: every trial)."""
    wanted = command.args.get("trials") or [t.trial for t in plan.trials]
    return [i for i, t in enumerate(plan.trials) if t.trial in wanted]


def _check(agent: Runner, plan: CyclePlan, args: dict[str, Any], *, rejections: int) -> None:
    """``ValueError`` (one line) unless the decision command applies to ``plan``."""
    trials = args.get("trials") or []
    known = {t.trial for t in plan.trials}
    if not isinstance(trials, list) or any(t not in known for t in trials):
        raise ValueError(f"trials {trials} are not all among this cycle's {sorted(known)}")
    if args["command"] == "reject":
        limit = agent.config.guided.max_rejections
        if rejections >= limit:
            raise ValueError(
                f"guided.max_rejections ({limit}) reached: approve, or edit and approve"
            )
        return
    for trial in plan.trials:
        if not trials or trial.trial in trials:
            _edited(agent, trial, args.get("set") or {})


def _edited(agent: Runner, trial: TrialPlan, edits: dict[str, Any]) -> dict[str, Any]:
    """The trial's params with ``edits``, checked by the schema (``ValueError`` naming the key)."""
    space = agent.config.search_space
    unknown = [key for key in edits if key not in space]
    if unknown:
        raise ValueError(
            f"edit {unknown[0]!r}: not a search-space parameter ({', '.join(space) or 'none'})"
        )
    params = {**trial.params, **{k: parse_value(v) for k, v in edits.items()}}
    try:
        apply_params(agent.config, params)
    except ConfigError as exc:
        raise ValueError(f"edit: {exc}") from None
    return params


def _approve(
    agent: Runner,
    plan: CyclePlan,
    command: Command,
    decision: dict[str, Any],
    rejected: dict[int, list[dict[str, Any]]],
) -> CyclePlan:
    """The approved plan: edits applied, every trial's metadata saying how it was decided."""
    assert agent.events is not None and agent.controller is not None
    slots = _slots(plan, command)
    edits = command.args.get("set") or {}
    trials, diff = [], {}
    for index, trial in enumerate(plan.trials):
        params = _edited(agent, trial, edits) if index in slots and edits else trial.params
        changed = {
            k: [trial.params.get(k), v] for k, v in params.items() if trial.params.get(k) != v
        }
        off_grid = any(
            v not in agent.config.search_space[k].values for k, v in params.items()
            if k in agent.config.search_space
        )  # fmt: skip
        guided = {"decision": "edited" if changed else "approved", "by": command.who,
                  "rejected": rejected.get(trial.trial, [])}  # fmt: skip
        metadata = {**trial.metadata, "guided": guided, **({"off_grid": True} if off_grid else {})}
        trials.append(dataclasses.replace(trial, params=params, metadata=metadata))
        if changed:
            diff[str(trial.trial)] = changed
    agent.events.emit(
        "decision", id=decision["id"], version=decision["version"],
        action="edit" if diff else "approve", who=command.who, diff=diff,
    )  # fmt: skip
    agent.controller.acknowledge(command, "done")
    return CyclePlan(plan.cycle, plan.start_checkpoint, trials)
