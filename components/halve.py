"""Component: successive halving's decision: the best rung continues, the others are halved."""

from kfp import dsl
from kfp.dsl import Artifact, Input, Output

from qtrain.images import base_image


@dsl.component(base_image=base_image(), install_kfp_package=False)
def halve(
    config_json: str,
    state: Input[Artifact],
    results: Input[list[Artifact]],
    new_state: Output[Artifact],
) -> int:
    """Rank the rungs on eval loss; ``new_state`` records the halved trials; returns the
    winner's trial index."""
    from pathlib import Path

    from qtrain.steps import halve as step

    winner = step(config_json, Path(state.path), [Path(r.path) for r in results],
                  Path(new_state.path))  # fmt: skip
    new_state.metadata.update({"winner": winner})
    return winner
