"""Component: successive halving's rung of one trial, from the incumbent (the GPU step)."""

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Model, Output

from qtrain.images import train_image


@dsl.component(base_image=train_image(), install_kfp_package=False)
def train_rung(
    config_json: str,
    data: Input[Dataset],
    start: Input[Model],
    proposal: str,
    rung: Output[Model],
    result: Output[Artifact],
):
    """Train the first ``rung_steps`` of the trial: ``rung`` keeps the full trainer state,
    ``result`` only the rung's eval loss (what halve reads); a crash is recorded, not fatal."""
    import json
    from pathlib import Path

    from qtrain.steps import train_rung as step
    from qtrain.steps.outputs import json_metadata

    trial = json.loads(proposal)
    got = step(config_json, Path(data.path), Path(start.path), trial, Path(rung.path),
               Path(result.path))  # fmt: skip
    for artifact in (rung, result):
        artifact.metadata.update(
            json_metadata({"cycle": trial["cycle"], "trial": trial["trial"], **got})
        )
