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

import functools
import time
import uuid
from typing import Any

from qtrain.agent.runner import Runner
from qtrain.control import StopRequested
from qtrain.control import decision as shared
from qtrain.control.channel import Command
from qtrain.control.folder import ControlFolder
from qtrain.cycle import CyclePlan
from qtrain.rundir import write_json_atomic

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
            plan, event = shared.approved(agent.config, plan, command, decision, rejected)
            events.emit("decision", **event)
            controller.acknowledge(command, "done")
            controller.decision = None
            folder.decision.unlink(missing_ok=True)
            controller.set_state("running")
            return plan
        fresh = shared.repropose(engine, plan, command.args)
        if len(fresh) < len(shared.slots(plan, command.args)):
            controller.acknowledge(command, "rejected", reason="the proposer has no other points")
            continue
        plan, event = shared.rejected_plan(plan, command, fresh, decision, rejected)
        events.emit("decision", **event)
        controller.acknowledge(command, "done")
        rejections += 1
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
    limit = agent.config.guided.max_rejections
    pending = shared.pending_record(decision, plan, deadline, rejections, limit)
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
        controller.run_machine_checks()  # a lock left stale would look abandoned
        controller.poll()
        if controller.stop_requested:
            raise StopRequested(*controller.stop_requested)
        if controller.pause_after is not None:
            controller.check("trial")  # holds until resume, still waiting for the decision
            controller.set_state("waiting-for-decision", reason="resumed")
    return controller.decisions.pop(0)


def _check(agent: Runner, plan: CyclePlan, args: dict[str, Any], *, rejections: int) -> None:
    """``ValueError`` (one line) unless the decision command applies to ``plan``."""
    proposals = [(t.trial, t.params) for t in plan.trials]
    shared.check(agent.config, proposals, args, rejections)
