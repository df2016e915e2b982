"""The KFP components called through ``.python_func``, chained as the pipeline chains them.

Artifacts are what the KFP launcher hands a component: a ``uri`` that is a local path (for
which ``artifact.path == artifact.uri``), here under pytest's temp folder. One cycle of the
shipped tiny config (k=2 trials of 4 steps, 8 eval rows, max_cycles=1) runs once per module:
preprocess -> propose -> train_trial and evaluate per proposal -> select -> gate -> export.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from types import SimpleNamespace
from typing import TypeVar

import pytest

pytest.importorskip("kfp")

from kfp.dsl import Artifact, Dataset, Markdown, Metrics, Model, PipelineTaskFinalStatus

from qtrain.config import load_config
from qtrain.config.schema import RunConfig
from qtrain.errors import ConfigError, QtrainError
from qtrain_kfp.components import (
    decided_gate,
    early_stop_gate,
    evaluate,
    export,
    prepare_volumes,
    preprocess,
    propose,
    report_failure,
    select,
    train_trial,
)

A = TypeVar("A", bound=Artifact)
TRIALS = 2
WEIGHTS = "adapter_model.safetensors"


def artifact(kind: type[A], folder: Path, name: str) -> A:
    """An artifact whose local path is ``folder/name`` (nothing is written there yet)."""
    made = kind(name=name, uri=str(folder / name))
    assert made.path == str(folder / name)
    return made


def read_json(folder: str | Path, name: str):
    """A JSON file a step wrote into an artifact folder."""
    return json.loads((Path(folder) / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> RunConfig:
    runs = tmp_path_factory.mktemp("runs")
    return load_config(
        None,
        [
            f"runtime.output_dir={runs}",
            "training.steps_per_cycle=4",
            "training.logging_steps=2",
            "data.eval_size=8",
            "data.max_rows=200",
            "evaluation.num_samples_saved=2",
            "early_stopping.max_cycles=1",
            "runtime.export_merged=false",
            f"training.trials_per_cycle={TRIALS}",
        ],
    )


@pytest.fixture(scope="module")
def config_json(config: RunConfig) -> str:
    return config.model_dump_json()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the module's chained artifacts live (the pipeline root)."""
    return tmp_path_factory.mktemp("artifacts")


@pytest.fixture(scope="module")
def prepared(config: RunConfig, config_json: str, store: Path) -> SimpleNamespace:
    out = SimpleNamespace(
        data=artifact(Dataset, store, "data"),
        state=artifact(Artifact, store, "state"),
        base=artifact(Model, store, "base"),
    )
    preprocess.python_func(
        config_json=config_json,
        compiled_cycles=config.early_stopping.max_cycles,
        compiled_trials=config.training.trials_per_cycle,
        **vars(out),
    )
    return out


@pytest.fixture(scope="module")
def proposals(config_json: str, prepared: SimpleNamespace) -> list[str]:
    return propose.python_func(config_json=config_json, state=prepared.state)


@pytest.fixture(scope="module")
def trials(
    config_json: str, store: Path, prepared: SimpleNamespace, proposals: list[str]
) -> list[SimpleNamespace]:
    """train_trial then evaluate for every proposal, as the ParallelFor does."""
    done = []
    for index, proposal in enumerate(proposals):
        checkpoint = artifact(Model, store, f"checkpoint-{index}")
        train_trial.python_func(
            config_json=config_json,
            data=prepared.data,
            start=prepared.base,
            proposal=proposal,
            checkpoint=checkpoint,
        )
        record = artifact(Artifact, store, f"record-{index}")
        metrics = artifact(Metrics, store, f"metrics-{index}")
        evaluate.python_func(
            config_json=config_json,
            data=prepared.data,
            checkpoint=checkpoint,
            record=record,
            metrics=metrics,
        )
        done.append(SimpleNamespace(checkpoint=checkpoint, record=record, metrics=metrics))
    return done


