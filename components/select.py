"""Component: record the cycle's trials and carry the best checkpoint forward."""

from kfp import dsl
from kfp.dsl import Artifact, Input, Markdown, Metrics, Model, Output

from qtrain.images import base_image


@dsl.component(base_image=base_image(), install_kfp_package=False)
def select(
    config_json: str,
    state: Input[Artifact],
    incumbent: Input[Model],
    checkpoints: Input[list[Model]],
    records: Input[list[Artifact]],
    new_state: Output[Artifact],
    new_incumbent: Output[Model],
    cycle_metrics: Output[Metrics],
    summary: Output[Markdown],
):
    """Select the incumbent, update the early-stopping decision, log per-cycle metrics."""
    from pathlib import Path

    from qtrain.steps import render_cycle_summary
    from qtrain.steps import select as step
    from qtrain.steps.outputs import cycle_summary_metrics

    result = step(config_json, Path(state.path), Path(incumbent.path),
                  [Path(c.path) for c in checkpoints], [Path(r.path) for r in records],
                  Path(new_state.path), Path(new_incumbent.path))  # fmt: skip
    for key, value in cycle_summary_metrics(result).items():  # strict JSON: finite only
        cycle_metrics.log_metric(key, value)
    new_incumbent.metadata.update({"checkpoint": result["incumbent"], "cycle": result["cycle"]})
    with open(summary.path, "w", encoding="utf-8") as f:
        f.write(render_cycle_summary(result))
