"""Component: validate and tokenize the data, measure the base model, start the run state."""

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Model, Output

from qtrain.images import train_image


@dsl.component(base_image=train_image(), install_kfp_package=False)
def preprocess(
    config_json: str,
    compiled_cycles: int,
    compiled_trials: int,
    data: Output[Dataset],
    state: Output[Artifact],
    base: Output[Model],
    compiled_halving: bool = False,
    resume_from: str = "",
):
    """Prepare the dataset and the run state; ``base`` stands for the untrained model.

    ``compiled_*`` are the DAG's shape, fixed at compile time: an edited ``config_json``
    asking for another shape is refused; ``resume_from`` resumes that stopped run instead.
    """
    from pathlib import Path

    from qtrain.steps import preprocess as step
    from qtrain.steps.outputs import json_metadata
    from qtrain.steps.state import read_state

    shape = {"max_cycles": compiled_cycles, "trials_per_cycle": compiled_trials,
             "successive_halving": compiled_halving}  # fmt: skip
    report = step(config_json, Path(data.path), Path(state.path), Path(base.path), shape,
                  resume_from or None)  # fmt: skip
    data.metadata.update(json_metadata(report))
    state.metadata["qtrain_run_id"] = read_state(Path(state.path)).run_id  # shown in the UI
