"""Component: train one trial from the incumbent checkpoint (the GPU step)."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Model, Output

from qtrain.images import train_image


@dsl.component(base_image=train_image(), install_kfp_package=False)
def train_trial(
    config_json: str,
    data: Input[Dataset],
    start: Input[Model],
    proposal: str,
    checkpoint: Output[Model],
):
    """Fine-tune with the proposed hyperparameters; a crashed trial is recorded, not fatal."""
    import json
    from pathlib import Path

    from qtrain.steps import train_trial as step
    from qtrain.steps.outputs import json_metadata

    trial = json.loads(proposal)
    train = step(config_json, Path(data.path), Path(start.path), trial, Path(checkpoint.path))
    checkpoint.metadata.update(
        json_metadata({"cycle": trial["cycle"], "trial": trial["trial"], **train})
    )
