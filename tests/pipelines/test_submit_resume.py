"""``qtrain submit --resume RUN`` against a fake KFP API: the submitted pipeline's preprocess
step gets ``resume_from``, the run parameter is the stopped run's config, bad input is one
line and a non-zero exit, and nothing is submitted then."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.cli import run_cli

pytest.importorskip("kfp", reason="the kfp extra is not installed")

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # `pipelines/` and `components/` sit at the repository root
    sys.path.insert(0, str(REPO))

ON_VOLUME = ["kubeflow.runs_pvc=qtrain-runs", "kubeflow.control=true",
             "runtime.output_dir=/mnt/checkpoints/runs"]  # fmt: skip


@pytest.fixture
def kfp_api(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Any]:
    """A fake KFP API on 127.0.0.1; no KFP settings leak in from the environment."""
    import kfp
    from support.fake_kfp_api import serving

    for name in ("KF_PIPELINES_ENDPOINT", "KF_PIPELINES_SA_TOKEN_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(kfp.Client, "_LOCAL_KFP_CONTEXT", str(tmp_path / "kfp-context.json"))
    with serving() as api:
        yield api


def qtrain(monkeypatch: pytest.MonkeyPatch, capsys, *args: str) -> tuple[int, str]:
    """``qtrain ARGS``: (exit code, stdout and stderr together)."""
    code, out, err = run_cli(monkeypatch, capsys, *args)
    return code, out + err


def stopped_run(
    root: Path, overrides: list[str], status: str = "stopped", engine: str = "kfp"
) -> Path:
    """A run directory as a pipeline run that ``qtrain stop`` ended after cycle 1 leaves it."""
    from qtrain.cli.common import config_from_args
    from qtrain.rundir import RunDirectory

    run_dir = RunDirectory(root / "run-20250101-abc123")
    run_dir.root.mkdir(parents=True)
    config = config_from_args(["configs/tiny.yaml", *overrides])
    run_dir.write_config(config.model_dump(mode="json"))
    events = [
        {"type": "run_start", "run_id": run_dir.run_id, "engine": engine, "ts": 1.0},
        {"type": "baseline", "metrics": {"eval_loss": 3.0}},
        {"type": "cycle_end", "cycle": 1},
        {"type": "run_end", "status": status},
    ]
    run_dir.events_file.write_text("".join(json.dumps(e) + "\n" for e in events))
    return run_dir.root


def submitted(kfp_api: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The one run created: its config_json and the preprocess task's inputs."""
    [run] = kfp_api.calls("POST", "/runs")
    config = json.loads(run.body["runtime_config"]["parameters"]["config_json"])
    return config, {**run.body, "preprocess": _preprocess_inputs(kfp_api.spec_of(run.body))}


def _preprocess_inputs(spec: dict[str, Any]) -> dict[str, Any]:
    spec = spec.get("pipeline_spec", spec)  # with a platform spec: both, side by side
    for component in spec["root"]["dag"]["tasks"].values():  # the exit handler's sub-DAG
        name = component["componentRef"]["name"]
        tasks = spec["components"][name].get("dag", {}).get("tasks", {})
        if "preprocess" in tasks:
            return tasks["preprocess"]["inputs"]["parameters"]
    raise AssertionError("no preprocess task in the submitted pipeline")


def test_a_run_directory_is_resumed_with_its_own_config(
    kfp_api: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    run_dir = stopped_run(tmp_path, [*ON_VOLUME, "training.learning_rate=0.0003"])
    code, output = qtrain(monkeypatch, capsys, "submit", "--host", kfp_api.url,
                          "--resume", str(run_dir))  # fmt: skip
    assert code == 0, output
    config, run = submitted(kfp_api)
    assert config["runtime"]["run_id"] == run_dir.name
    assert config["training"]["learning_rate"] == 0.0003  # the stopped run's, not tiny.yaml's
    assert run["preprocess"]["resume_from"] == {"runtimeValue": {"constant": run_dir.name}}
    assert f"resume {run_dir.name}" in run["display_name"]


def test_a_run_id_is_resumed_with_the_config_given(
    kfp_api: Any, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    code, output = qtrain(monkeypatch, capsys, "submit", "configs/tiny.yaml", *ON_VOLUME,
                          "--host", kfp_api.url, "--resume", "run-on-the-volume")  # fmt: skip
    assert code == 0, output
    config, run = submitted(kfp_api)
    assert config["runtime"]["run_id"] == "run-on-the-volume"
    assert config["kubeflow"]["runs_pvc"] == "qtrain-runs"
    assert run["preprocess"]["resume_from"] == {"runtimeValue": {"constant": "run-on-the-volume"}}


def test_submit_without_resume_is_unchanged(
    kfp_api: Any, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    code, output = qtrain(monkeypatch, capsys, "submit", "--host", kfp_api.url)
    assert code == 0, output
    config, run = submitted(kfp_api)
    assert "resume_from" not in run["preprocess"]
    assert config["runtime"]["run_id"]  # drawn at submit, so that the KFP run shows it
    assert run["display_name"] == f"qtrain-training {config['runtime']['run_id']}"


BLOB_ONLY = ["storage.kind=azure_blob", "storage.container=checkpoints", "kubeflow.control=true"]
BAD = {
    "completed": (dict(status="completed"), [], "is completed"),
    "in-process run": (dict(engine="in-process"), [], "did not run as a pipeline"),
    "config given too": (dict(), ["configs/tiny.yaml"], "give no CONFIG"),
    "no runs volume": (dict(overrides=[]), [], "no kubeflow.runs_pvc"),
    "blob store only": (
        dict(overrides=BLOB_ONLY),
        [],
        "azure_blob store keeps checkpoints",
    ),
    "no control": (
        dict(overrides=["kubeflow.runs_pvc=qtrain-runs", "kubeflow.control=false"]),
        [],
        "kubeflow.control=true",
    ),
    "with --once": (dict(), ["--once"], "--once and --resume"),
    "all cycles ran": (
        dict(overrides=[*ON_VOLUME, "early_stopping.max_cycles=1"]),
        [],
        "already ran its 1",
    ),
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_a_run_that_cannot_be_resumed_is_one_line(
    case: str, kfp_api: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    run_args, extra, message = BAD[case]
    run_args = {"overrides": ON_VOLUME, **run_args}
    run_dir = stopped_run(tmp_path, **run_args)
    code, output = qtrain(monkeypatch, capsys, "submit", *extra, "--host", kfp_api.url,
                          "--resume", str(run_dir))  # fmt: skip
    assert code != 0
    assert message in output and len(output.strip().splitlines()) == 1, output
    assert not kfp_api.calls("POST", "/runs")


@pytest.mark.parametrize("run", ["no/such/run", "/no/such/run", ".."])
def test_a_missing_run_directory_is_one_line(
    run: str, kfp_api: Any, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    code, output = qtrain(monkeypatch, capsys, "submit", *ON_VOLUME, "--host", kfp_api.url,
                          "--resume", run)  # fmt: skip
    assert code != 0
    assert "no such run directory" in output or "not a qtrain run" in output, output
    assert len(output.strip().splitlines()) == 1, output
    assert not kfp_api.calls("POST", "/runs")


def test_a_folder_that_is_no_run_is_one_line(
    kfp_api: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    code, output = qtrain(monkeypatch, capsys, "submit", "--host", kfp_api.url,
                          "--resume", str(tmp_path))  # fmt: skip
    assert code != 0
    assert "not a qtrain run directory" in output and len(output.strip().splitlines()) == 1
    assert not kfp_api.calls("POST", "/runs")
