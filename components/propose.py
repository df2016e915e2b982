"""Component: the quantum-guided optimizer proposes the cycle's k hyperparameter sets."""

from kfp import dsl
from kfp.dsl import Artifact, Input

from qtrain.images import base_image


@dsl.component(base_image=base_image(), install_kfp_package=False)
def propose(config_json: str, state: Input[Artifact]) -> list:
    """Fit the surrogate on the history, solve the QUBO; one JSON object per trial.

    JSON strings, not dicts: a proposal holds nulls, which KFP parameter structs refuse.
    """
    import json
    from pathlib import Path

    from qtrain.steps import propose as step

    return [json.dumps(trial) for trial in step(config_json, Path(state.path))]
