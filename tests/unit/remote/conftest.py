"""Fixtures for the KFP client tests: a fake KFP API on 127.0.0.1 and an in-process ``qtrain``.

Nothing here talks to anything but 127.0.0.1: the fake API binds there, and a closed port on
127.0.0.1 stands for an unreachable host.
"""

import socket
import sys
import types
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
if str(REPO_ROOT) not in sys.path:  # `pipelines/` sits at the root when qtrain is not installed
    sys.path.insert(0, str(REPO_ROOT))


def _stand_in_training_pipeline() -> types.ModuleType:
    """A tiny pipeline with the real one's contract (no `from __future__ import annotations`
    here: kfp reads the component annotations as types)."""

    def compile_pipeline(config, output: Path) -> Path:
        from kfp import compiler, dsl

        @dsl.component(base_image="python:3.11-slim")
        def echo(config_json: str) -> None:
            print(config_json)

        @dsl.pipeline(name="qtrain-training")
        def stand_in(config_json: str = "{}") -> None:
            echo(config_json=config_json)

        compiler.Compiler().compile(
            stand_in, str(output), pipeline_parameters={"config_json": config.model_dump_json()}
        )
        return output

    module = types.ModuleType("pipelines.training_pipeline")
    module.PIPELINE_NAME = "qtrain-training"
    module.compile_pipeline = compile_pipeline
    return module


if not (REPO_ROOT / "pipelines" / "training_pipeline.py").is_file():  # not written yet
    sys.modules["pipelines.training_pipeline"] = _stand_in_training_pipeline()


@pytest.fixture(autouse=True)
def _isolated_kfp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No KFP settings leak in from the environment or ~/.config/kfp/context.json."""
    for name in (
        "KF_PIPELINES_ENDPOINT",
        "KF_PIPELINES_UI_ENDPOINT",
        "KF_PIPELINES_SA_TOKEN_PATH",
        "KF_PIPELINES_DEFAULT_EXPERIMENT_NAME",
        "KF_PIPELINES_OVERRIDE_EXPERIMENT_NAME",
        "KF_PIPELINES_IAP_OAUTH2_CLIENT_ID",
    ):
        monkeypatch.delenv(name, raising=False)
    kfp = pytest.importorskip("kfp", reason="the kfp extra is not installed")
    monkeypatch.setattr(kfp.Client, "_LOCAL_KFP_CONTEXT", str(tmp_path / "kfp-context.json"))


@pytest.fixture
def kfp_api() -> Iterator:
    """A fake KFP v2beta1 API serving on a free 127.0.0.1 port (``kfp_api.url``)."""
    from support.fake_kfp_api import serving

    with serving() as api:
        yield api


@pytest.fixture
def closed_port_url() -> str:
    """An http URL on 127.0.0.1 where nothing listens (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


CliResult = tuple[int, str, str]


@pytest.fixture
def qtrain_cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., CliResult]:
    """Run ``qtrain ARGS`` through the real entry point in-process: (exit code, stdout, stderr)."""
    from qtrain.cli.app import main

    def run(*args: str) -> CliResult:
        capsys.readouterr()
        monkeypatch.setattr(sys, "argv", ["qtrain", *args])
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run
