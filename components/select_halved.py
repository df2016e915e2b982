"""Component: after halving, record the winner and carry the best checkpoint forward."""

from kfp import dsl
from kfp.dsl import Artifact, Input, Markdown, Metrics, Model, Output

from qtrain.images import base_image


@dsl.component(base_image=base_image(), install_kfp_package=False)
def select_halved(
    config_json: str,
    state: Input[Artifact],
    incumbent: Input[Model],
    checkpoint: Input[Model],
    record: Input[Artifact],
    new_state: Output[Artifact],
    new_incumbent: Output[Model],
    cycle_metrics: Output[Metrics],
    summary: Output[Markdown],
):
    """``select`` for a halved cycle: ``state`` (halve's) holds the halved trials already."""
    from pathlib import Path

    from qtrain.steps import render_cycle_summary
    from qtrain.steps import select as step
    from qtrain.steps.outputs import cycle_summary_metrics

    paths = [Path(a.path) for a in (state, incumbent, checkpoint, record, new_state, new_incumbent)]
    result = step(config_json, paths[0], paths[1], [paths[2]], [paths[3]], paths[4], paths[5])
    for key, value in cycle_summary_metrics(result).items():  # strict JSON: finite only
        cycle_metrics.log_metric(key, value)
    new_incumbent.metadata.update({"checkpoint": result["incumbent"], "cycle": result["cycle"]})
    with open(summary.path, "w", encoding="utf-8") as f:
        f.write(render_cycle_summary(result))