@pytest.fixture(scope="module")
def selected(
    config_json: str, store: Path, prepared: SimpleNamespace, trials: list[SimpleNamespace]
) -> SimpleNamespace:
    out = SimpleNamespace(
        new_state=artifact(Artifact, store, "state-1"),
        new_incumbent=artifact(Model, store, "incumbent-1"),
        cycle_metrics=artifact(Metrics, store, "cycle-metrics-1"),
        summary=artifact(Markdown, store, "summary-1.md"),
    )
    select.python_func(
        config_json=config_json,
        state=prepared.state,
        incumbent=prepared.base,
        checkpoints=[t.checkpoint for t in trials],
        records=[t.record for t in trials],
        **vars(out),
    )
    return out


@pytest.fixture(scope="module")
def exported(
    config_json: str, store: Path, prepared: SimpleNamespace, selected: SimpleNamespace
) -> SimpleNamespace:
    out = SimpleNamespace(
        run=artifact(Artifact, store, "run"),
        model=artifact(Model, store, "model"),
        report=artifact(Markdown, store, "report.md"),
        best_metrics=artifact(Metrics, store, "best-metrics"),
    )
    export.python_func(
        config_json=config_json,
        state=selected.new_state,
        incumbent=selected.new_incumbent,
        data=prepared.data,
        **vars(out),
    )
    return out


