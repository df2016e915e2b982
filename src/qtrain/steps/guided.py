"""Guided mode in a pipeline run: the propose step waits for a person's decision.

After planning the cycle, the propose step publishes the pending decision in the run's
control folder (``control/decision.json``, state ``waiting-for-decision``, a
``decision_pending`` event: the same as the in-process runner, :mod:`qtrain.control.decision`)
and reads the control channel every :data:`POLL_S` seconds. ``qtrain approve`` returns the
decided trials to train; ``qtrain reject`` asks the same optimizer for other points (the
rejected ones stay excluded: it is the same process) and publishes the next version. A
``stop`` or ``pause``, or the deadline, ends the run at this boundary: the step returns no
trials, the DAG exports, and the report says ``stopped`` or ``paused``
(``qtrain run --engine kfp-local --resume RUN`` continues it and asks again).

A pod must not hold a node forever: without ``guided.deadline_s`` a pipeline run waits
:data:`PIPELINE_DEADLINE_S`, and ``on_deadline: wait`` (or a ``reject`` past
``max_rejections``) pauses the run instead of waiting on.
"""

from __future__ import annotations

import functools
import time
import uuid
from typing import Any

from qtrain.config.schema import RunConfig
from qtrain.control import decision as shared
from qtrain.control.boundary import HALTS, Halt, ack, locked, take_commands
from qtrain.control.channel import Command
from qtrain.control.folder import ControlFolder
from qtrain.control.status import RunStatus, read_status, write_status
from qtrain.cycle import CycleEngine, CyclePlan, RunState, TrialPlan
from qtrain.errors import QtrainError
from qtrain.events import EventLog
from qtrain.rundir import HALT_FILE, RunDirectory, read_json, write_json_atomic
from qtrain.steps.run_control import control_store_kind, opened_control

#: How long a pipeline run waits for a decision when ``guided.deadline_s`` is unset.
PIPELINE_DEADLINE_S = 3600.0
POLL_S = 0.2
#: With an Azure Blob channel each read is several requests: read less often.
BLOB_POLL_S = 2.0


def deadline_policy(config: RunConfig) -> tuple[float, str]:
    """A pipeline run's seconds to wait for a decision, and what then (never ``wait``)."""
    guided = config.guided
    if guided.deadline_s is None:
        return PIPELINE_DEADLINE_S, "pause"
    return guided.deadline_s, "pause" if guided.on_deadline == "wait" else guided.on_deadline


