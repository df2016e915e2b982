"""The CLI's contract: one-line errors with non-zero exits, schema output, a quick run."""

import json
import subprocess
import sys
from pathlib import Path

import pytest


def qtrain(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qtrain.cli.app", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=600,
    )


def test_schema_prints_json_schema() -> None:
    result = qtrain("schema")
    assert result.returncode == 0
    assert "early_stopping" in json.loads(result.stdout)["properties"]


def test_unknown_key_is_one_line_and_nonzero() -> None:
    result = qtrain("run", "training.learning_rat=1")
    assert result.returncode == 2
    assert "did you mean 'training.learning_rate'" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_missing_config_file() -> None:
    result = qtrain("run", "nope.yaml")
    assert result.returncode == 2 and "nope.yaml does not exist" in result.stderr


def test_bad_data_rows_fail_with_row_numbers(tmp_path: Path) -> None:
    data = tmp_path / "bad.jsonl"
    data.write_text('{"prompt": "a", "completion": "b"}\n{"prompt": "x"}\nnot json\n' * 10)
    result = qtrain("run", f"data.path={data}", f"runtime.output_dir={tmp_path}")
    assert result.returncode != 0
    assert "row 2" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["bad.jsonl"]  # failed before any run dir


def test_qlora_on_cpu_is_a_clear_error(tmp_path: Path) -> None:
    result = qtrain(
        "run", "model.training_mode=qlora", "runtime.device=cpu", f"runtime.output_dir={tmp_path}"
    )
    assert result.returncode == 2 and "needs a CUDA GPU" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1  # no empty progress bars before it


def test_evaluate_rejects_non_checkpoint(tmp_path: Path) -> None:
    result = qtrain("evaluate", str(tmp_path))
    assert result.returncode == 2 and "not a qtrain checkpoint" in result.stderr


@pytest.mark.slow
def test_run_then_evaluate(tiny_overrides: list[str], tmp_path: Path) -> None:
    result = qtrain("run", "--quiet", *tiny_overrides)
    assert result.returncode == 0, result.stderr
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith("run directory: ")
    run_dir = Path(last.removeprefix("run directory: "))
    report = json.loads((run_dir / "report.json").read_text())
    assert report["status"] == "completed"
    checkpoint = run_dir / "checkpoints" / report["best"]["checkpoint"]
    out = tmp_path / "metrics.json"
    evaluated = qtrain("evaluate", str(checkpoint), "-o", str(out))
    assert evaluated.returncode == 0, evaluated.stderr
    metrics = json.loads(out.read_text())["metrics"]
    assert metrics["eval_loss"] == pytest.approx(report["best"]["metrics"]["eval_loss"], rel=1e-4)


@pytest.mark.slow
def test_checkpoints_list_verify_prune(tiny_overrides: list[str]) -> None:
    result = qtrain("run", "--quiet", *tiny_overrides, "storage.keep_last=5")
    run_dir = Path(result.stdout.strip().splitlines()[-1].removeprefix("run directory: "))
    listed = qtrain("checkpoints", "list", str(run_dir))
    assert listed.returncode == 0 and "c001-t00" in listed.stdout and "incumbent" in listed.stdout
    assert qtrain("checkpoints", "verify", str(run_dir)).returncode == 0
    report = json.loads((run_dir / "report.json").read_text())
    best = report["best"]["checkpoint"]
    other = next(
        t["checkpoint"] for c in report["cycles"] for t in c["trials"] if t["checkpoint"] != best
    )
    weights = run_dir / "checkpoints" / other / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1] + b"\0")
    broken = qtrain("checkpoints", "verify", str(run_dir))
    assert broken.returncode == 1 and f"FAIL {other}" in broken.stdout
    pruned = qtrain("checkpoints", "prune", str(run_dir), "--keep-last", "0")
    assert pruned.returncode == 0 and other in pruned.stdout
    assert not (run_dir / "checkpoints" / other).exists()
    assert (run_dir / "checkpoints" / best).exists()


@pytest.mark.parametrize("command", ["run", "compile", "submit", "schedule"])
def test_help_shows_the_config_arguments(command: str) -> None:
    """The help is Rich markup: unescaped ``[key=value ...]`` would vanish from it."""
    from typer.testing import CliRunner

    from qtrain.cli.app import app

    result = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "[CONFIG] [key=value ...]; CONFIG defaults to configs/tiny.yaml" in result.output
