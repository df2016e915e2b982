"""Step 2 of a cycle: ask the optimizer (QUBO + solver) for the cycle's k hyperparameter sets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from qtrain.rundir import json_default
from qtrain.steps.state import decision_agent, parse_config_json, read_state


def propose(config_json: str, state_dir: Path) -> list[dict[str, Any]]:
    """The next cycle's trials: ``{cycle, trial, params, metadata, start_checkpoint}`` each.

    The optimizer is rebuilt from the history and asked once, so it proposes what the
    in-process engine would have proposed at this point of the same run.
    """
    config = parse_config_json(config_json)
    state = read_state(state_dir)
    if state.stop:
        raise RuntimeError(f"the run already stopped ({state.stop_reason}): nothing to propose")
    agent = decision_agent(config, state_dir, with_proposer=True)
    proposals = agent.plan_cycle()
    trials = [
        {
            "cycle": agent.cycle,
            "trial": index,
            "params": proposal.params,
            "metadata": proposal.metadata,
            "start_checkpoint": agent.start_checkpoint,
        }
        for index, proposal in enumerate(proposals)
    ]
    # Plain JSON (numpy scalars become numbers): this list is a KFP parameter.
    return json.loads(json.dumps(trials, default=json_default))