class _Waiting:
    """One cycle's pending decision, as the propose step keeps it between two reads."""

    def __init__(self, config: RunConfig, engine: CycleEngine, plan: CyclePlan, state: RunState):
        self.config, self.engine, self.plan, self.state = config, engine, plan, state
        self.decision: dict[str, Any] = {
            "id": uuid.uuid4().hex[:12], "version": 1, "cycle": plan.cycle
        }  # fmt: skip
        self.rejections = 0
        self.rejected: dict[int, list[dict[str, Any]]] = {t.trial: [] for t in plan.trials}
        self.wait_s, self.on_deadline = deadline_policy(config)
        self.deadline = 0.0

    def publish(self, run_dir: RunDirectory, log: EventLog) -> None:
        """Write the pending decision (under the channel's lock) and wait for it."""
        folder = ControlFolder.of(run_dir.root)
        self.deadline = time.time() + self.wait_s
        limit = self.config.guided.max_rejections
        pending = shared.pending_record(
            self.decision, self.plan, self.deadline, self.rejections, limit
        )
        with locked(folder.commands):
            write_json_atomic(folder.decision, pending)
        log.emit("decision_pending", **pending)
        _state(folder, self.state, "waiting-for-decision", f"decision {self.decision['id']}")

    def step(self, run_dir: RunDirectory, log: EventLog) -> CyclePlan | bool | None:
        """One read of the channel: the decided plan, None (the run ends here: a halt is
        written), or False (still waiting)."""
        folder = ControlFolder.of(run_dir.root)
        review = functools.partial(shared.review_pending, self.config, folder.decision)
        compiled = self.config.early_stopping.max_cycles
        found = take_commands(folder.commands, run_dir.events_file, compiled, None, review)
        for command in found.pending:
            if command.command in HALTS:
                ack(log, command.id, command.command, "done")
                verb = "stop" if command.command == "stop" else "pause"
                reason = f"{verb} requested by {command.who} while cycle {self.plan.cycle} waited "
                return self._halt(run_dir, HALTS[command.command], reason + "for its decision",
                                  command)  # fmt: skip
            if command.command in shared.DECIDES:
                self.decision["version"] = read_json(folder.decision)["version"]
                return self._carry_out(run_dir, log, command)
        if time.time() < self.deadline:
            return False
        action = self.on_deadline
        if action == "reject" and self.rejections >= self.config.guided.max_rejections:
            action = "pause"
        if action == "pause":
            reason = (
                f"no decision on cycle {self.plan.cycle}'s proposals within {self.wait_s:g} s "
                "(guided.on_deadline: pause)"
            )
            return self._halt(run_dir, "paused", reason, Command("pause", who="deadline"))
        self.decision["version"] += 1
        return self._carry_out(run_dir, log, Command(action, {}, who="deadline"))

    def _carry_out(
        self, run_dir: RunDirectory, log: EventLog, command: Command
    ) -> CyclePlan | bool:
        """Approve (the decided plan) or reject (re-proposed and published again: False)."""
        folder = ControlFolder.of(run_dir.root)
        if command.command == "approve":
            plan, event = shared.approved(
                self.config, self.plan, command, self.decision, self.rejected
            )
            log.emit("decision", **event)
            self._done(log, command)
            folder.decision.unlink(missing_ok=True)
            _state(folder, self.state, "running", f"decision {self.decision['id']}: approved")
            return plan
        count = len(shared.slots(self.plan, command.args))
        fresh = shared.repropose(self.engine, self.plan, command.args)
        if len(fresh) < count:
            if command.who != "deadline":
                ack(log, command.id, command.command, "rejected",
                    reason="the proposer has no other points")  # fmt: skip
            self.publish(run_dir, log)
            return False
        self.plan, event = shared.rejected_plan(
            self.plan, command, fresh, self.decision, self.rejected
        )
        log.emit("decision", **event)
        self._done(log, command)
        self.rejections += 1
        self.publish(run_dir, log)
        return False

    @staticmethod
    def _done(log: EventLog, command: Command) -> None:
        if command.who != "deadline":  # a command of the channel: acknowledged there
            ack(log, command.id, command.command, "done")

    def _halt(self, run_dir: RunDirectory, status: str, reason: str, command: Command) -> None:
        """End the run at this boundary: ``control/halt.json`` for the export step."""
        folder = ControlFolder.of(run_dir.root)
        halt = Halt(status, reason, command.command, command.id, self.state.cycle)
        write_json_atomic(folder.root / HALT_FILE, halt.to_dict())
        folder.decision.unlink(missing_ok=True)
        _state(folder, self.state, "exporting", reason)
        return None


def _state(folder: ControlFolder, state: RunState, name: str, reason: str) -> None:
    status = read_status(folder) or RunStatus("running", state.run_id)
    write_status(folder, status.but(state=name, reason=reason, cycle=state.cycle))


def decide(
    config: RunConfig, engine: CycleEngine, plan: CyclePlan, state: RunState
) -> list[TrialPlan]:
    """The cycle's trials as a person decided them (``[]``: the run ends at this boundary)."""
    waiting = _Waiting(config, engine, plan, state)
    poll_s = BLOB_POLL_S if control_store_kind(config) == "blob" else POLL_S
    first = True
    while True:
        with opened_control(config, state.run_id) as run_dir:
            if run_dir is None:
                raise QtrainError("guided mode in a pipeline needs kubeflow.control: true")
            log = EventLog(run_dir.events_file)
            try:
                if first:
                    waiting.publish(run_dir, log)
                    first = False
                found = waiting.step(run_dir, log)
            finally:
                log.close()
        if found is None:
            return []
        if found is not False:
            assert isinstance(found, CyclePlan)
            return found.trials
        time.sleep(poll_s)
