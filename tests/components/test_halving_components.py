"""The successive-halving components through ``.python_func``, chained as the rung DAG does.

One cycle of the tiny config (k=2 trials of 4 steps, rungs of 2): preprocess -> propose ->
train_rung per proposal -> halve -> continue_trial -> evaluate -> select_halved.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

pytest.importorskip("kfp")

from kfp.dsl import Artifact, Dataset, Markdown, Metrics, Model

from qtrain.config import load_config
from qtrain.config.schema import RunConfig
from qtrain.errors import QtrainError
from qtrain_kfp.components import (
    continue_trial,
    evaluate,
    halve,
    preprocess,
    propose,
    select_halved,
    train_rung,
)

WEIGHTS = "adapter_model.safetensors"


def artifact(kind, folder: Path, name: str):
    return kind(name=name, uri=str(folder / name))


def read_json(folder: str | Path, name: str):
    return json.loads((Path(folder) / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> RunConfig:
    runs = tmp_path_factory.mktemp("runs")
    return load_config(
        None,
        [
            f"runtime.output_dir={runs}",
            "training.steps_per_cycle=4",
            "training.rung_steps=2",
            "training.trials_per_cycle=2",
            "training.logging_steps=2",
            "data.eval_size=8",
            "data.max_rows=200",
            "evaluation.num_samples_saved=2",
            "early_stopping.max_cycles=1",
            "runtime.export_merged=false",
        ],
    )


@pytest.fixture(scope="module")
def chain(config: RunConfig, tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    store, config_json = tmp_path_factory.mktemp("artifacts"), config.model_dump_json()
    prep = SimpleNamespace(
        data=artifact(Dataset, store, "data"),
        state=artifact(Artifact, store, "state"),
        base=artifact(Model, store, "base"),
    )
    preprocess.python_func(
        config_json=config_json, compiled_cycles=1, compiled_trials=2, compiled_halving=True,
        **vars(prep),
    )  # fmt: skip
    rungs = []
    for index, proposal in enumerate(
        propose.python_func(config_json=config_json, state=prep.state)
    ):
        rung = SimpleNamespace(
            rung=artifact(Model, store, f"rung-{index}"),
            result=artifact(Artifact, store, f"result-{index}"),
        )
        train_rung.python_func(
            config_json=config_json, data=prep.data, start=prep.base, proposal=proposal,
            **vars(rung),
        )  # fmt: skip
        rungs.append(rung)
    halved = artifact(Artifact, store, "halved")
    winner = halve.python_func(
        config_json=config_json, state=prep.state, results=[r.result for r in rungs],
        new_state=halved,
    )  # fmt: skip
    checkpoint = artifact(Model, store, "checkpoint")
    continue_trial.python_func(
        config_json=config_json, data=prep.data, rungs=[r.rung for r in rungs], winner=winner,
        checkpoint=checkpoint,
    )  # fmt: skip
    record, metrics = artifact(Artifact, store, "record"), artifact(Metrics, store, "metrics")
    evaluate.python_func(
        config_json=config_json, data=prep.data, checkpoint=checkpoint, record=record,
        metrics=metrics,
    )  # fmt: skip
    selected = SimpleNamespace(
        new_state=artifact(Artifact, store, "state-1"),
        new_incumbent=artifact(Model, store, "incumbent-1"),
        cycle_metrics=artifact(Metrics, store, "cycle-metrics-1"),
        summary=artifact(Markdown, store, "summary-1.md"),
    )
    select_halved.python_func(
        config_json=config_json, state=halved, incumbent=prep.base, checkpoint=checkpoint,
        record=record, **vars(selected),
    )  # fmt: skip
    return SimpleNamespace(
        prep=prep, rungs=rungs, halved=halved, winner=winner, checkpoint=checkpoint,
        record=record, selected=selected,
    )  # fmt: skip


def test_train_rung_keeps_the_trainer_state_and_a_small_result(chain: SimpleNamespace) -> None:
    for index, rung in enumerate(chain.rungs):
        state = Path(rung.rung.path) / "_trainer" / "checkpoint-2"
        assert (state / WEIGHTS).is_file() and (state / "optimizer.pt").is_file()
        assert {p.name for p in Path(rung.result.path).iterdir()} == {"proposal.json", "rung.json"}
        assert read_json(rung.result.path, "rung.json")["steps"] == 2
        meta = rung.result.metadata
        assert (meta["cycle"], meta["trial"], meta["steps"]) == (1, index, 2.0)
        assert meta["eval_loss"] > 0 and rung.rung.metadata == meta


def test_halve_picks_the_lowest_rung_loss(chain: SimpleNamespace) -> None:
    losses = [r.result.metadata["eval_loss"] for r in chain.rungs]
    assert chain.winner == losses.index(min(losses))
    assert chain.halved.metadata == {"winner": chain.winner}


def test_the_winner_continues_to_the_full_cycle(chain: SimpleNamespace) -> None:
    folder = Path(chain.checkpoint.path)
    assert (folder / WEIGHTS).is_file() and not (folder / "_trainer").exists()
    assert read_json(folder, "trial.json")["name"] == f"c001-t{chain.winner:02d}"
    assert chain.checkpoint.metadata["steps"] == 4.0  # rung + continuation: one trial
    record = read_json(chain.record.path, "record.json")
    assert (record["status"], record["steps"], record["trial"]) == ("completed", 4, chain.winner)
    assert record["rung"]["eval_loss"] == min(r.result.metadata["eval_loss"] for r in chain.rungs)


def test_select_halved_records_the_cycle(chain: SimpleNamespace) -> None:
    lines = Path(chain.selected.new_state.path, "history.jsonl").read_text().splitlines()
    assert [json.loads(x)["status"] for x in lines] == ["halved", "completed"]
    name = f"c001-t{chain.winner:02d}"
    assert chain.selected.new_incumbent.metadata == {"checkpoint": name, "cycle": 1}
    assert (Path(chain.selected.new_incumbent.path) / WEIGHTS).is_file()
    assert read_json(chain.selected.new_state.path, "state.json")["cycle"] == 1
    assert Path(chain.selected.summary.path).read_text().startswith("# Cycle 1\n")


def test_preprocess_refuses_rungs_in_a_dag_compiled_without_them(
    config: RunConfig, tmp_path: Path
) -> None:
    with pytest.raises(QtrainError, match="successive_halving=True but this pipeline was compiled"):
        preprocess.python_func(
            config_json=config.model_dump_json(), compiled_cycles=1, compiled_trials=2,
            data=artifact(Dataset, tmp_path, "data"), state=artifact(Artifact, tmp_path, "state"),
            base=artifact(Model, tmp_path, "base"),
        )  # fmt: skip
