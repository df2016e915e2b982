"""Step 2 of a cycle: ask the optimizer (QUBO + solver) for the cycle's k hyperparameter sets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from qtrain.errors import QtrainError
from qtrain.rundir import json_default
from qtrain.steps.state import parse_config_json, read_state, restore_engine


def propose(config_json: str, state_dir: Path) -> list[dict[str, Any]]:
    """The next cycle's trials: ``{cycle, trial, params, metadata, start_checkpoint, steps}``.

    The cycle engine is restored from the state and plans once, so it proposes what the
    in-process runner would have proposed at this point of the same run. In guided mode the
    trials are the ones a person approved (:mod:`qtrain.steps.guided`); none when the run
    ends while waiting (stop, pause, the deadline).
    """
    config = parse_config_json(config_json)
    state = read_state(state_dir)
    if state.stop:
        raise QtrainError(f"the run already stopped ({state.stop_reason}): nothing to propose")
    engine = restore_engine(config, state_dir)
    plan = engine.plan()
    decided = plan.trials
    if config.runtime.mode == "guided":  # a person decides; [] ends the run at this boundary
        from qtrain.steps.guided import decide

        decided = decide(config, engine, plan, state)
    # Plain JSON (numpy scalars become numbers): this list is a KFP parameter.
    trials = [trial.to_dict() for trial in decided]
    return json.loads(json.dumps(trials, default=json_default))