@pytest.fixture(scope="module")
def crashed(
    config_json: str, store: Path, prepared: SimpleNamespace, proposals: list[str]
) -> SimpleNamespace:
    """A trial whose training raises (as out of memory would), then its evaluate step."""

    def out_of_memory(*args, **kwargs):
        raise RuntimeError("injected: CUDA out of memory")

    out = SimpleNamespace(
        checkpoint=artifact(Model, store, "checkpoint-crashed"),
        record=artifact(Artifact, store, "record-crashed"),
        metrics=artifact(Metrics, store, "metrics-crashed"),
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("qtrain.training.trial.train_model", out_of_memory)
        train_trial.python_func(
            config_json=config_json,
            data=prepared.data,
            start=prepared.base,
            proposal=proposals[0],
            checkpoint=out.checkpoint,
        )
    evaluate.python_func(
        config_json=config_json,
        data=prepared.data,
        checkpoint=out.checkpoint,
        record=out.record,
        metrics=out.metrics,
    )
    return out


# preprocess


def test_preprocess_writes_the_prepared_data_and_labels_the_dataset(
    prepared: SimpleNamespace,
) -> None:
    assert {"train.jsonl", "eval.jsonl", "report.json"} <= {
        p.name for p in Path(prepared.data.path).iterdir()
    }
    meta = prepared.data.metadata
    assert (meta["rows_used"], meta["train_rows"], meta["eval_rows"]) == (200, 192, 8)
    assert meta["source"] == "builtin:reverse"
    assert all(isinstance(v, (int, float, str, bool)) for v in meta.values())


def test_preprocess_starts_the_run_state_and_the_base_marker(prepared: SimpleNamespace) -> None:
    state = read_json(prepared.state.path, "state.json")
    assert (state["cycle"], state["incumbent"], state["stop"]) == (0, None, False)
    assert state["run_id"]
    assert state["baseline"]["eval_rows"] == 8 and state["baseline"]["eval_loss"] > 0
    names = {p.name for p in Path(prepared.state.path).iterdir()}
    assert {"config.yaml", "history.jsonl", "events.jsonl"} <= names
    assert read_json(prepared.base.path, "base.json")["model"] == "builtin:tiny-phi4"
    assert not (Path(prepared.base.path) / WEIGHTS).exists()


def test_preprocess_refuses_a_config_json_for_another_dag_shape(
    config_json: str, tmp_path: Path
) -> None:
    data = artifact(Dataset, tmp_path, "data")
    with pytest.raises(QtrainError, match=r"max_cycles=1 but this pipeline was compiled for 3"):
        preprocess.python_func(
            config_json=config_json,
            compiled_cycles=3,
            compiled_trials=TRIALS,
            data=data,
            state=artifact(Artifact, tmp_path, "state"),
            base=artifact(Model, tmp_path, "base"),
        )
    assert not Path(data.path).exists()


# propose


def test_propose_returns_one_json_string_per_trial(config: RunConfig, proposals: list[str]) -> None:
    assert len(proposals) == TRIALS
    assert all(isinstance(p, str) for p in proposals)
    trials = [json.loads(p) for p in proposals]
    assert [(t["cycle"], t["trial"]) for t in trials] == [(1, 0), (1, 1)]
    for t in trials:
        assert set(t["params"]) == set(config.search_space)
        assert t["start_checkpoint"] is None  # cycle 1 starts from the base model
        assert t["metadata"]["proposer"]


def test_propose_refuses_a_config_json_that_is_not_json(prepared: SimpleNamespace) -> None:
    with pytest.raises(ConfigError, match="config_json is not JSON"):
        propose.python_func(config_json="{not json", state=prepared.state)


# train_trial and evaluate


def test_train_trial_writes_weights_and_labels_the_checkpoint(
    trials: list[SimpleNamespace],
) -> None:
    for index, trial in enumerate(trials):
        folder = Path(trial.checkpoint.path)
        assert (folder / WEIGHTS).is_file()
        assert read_json(trial.checkpoint.path, "trial.json")["name"] == f"c001-t{index:02d}"
        meta = trial.checkpoint.metadata
        assert (meta["cycle"], meta["trial"], meta["steps"]) == (1, index, 4.0)
        assert math.isfinite(meta["train_loss"]) and meta["tokens"] > 0


def test_evaluate_writes_the_record_and_logs_metrics(trials: list[SimpleNamespace]) -> None:
    for index, trial in enumerate(trials):
        record = read_json(trial.record.path, "record.json")
        assert record["status"] == "completed"
        assert (record["cycle"], record["trial"]) == (1, index)
        assert record["checkpoint"] == f"c001-t{index:02d}" and record["steps"] == 4
        logged = trial.metrics.metadata
        assert {"eval_loss", "perplexity", "exact_match"} <= set(logged)
        assert all(isinstance(v, float) for v in logged.values())
        assert logged["perplexity"] == pytest.approx(math.exp(logged["eval_loss"]), rel=1e-6)
        assert record["metrics"] == pytest.approx(logged)
        assert len(read_json(trial.record.path, "samples.json")) == 2


def test_a_crashed_trial_is_recorded_as_failed_not_fatal(crashed: SimpleNamespace) -> None:
    failure = read_json(crashed.checkpoint.path, "failure.json")
    assert "CUDA out of memory" in failure["error"]
    assert not (Path(crashed.checkpoint.path) / WEIGHTS).exists()
    assert crashed.checkpoint.metadata == {"cycle": 1, "trial": 0}
    record = read_json(crashed.record.path, "record.json")
    assert record["status"] == "failed" and "CUDA out of memory" in record["error"]
    assert crashed.metrics.metadata == {}


# select and the gate


def test_select_carries_the_best_trial_forward(
    trials: list[SimpleNamespace], selected: SimpleNamespace
) -> None:
    losses = [t.metrics.metadata["eval_loss"] for t in trials]
    best = losses.index(min(losses))
    name = f"c001-t{best:02d}"
    assert selected.new_incumbent.metadata == {"checkpoint": name, "cycle": 1}
    incumbent = Path(selected.new_incumbent.path)
    assert (incumbent / WEIGHTS).is_file()
    assert read_json(incumbent, "trial.json")["name"] == name
    assert (incumbent / "metrics.json").is_file() and (incumbent / "samples.json").is_file()
    assert selected.cycle_metrics.metadata == pytest.approx(
        {"cycle": 1.0, "incumbent_value": min(losses), "cycle_best_value": min(losses),
         "failed_trials": 0.0}
    )  # fmt: skip


def test_select_writes_the_new_state_and_leaves_its_input_alone(
    prepared: SimpleNamespace, selected: SimpleNamespace
) -> None:
    state = read_json(selected.new_state.path, "state.json")
    assert (state["cycle"], state["stop"]) == (1, True)
    assert state["incumbent"] == selected.new_incumbent.metadata["checkpoint"]
    assert "max_cycles" in state["stop_reason"]
    history = Path(selected.new_state.path, "history.jsonl").read_text().splitlines()
    assert len(history) == TRIALS
    before = read_json(prepared.state.path, "state.json")
    assert (before["cycle"], before["stop"]) == (0, False)
    assert Path(prepared.state.path, "history.jsonl").read_text() == ""


def test_select_summary_is_markdown_for_the_cycle(selected: SimpleNamespace) -> None:
    summary = Path(selected.summary.path).read_text(encoding="utf-8")
    assert summary.startswith("# Cycle 1\n")
    assert f"incumbent: `{selected.new_incumbent.metadata['checkpoint']}`" in summary
    assert "eval_loss" in summary
    assert "stop: True (max_cycles 1 reached)" in summary


def test_select_fails_clearly_when_every_trial_failed(
    config_json: str,
    tmp_path: Path,
    prepared: SimpleNamespace,
    crashed: SimpleNamespace,
) -> None:
    new_state = artifact(Artifact, tmp_path, "state-1")
    with pytest.raises(QtrainError, match=r"every trial of cycle 1 failed .*out of memory"):
        select.python_func(
            config_json=config_json,
            state=prepared.state,
            incumbent=prepared.base,
            checkpoints=[crashed.checkpoint],
            records=[crashed.record],
            new_state=new_state,
            new_incumbent=artifact(Model, tmp_path, "incumbent-1"),
            cycle_metrics=artifact(Metrics, tmp_path, "cycle-metrics-1"),
            summary=artifact(Markdown, tmp_path, "summary-1.md"),
        )
    assert not Path(new_state.path).exists()


def test_early_stop_gate_opens_before_the_first_cycle(prepared: SimpleNamespace) -> None:
    assert early_stop_gate.python_func(state=prepared.state) is True


def test_early_stop_gate_closes_once_the_run_stopped(selected: SimpleNamespace) -> None:
    assert early_stop_gate.python_func(state=selected.new_state) is False


def test_decided_gate_opens_on_decided_trials_only() -> None:
    assert decided_gate.python_func(proposals=['{"trial": 0}']) is True
    assert decided_gate.python_func(proposals=[]) is False


def test_prepare_volumes_makes_the_runs_folder_writable_by_the_steps(tmp_path: Path) -> None:
    if os.geteuid() != 0:  # CI runs as root: there a missing root fails, as other guards do
        why = "giving a folder to group 1000 needs root, as the pipeline step has"
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        pytest.skip(why)
    config = load_config(
        None,
        [
            "kubeflow.runs_pvc=qtrain-checkpoints",
            f"kubeflow.runs_mount_path={tmp_path / 'mnt'}",
            f"runtime.output_dir={tmp_path / 'mnt' / 'runs'}",
            f"kubeflow.model_cache_path={tmp_path / 'cache'}",
        ],
    )
    prepare_volumes.python_func(config_json=config.model_dump_json())
    for folder in (tmp_path / "mnt", tmp_path / "mnt" / "runs", tmp_path / "cache"):
        assert folder.stat().st_gid == 1000 and folder.stat().st_mode & 0o2070 == 0o2070


# export


def test_export_writes_the_run_directory(
    prepared: SimpleNamespace, selected: SimpleNamespace, exported: SimpleNamespace
) -> None:
    run = Path(exported.run.path)
    best = selected.new_incumbent.metadata["checkpoint"]
    names = {p.name for p in run.iterdir()}
    assert {"config.yaml", "history.jsonl", "events.jsonl", "data", "checkpoints"} <= names
    assert (run / "checkpoints" / best).is_dir()
    # the export is uploaded once, as the model artifact: the run's export/ holds a note
    assert [p.name for p in (run / "export").iterdir()] == ["EXPORT.md"]
    assert (Path(exported.model.path) / "adapter").is_dir()
    report = read_json(run, "report.json")
    assert report["status"] == "completed"
    assert report["best"]["checkpoint"] == best
    run_id = read_json(prepared.state.path, "state.json")["run_id"]
    assert exported.run.metadata == {
        "run_id": run_id,
        "stopped_because": "max_cycles 1 reached",
    }


def test_export_model_is_the_best_adapter_with_its_metrics(
    trials: list[SimpleNamespace], selected: SimpleNamespace, exported: SimpleNamespace
) -> None:
    best = selected.new_incumbent.metadata["checkpoint"]
    assert (Path(exported.model.path) / "adapter" / WEIGHTS).is_file()
    assert not (Path(exported.model.path) / "merged").exists()  # runtime.export_merged=false
    records = [read_json(t.record.path, "record.json") for t in trials]
    logged = next(r["metrics"] for r in records if r["checkpoint"] == best)
    assert exported.model.metadata == pytest.approx({"checkpoint": best, **logged})
    assert exported.best_metrics.metadata == pytest.approx(logged)  # the final Metrics


def test_export_report_is_the_run_report(
    selected: SimpleNamespace, exported: SimpleNamespace
) -> None:
    report = Path(exported.report.path).read_text(encoding="utf-8")
    assert report == Path(exported.run.path, "report.md").read_text(encoding="utf-8")
    assert "status: **completed** (max_cycles 1 reached)" in report
    assert f"`{selected.new_incumbent.metadata['checkpoint']}`" in report


# report_failure (the exit handler)


def final_status(state: str, message: str | None = None) -> PipelineTaskFinalStatus:
    return PipelineTaskFinalStatus(
        state=state,
        pipeline_job_resource_name="projects/p/locations/l/pipelineJobs/qtrain-42",
        pipeline_task_name="cycle 1: train",
        error_code=None if message is None else 13,
        error_message=message,
    )


def test_report_failure_describes_a_failed_run(config_json: str, tmp_path: Path) -> None:
    report = artifact(Markdown, tmp_path, "report.md")
    status = final_status("FAILED", "trial pod OOMKilled")
    report_failure.python_func(config_json=config_json, status=status, report=report)
    text = Path(report.path).read_text(encoding="utf-8")
    assert text.startswith("# qtrain pipeline run\n")
    assert "- status: **FAILED**" in text
    assert "`projects/p/locations/l/pipelineJobs/qtrain-42`" in text
    assert "- task: `cycle 1: train`" in text
    assert "- error: trial pod OOMKilled" in text
    assert "model: `builtin:tiny-phi4`, solver: `sa`" in text
    assert "The run did not complete" in text


def test_report_failure_for_a_succeeded_run(config_json: str, tmp_path: Path) -> None:
    report = artifact(Markdown, tmp_path, "report.md")
    report_failure.python_func(
        config_json=config_json, status=final_status("SUCCEEDED"), report=report
    )
    text = Path(report.path).read_text(encoding="utf-8")
    assert "- status: **SUCCEEDED**" in text
    assert "error" not in text and "did not complete" not in text


def test_report_failure_still_writes_a_report_for_a_bad_config_json(tmp_path: Path) -> None:
    report = artifact(Markdown, tmp_path, "report.md")
    report_failure.python_func(
        config_json="{not json", status=final_status("FAILED", "boom"), report=report
    )
    text = Path(report.path).read_text(encoding="utf-8")
    assert "- config: invalid (pipeline parameter config_json is not JSON" in text
    assert "- error: boom" in text
