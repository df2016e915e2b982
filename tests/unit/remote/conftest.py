"""Fixtures for the KFP client tests: a fake KFP API on 127.0.0.1 and an in-process ``qtrain``.

Nothing here talks to anything but 127.0.0.1: the fake API binds there, and a closed port on
127.0.0.1 stands for an unreachable host.
"""

import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support.cli import run_cli


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

    def run(*args: str) -> CliResult:
        return run_cli(monkeypatch, capsys, *args)

    return run
