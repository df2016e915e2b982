"""End to end on CPU: the embedded default, determinism, and user data."""

import json
from pathlib import Path

import pytest

from qtrain import QuantumTrainingAgent, load_config
from qtrain.events import read_events

pytestmark = pytest.mark.slow


def _run(overrides: list[str]) -> dict:
    return QuantumTrainingAgent(load_config(None, overrides)).run()


def test_default_config_reaches_target_exact_match(tmp_path: Path) -> None:
    report = _run([f"runtime.output_dir={tmp_path}"])
    assert report["status"] == "completed"
    assert report["best"]["metrics"]["exact_match"] >= 0.80
    run_dir = Path(report["run_dir"])
    on_disk = json.loads((run_dir / "report.json").read_text())
    for key in (
        "run_id",
        "status",
        "stopped_because",
        "total_train_steps",
        "wall_seconds",
        "cycles",
        "best",
    ):
        assert key in on_disk
    assert set(on_disk["best"]) >= {"cycle", "trial", "params", "metrics", "checkpoint"}
    types = {e["type"] for e in read_events(run_dir / "events.jsonl")}
    assert types >= {
        "run_start",
        "cycle_start",
        "trial_start",
        "step",
        "trial_end",
        "selection",
        "cycle_end",
        "export",
        "run_end",
    }
    assert (run_dir / "export" / "adapter" / "adapter_model.safetensors").is_file()
    assert (run_dir / "export" / "merged" / "model.safetensors").is_file()
    assert (run_dir / "report.md").read_text().startswith("# qtrain run")


def test_same_config_same_metrics(tiny_overrides: list[str], tmp_path: Path) -> None:
    first = _run([*tiny_overrides, "runtime.run_id=a"])
    second = _run([*tiny_overrides, "runtime.run_id=b"])
    metrics = [[t["metrics"] for c in r["cycles"] for t in c["trials"]] for r in (first, second)]
    assert metrics[0] == metrics[1]


@pytest.mark.parametrize("form", ["messages", "prompt_completion"])
def test_user_jsonl_trains_without_code_change(
    form: str, tiny_overrides: list[str], tmp_path: Path
) -> None:
    path = tmp_path / f"{form}.jsonl"
    with path.open("w") as f:
        for i in range(120):
            word = f"w{i:03d}x"
            if form == "messages":
                row = {
                    "messages": [
                        {"role": "user", "content": f"copy: {word}"},
                        {"role": "assistant", "content": word},
                    ]
                }
            else:
                row = {"prompt": f"copy: {word}", "completion": word}
            f.write(json.dumps(row) + "\n")
    report = _run([*tiny_overrides, f"data.path={path}", "early_stopping.max_cycles=1"])
    assert report["status"] == "completed"
    assert report["data"]["forms"] == {form: 120}
    assert report["data"]["train_rows"] + report["data"]["eval_rows"] == 120
