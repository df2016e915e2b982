"""Component: export the selected checkpoint and write the run directory and report."""

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Markdown, Metrics, Model, Output

from qtrain.images import train_image


@dsl.component(base_image=train_image(), install_kfp_package=False)
def export(
    config_json: str,
    state: Input[Artifact],
    incumbent: Input[Model],
    data: Input[Dataset],
    run: Output[Artifact],
    model: Output[Model],
    report: Output[Markdown],
    best_metrics: Output[Metrics],
):
    """``run`` is the whole run directory; ``model`` its export; ``report`` the history;
    ``best_metrics`` the incumbent's (what the KFP UI's Compare runs shows)."""
    from pathlib import Path

    from qtrain.steps import export_run
    from qtrain.steps.outputs import finite_metrics, json_metadata

    result = export_run(
        config_json, Path(state.path), Path(incumbent.path), Path(data.path), Path(run.path),
        model_out=Path(model.path), report_out=Path(report.path),
    )  # fmt: skip
    best = result.get("best") or {}
    model.metadata.update(
        json_metadata({"checkpoint": best.get("checkpoint"), **best.get("metrics", {})})
    )
    run.metadata.update({"run_id": result["run_id"], "stopped_because": result["stopped_because"]})
    for name, value in finite_metrics(best.get("metrics", {})).items():
        best_metrics.log_metric(name, value)
