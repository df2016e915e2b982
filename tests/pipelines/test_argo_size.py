"""The estimate of the Argo Workflow a compiled pipeline becomes, and the guard built on it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qtrain.config import load_config
from qtrain.errors import QtrainError
from qtrain_kfp.pipelines import argo_size
from qtrain_kfp.pipelines.argo_size import (
    ARGO_MAX_WORKFLOW_BYTES,
    ArgoSizeEstimate,
    estimate_workflow,
)
from qtrain_kfp.pipelines.training_pipeline import argo_estimate, compile_pipeline


def size(value: object) -> int:
    return len(json.dumps(value, separators=(",", ":")).encode())


TRAIN = {"executorLabel": "exec-train", "inputDefinitions": {"parameters": {}}}
EXECUTOR = {"container": {"image": "qtrain-train:1", "command": ["python", "-m", "x"]}}
K8S = {"pvcMount": [{"constant": "qtrain-checkpoints", "mountPath": "/mnt/checkpoints"}]}
TASK = {"componentRef": {"name": "comp-train"}, "taskInfo": {"name": "train"}}


def one_task_pipeline() -> tuple[dict, dict]:
    pipeline = {
        "components": {"comp-train": TRAIN},
        "deploymentSpec": {"executors": {"exec-train": EXECUTOR}},
        "root": {"dag": {"tasks": {"train": TASK}}},
    }
    platform = {"platforms": {"kubernetes": {"deploymentSpec": {"executors": {"exec-train": K8S}}}}}
    return pipeline, platform


def looped_pipeline() -> dict:
    """The train task inside a ParallelFor over an upstream output."""
    loop = {"dag": {"tasks": {"train": TASK}}}
    loop_task = {
        "componentRef": {"name": "comp-for-loop-1"},
        "parameterIterator": {"itemInput": "item", "items": {"inputParameter": "proposals"}},
        "taskInfo": {"name": "for-loop-1"},
    }
    return {
        "components": {"comp-train": TRAIN, "comp-for-loop-1": loop},
        "deploymentSpec": {"executors": {"exec-train": EXECUTOR}},
        "root": {"dag": {"tasks": {"for-loop-1": loop_task}}},
    }


def test_one_container_task_by_the_formula() -> None:
    pipeline, platform = one_task_pipeline()
    estimate = estimate_workflow(pipeline, platform, iterations=3)
    root = size(pipeline["root"])
    assert estimate.spec_bytes == (
        argo_size.FIXED_TEMPLATES_BYTES
        + root
        + argo_size.DAG_TEMPLATE_BYTES
        + size(TRAIN)
        + size(EXECUTOR)
        + argo_size.EXECUTOR_TEMPLATES_BYTES
        + size(TASK)
        + size(K8S)
        + argo_size.CONTAINER_TASK_BYTES
    )
    driver_inputs = size(TRAIN) + size(TASK) + size(EXECUTOR) + size(K8S)
    assert estimate.status_bytes == (
        2 * argo_size.NODE_BYTES
        + root
        + 4 * argo_size.NODE_BYTES
        + driver_inputs
        + 4 * argo_size.POD_SPEC_PATCH_BYTES
    )
    assert estimate.container_runs == 1  # no loop: iterations do not matter


def test_a_loop_multiplies_the_status_not_the_spec() -> None:
    pipeline = looped_pipeline()
    small = estimate_workflow(pipeline, None, iterations=2)
    large = estimate_workflow(pipeline, None, iterations=8)
    assert small.spec_bytes == large.spec_bytes
    assert (small.container_runs, large.container_runs) == (2, 8)
    per_iteration = (large.status_bytes - small.status_bytes) / 6
    assert per_iteration > 4 * argo_size.POD_SPEC_PATCH_BYTES + size(TRAIN) + size(TASK)


def test_refusal_and_warning_thresholds() -> None:
    fits = ArgoSizeEstimate(spec_bytes=200_000, status_bytes=600_000, container_runs=40)
    assert fits.refusal() is None and fits.warning() is None
    compressed = ArgoSizeEstimate(spec_bytes=400_000, status_bytes=1_500_000, container_runs=90)
    assert compressed.refusal() is None
    assert "compressing its node status" in (compressed.warning() or "")
    too_big = ArgoSizeEstimate(spec_bytes=600_000, status_bytes=2_000_000, container_runs=200)
    assert "even with Argo's status compression" in (too_big.refusal() or "")
    assert too_big.warning() is None
    spec = ArgoSizeEstimate(ARGO_MAX_WORKFLOW_BYTES + 1, 0, 1)
    assert "spec alone" in (spec.refusal() or "")
    assert "(estimate)" in (spec.refusal() or "")


def compiled_estimate(tmp_path: Path, *overrides: str) -> ArgoSizeEstimate:
    config = load_config(None, list(overrides))
    return argo_estimate(compile_pipeline(config, tmp_path / "p.yaml"), config)


def test_the_compiled_pipeline_grows_with_cycles_trials_and_rungs(tmp_path: Path) -> None:
    base = compiled_estimate(tmp_path, "early_stopping.max_cycles=3")
    cycles = compiled_estimate(tmp_path, "early_stopping.max_cycles=5")
    trials = compiled_estimate(
        tmp_path, "early_stopping.max_cycles=3", "training.trials_per_cycle=4"
    )
    rungs = compiled_estimate(tmp_path, "early_stopping.max_cycles=3", "training.rung_steps=20")
    assert cycles.spec_bytes > base.spec_bytes and cycles.status_bytes > base.status_bytes
    assert trials.spec_bytes == pytest.approx(base.spec_bytes, rel=0.02)  # one loop body
    assert trials.status_bytes > base.status_bytes and trials.container_runs > base.container_runs
    assert rungs.container_runs > base.container_runs
    # the estimate is of the Argo object, larger than the IR: specs are repeated per task
    assert base.spec_bytes > (tmp_path / "p.yaml").stat().st_size


def test_ten_cycles_compile_with_a_warning_that_the_old_ir_guard_refused(tmp_path: Path) -> None:
    warnings: list[str] = []
    config = load_config(None, ["early_stopping.max_cycles=10"])
    path = compile_pipeline(config, tmp_path / "p.yaml", warn=warnings.append)
    assert path.stat().st_size > 256 * 1024  # the IR limit this guard replaces
    (line,) = warnings
    assert "(estimate)" in line and "compressing" in line


def test_a_workflow_argo_would_refuse_is_refused_in_one_line(tmp_path: Path) -> None:
    target = tmp_path / "p.yaml"
    target.write_text("keep me")
    config = load_config(None, ["early_stopping.max_cycles=10", "training.trials_per_cycle=8"])
    with pytest.raises(QtrainError) as refused:
        compile_pipeline(config, target)
    message = str(refused.value)
    assert "\n" not in message and "(estimate)" in message
    assert "lower early_stopping.max_cycles or training.trials_per_cycle" in message
    assert target.read_text() == "keep me"
