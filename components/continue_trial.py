"""Component: the winning rung trains on to the full cycle (the GPU step)."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Model, Output

from qtrain.images import train_image


@dsl.component(base_image=train_image(), install_kfp_package=False)
def continue_trial(
    config_json: str,
    data: Input[Dataset],
    rungs: Input[list[Model]],
    winner: int,
    checkpoint: Output[Model],
):
    """Continue trial ``winner`` from its rung's trainer state (optimizer, schedule, RNG):
    rung and continuation are one trial. A crash is recorded as a failed trial, not fatal."""
    from pathlib import Path

    from qtrain.steps import continue_trial as step
    from qtrain.steps.outputs import json_metadata

    got = step(config_json, Path(data.path), [Path(r.path) for r in rungs], winner,
               Path(checkpoint.path))  # fmt: skip
    checkpoint.metadata.update(json_metadata({"trial": winner, **got}))
