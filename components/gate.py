"""Component: the gate between cycles; its single output guards the next cycle's ``dsl.If``."""

from kfp import dsl
from kfp.dsl import Artifact, Input

from qtrain.images import base_image


@dsl.component(base_image=base_image(), install_kfp_package=False)
def early_stop_gate(state: Input[Artifact], config_json: str = "") -> bool:
    """True when another cycle should run (early stopping, then the run's stop/pause)."""
    from pathlib import Path

    from qtrain.steps import should_continue

    return should_continue(Path(state.path), config_json or None)
