"""`qtrain run --engine kfp-local`: the DAG run by kfp.local matches the in-process engine."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("kfp")

from qtrain.checkpoints import LocalCheckpointStore
from qtrain.config import load_config

QTRAIN = str(Path(sys.executable).with_name("qtrain"))


def history(run_dir: Path) -> list[dict]:
    lines = (run_dir / "history.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def run_cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [QTRAIN, "run", *args], cwd=cwd, capture_output=True, text=True, timeout=1200
    )


@pytest.mark.slow
def test_kfp_local_matches_the_in_process_engine(
    tmp_path: Path, tiny_overrides: list[str], repo_root: Path
) -> None:
    from qtrain.agent import QuantumTrainingAgent

    overrides = [*tiny_overrides, "runtime.export_merged=false"]
    expected = QuantumTrainingAgent(load_config(None, [*overrides, "runtime.run_id=a"])).run()

    result = run_cli(
        ["configs/tiny.yaml", *overrides, "runtime.run_id=k", "--engine", "kfp-local", "--quiet"],
        repo_root,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    run_dir = Path(overrides[0].split("=", 1)[1]) / "k"
    report = json.loads((run_dir / "report.json").read_text())

    # same proposals, same checkpoints, same metrics, same selection and stop
    want, got = history(Path(expected["run_dir"])), history(run_dir)
    assert [(r["cycle"], r["trial"], r["params"], r["checkpoint"]) for r in got] == [
        (r["cycle"], r["trial"], r["params"], r["checkpoint"]) for r in want
    ]
    for a, b in zip(want, got, strict=True):
        assert b["metrics"] == pytest.approx(a["metrics"], rel=1e-4, abs=1e-6)
        assert b["proposal"].get("solver") == a["proposal"].get("solver")
        assert b["proposal"].get("source") == a["proposal"].get("source")
    assert report["best"]["checkpoint"] == expected["best"]["checkpoint"]
    assert report["best"]["metrics"] == pytest.approx(expected["best"]["metrics"], rel=1e-4)
    assert report["stopped_because"] == expected["stopped_because"]
    assert report["status"] == "completed" and report["engine"] == "kfp-local"
    assert report["run_id"] == "k" and report["run_dir"] == str(run_dir)

    # the in-process layout: config, events, history, data, checkpoint store, export, reports
    for name in ("config.yaml", "events.jsonl", "report.md", "kfp-local.log"):
        assert (run_dir / name).is_file(), name
    assert (run_dir / "data" / "train.jsonl").is_file()
    best = report["best"]["checkpoint"]
    assert (run_dir / "checkpoints" / best / "manifest.json").is_file()
    store = LocalCheckpointStore(run_dir / "checkpoints")
    assert store.get_pointer("incumbent") == store.get_pointer("best") == best
    assert (run_dir / "export" / "adapter" / "adapter_model.safetensors").is_file()
    events = [json.loads(x)["type"] for x in (run_dir / "events.jsonl").read_text().splitlines()]
    assert events[0] == "run_start" and events[-1] == "run_end"
    assert events.count("trial_end") == len(got)
    assert not (run_dir.parent / ".kfp-local" / "k").exists()  # task outputs cleaned up


@pytest.mark.slow
def test_early_stopping_takes_the_gates_else_branch(
    tmp_path: Path, tiny_overrides: list[str], repo_root: Path
) -> None:
    # any eval loss meets this target: the gate after cycle 1 says stop, of 3 compiled cycles
    args = ["configs/tiny.yaml", *tiny_overrides, "early_stopping.max_cycles=3",
            "early_stopping.target=100", "training.trials_per_cycle=1",
            "runtime.export_merged=false", "runtime.run_id=e", "--engine", "kfp-local",
            "--quiet"]  # fmt: skip
    result = run_cli(args, repo_root)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    run_dir = Path(tiny_overrides[0].split("=", 1)[1]) / "e"
    report = json.loads((run_dir / "report.json").read_text())
    assert report["status"] == "completed" and "target" in report["stopped_because"]
    assert {r["cycle"] for r in history(run_dir)} == {1}
    assert (run_dir / "export" / "adapter" / "adapter_model.safetensors").is_file()
    log = (run_dir / "kfp-local.log").read_text()
    assert "export-3" in log or "export (after cycle 1)" in log or "'export'" in log


def test_failed_step_writes_a_failed_report_and_one_line(
    tmp_path: Path, tiny_overrides: list[str], repo_root: Path
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "abc", "completion": "cba"}\n{"prompt": 3}\n')
    result = run_cli(
        ["configs/tiny.yaml", *tiny_overrides, f"data.path={bad}", "runtime.run_id=f",
         "--engine", "kfp-local", "--quiet"],
        repo_root,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert "preprocess" in result.stderr and "failed" in result.stderr
    run_dir = Path(tiny_overrides[0].split("=", 1)[1]) / "f"
    report = json.loads((run_dir / "report.json").read_text())
    assert report["status"] == "failed" and "preprocess" in report["stopped_because"]
    log = (run_dir / "kfp-local.log").read_text()
    assert "bad.jsonl" in log  # the step's own one-line data error is in the log
    assert Path(report["task_outputs"]).is_dir()  # kept for inspection


def test_live_output_is_task_status_and_step_errors_while_the_log_keeps_all() -> None:
    import io

    from qtrain_kfp.pipelines.local_run import _Tee

    log, live = io.StringIO(), io.StringIO()
    tee = _Tee(log, live)
    for text in (
        "17:28:56.680 - INFO - Executing task \x1b[96m'preprocess'\x1b[0m\n",
        "    [KFP Executor] Got executor_input: {...}\n",
        "    qtrain.errors.DataError: bad.jsonl: 1 invalid row\n",
        "17:28:59.795 - ERROR - Task 'preprocess' finished ",  # split across writes
        "with status FAILURE\n",
    ):
        tee.write(text)
    assert live.getvalue().splitlines() == [
        "17:28:56.680 - INFO - Executing task 'preprocess'",
        "qtrain.errors.DataError: bad.jsonl: 1 invalid row",
        "17:28:59.795 - ERROR - Task 'preprocess' finished with status FAILURE",
    ]
    assert "executor_input" in log.getvalue() and "\x1b[" not in log.getvalue()
