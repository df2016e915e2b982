"""Component: evaluate one trained trial (eval loss, perplexity, task metric)."""

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Metrics, Model, Output

from qtrain.images import train_image


@dsl.component(base_image=train_image(), install_kfp_package=False)
def evaluate(
    config_json: str,
    data: Input[Dataset],
    checkpoint: Input[Model],
    record: Output[Artifact],
    metrics: Output[Metrics],
):
    """Evaluate the checkpoint on the held-out rows; writes its history record."""
    from pathlib import Path

    from qtrain.steps import evaluate_trial
    from qtrain.steps.outputs import finite_metrics

    values = evaluate_trial(config_json, Path(data.path), Path(checkpoint.path), Path(record.path))
    for name, value in finite_metrics(values).items():  # strict JSON: no NaN on a cluster
        metrics.log_metric(name, value)
