"""Guided mode's decision on a cycle's proposals, shared by both runners.

The in-process runner (:mod:`qtrain.agent.guided`) and a pipeline's propose step
(:mod:`qtrain.steps.guided`) publish the same pending decision (``control/decision.json``:
id, version, cycle, deadline, rejections, max_rejections, the proposals), check a decider's
``approve``/``reject`` the same way (an edit by the config schema; a value outside the search
space's levels is marked ``off_grid``) and record the same ``decision`` events and
``guided`` proposal metadata.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from qtrain.config.schema import RunConfig
from qtrain.control.channel import Command
from qtrain.control.settings import parse_value
from qtrain.cycle import CycleEngine, CyclePlan
from qtrain.cycle.plan import fresh_proposals
from qtrain.errors import ConfigError
from qtrain.hpo.proposer import Proposal
from qtrain.rundir import write_json_atomic
from qtrain.training.params import apply_params

#: The commands that decide a pending decision.
DECIDES = ("approve", "reject")


def pending_record(
    decision: dict[str, Any], plan: CyclePlan, deadline: float | None, rejections: int, limit: int
) -> dict[str, Any]:
    """The pending decision as ``control/decision.json`` and the ``decision_pending`` event
    hold it (``decision``: id, version, cycle)."""
    return {
        **decision, "deadline": deadline, "rejections": rejections, "max_rejections": limit,
        "proposals": [{"trial": t.trial, "params": t.params, "metadata": t.metadata}
                      for t in plan.trials],
    }  # fmt: skip


def slots(plan: CyclePlan, args: dict[str, Any]) -> list[int]:
    """The plan indices a decision's ``trials`` name (none: every trial)."""
    wanted = args.get("trials") or [t.trial for t in plan.trials]
    return [i for i, t in enumerate(plan.trials) if t.trial in wanted]


def repropose(engine: CycleEngine, plan: CyclePlan, args: dict[str, Any]) -> list[Proposal]:
    """New proposals for the trials a ``reject`` names: none asked before, none the same
    trial as another or as a trial that stays; fewer when the proposer has no others
    (``fixed`` and the baselines: none)."""
    from qtrain.hpo.loop_proposer import OptimizerProposer

    rejected = slots(plan, args)
    if not isinstance(engine.proposer, OptimizerProposer):
        return []
    beside = [t.params for i, t in enumerate(plan.trials) if i not in rejected]
    more = engine.proposer.more
    return fresh_proposals(more, len(rejected), beside, engine.incumbent, engine.config)


def check(
    config: RunConfig,
    proposals: Iterable[tuple[int, dict[str, Any]]],
    args: dict[str, Any],
    rejections: int,
) -> None:
    """``ValueError`` (one line) unless the ``approve``/``reject`` (``args["command"]``)
    applies to ``proposals`` ((trial, params) pairs) after ``rejections`` rejections."""
    proposals = list(proposals)
    trials = args.get("trials") or []
    known = {trial for trial, _ in proposals}
    if not isinstance(trials, list) or any(t not in known for t in trials):
        raise ValueError(f"trials {trials} are not all among this cycle's {sorted(known)}")
    if args["command"] == "reject":
        limit = config.guided.max_rejections
        if rejections >= limit:
            raise ValueError(
                f"guided.max_rejections ({limit}) reached: approve, or edit and approve"
            )
        return
    for trial, params in proposals:
        if not trials or trial in trials:
            edited(config, params, args.get("set") or {})


def edited(config: RunConfig, params: dict[str, Any], edits: dict[str, Any]) -> dict[str, Any]:
    """``params`` with ``edits``, checked by the schema (``ValueError`` naming the key)."""
    space = config.search_space
    unknown = [key for key in edits if key not in space]
    if unknown:
        raise ValueError(
            f"edit {unknown[0]!r}: not a search-space parameter ({', '.join(space) or 'none'})"
        )
    params = {**params, **{k: parse_value(v) for k, v in edits.items()}}
    try:
        apply_params(config, params)
    except ConfigError as exc:
        raise ValueError(f"edit: {exc}") from None
    return params


def approved(
    config: RunConfig,
    plan: CyclePlan,
    command: Command,
    decision: dict[str, Any],
    rejected: dict[int, list[dict[str, Any]]],
) -> tuple[CyclePlan, dict[str, Any]]:
    """The approved plan (edits applied, every trial's metadata saying how it was decided)
    and the fields of its ``decision`` event."""
    chosen = slots(plan, command.args)
    edits = command.args.get("set") or {}
    trials, diff = [], {}
    for index, trial in enumerate(plan.trials):
        params = edited(config, trial.params, edits) if index in chosen and edits else trial.params
        changed = {
            k: [trial.params.get(k), v] for k, v in params.items() if trial.params.get(k) != v
        }
        off_grid = any(
            v not in config.search_space[k].values for k, v in params.items()
            if k in config.search_space
        )  # fmt: skip
        guided = {"decision": "edited" if changed else "approved", "by": command.who,
                  "rejected": rejected.get(trial.trial, [])}  # fmt: skip
        metadata = {**trial.metadata, "guided": guided, **({"off_grid": True} if off_grid else {})}
        trials.append(dataclasses.replace(trial, params=params, metadata=metadata))
        if changed:
            diff[str(trial.trial)] = changed
    event = {"id": decision["id"], "version": decision["version"],
             "action": "edit" if diff else "approve", "who": command.who, "diff": diff}  # fmt: skip
    return CyclePlan(plan.cycle, plan.start_checkpoint, trials), event


def rejected_plan(
    plan: CyclePlan,
    command: Command,
    fresh: list[Proposal],
    decision: dict[str, Any],
    rejected: dict[int, list[dict[str, Any]]],
) -> tuple[CyclePlan, dict[str, Any]]:
    """The plan with the rejected trials replaced by ``fresh`` proposals (their points join
    ``rejected``) and the fields of its ``decision`` event."""
    chosen = slots(plan, command.args)
    new_trials = list(plan.trials)
    for index, proposal in zip(chosen, fresh, strict=True):
        old = plan.trials[index]
        rejected.setdefault(old.trial, []).append(old.params)
        new_trials[index] = dataclasses.replace(
            old, params=proposal.params, metadata=proposal.metadata
        )
    event = {
        "id": decision["id"], "version": decision["version"], "action": "reject",
        "who": command.who, "trials": [plan.trials[i].trial for i in chosen],
        "reason": command.args.get("reason"),
        "diff": {str(plan.trials[i].trial): [plan.trials[i].params, new_trials[i].params]
                 for i in chosen},
    }  # fmt: skip
    return CyclePlan(plan.cycle, plan.start_checkpoint, new_trials), event


def review_pending(config: RunConfig, path: Path, command: Command) -> str | None:
    """Why the pending decision in file ``path`` refuses ``command`` (None: accepted, and the
    file's version moves on, so a racing decider with the old version is refused).

    For a reader with no runner's memory (a pipeline's step or its launcher): the caller
    holds the channel's lock, under which the decision file is also written.
    """
    try:
        pending = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pending = None
    if not isinstance(pending, dict):
        return "the run waits for no decision"
    version = command.args.get("version", pending["version"])
    if version != pending["version"]:
        return f"stale decision version {version}: it is at version {pending['version']}"
    proposals = [(int(p["trial"]), dict(p["params"])) for p in pending["proposals"]]
    try:
        check(config, proposals, dict(command.args, command=command.command), pending["rejections"])
    except ValueError as exc:
        return str(exc)
    write_json_atomic(path, {**pending, "version": pending["version"] + 1})
    return None
