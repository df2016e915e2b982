"""Component: validate and tokenize the data, measure the base model, start the run state."""

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Model, Output

from qtrain.images import base_image


@dsl.component(base_image=base_image(), install_kfp_package=False)
def preprocess(
    config_json: str,
    data: Output[Dataset],
    state: Output[Artifact],
    base: Output[Model],
):
    """Prepare the dataset and the run state; ``base`` stands for the untrained model."""
    from pathlib import Path

    from qtrain.steps import preprocess as step

    report = step(config_json, Path(data.path), Path(state.path), Path(base.path))
    data.metadata.update(
        {k: v for k, v in report.items() if isinstance(v, (int, float, str, bool))}
    )
