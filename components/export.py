"""Component: export the selected checkpoint and write the run directory and report."""

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Markdown, Model, Output

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
):
    """``run`` is the whole run directory; ``model`` its export; ``report`` the history."""
    import shutil
    from pathlib import Path

    from qtrain.rundir import RunDirectory
    from qtrain.steps import export_run

    layout = RunDirectory(Path(run.path))
    result = export_run(
        config_json, Path(state.path), Path(incumbent.path), Path(data.path), layout.root
    )
    shutil.copytree(layout.export_dir, model.path, dirs_exist_ok=True)
    shutil.copyfile(layout.report_md, report.path)
    best = result.get("best") or {}
    model.metadata.update({"checkpoint": best.get("checkpoint"), **best.get("metrics", {})})
    run.metadata.update({"run_id": result["run_id"], "stopped_because": result["stopped_because"]})
