"""``qtrain run`` with the azure solver against the fake service: proposals, fallback, secrets."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from support.fake_azure_quantum import running_fake

from qtrain.events import read_events

pytestmark = [pytest.mark.slow, pytest.mark.azure_sdk]

API_KEY = "cli-test-api-key-9f8e7d6c"
WORKSPACE = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Quantum/Workspaces/ws"  # noqa: E501


def _qtrain(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qtrain.cli.app", "run", "configs/tiny.yaml", "--quiet", *args],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
        cwd=Path(__file__).resolve().parents[2],
    )


def _env(monkeypatch: pytest.MonkeyPatch, key: str | None) -> dict[str, str]:
    import os

    env = dict(os.environ, QDK_PYTHON_TELEMETRY="none")
    env.pop("AZURE_QUANTUM_API_KEY", None)
    if key is not None:
        env["AZURE_QUANTUM_API_KEY"] = key
    return env


def _azure_overrides(endpoint: str, storage: str) -> list[str]:
    return [
        "quantum.solver_type=azure",
        "quantum.fallback=[sa]",
        "quantum.azure.credential=api_key",
        f"quantum.azure.resource_id={WORKSPACE}",
        "quantum.azure.location=eastus",
        f"quantum.azure.endpoint={endpoint}",
        f"quantum.azure.storage={storage}",
        "quantum.azure.poll_interval_s=0.1",
    ]


def test_run_uses_azure_then_falls_back_to_sa_when_the_service_goes_away(
    azurite, tiny_overrides: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with running_fake(azurite.connection_string, api_key=API_KEY, stop_after_jobs=1) as fake:
        overrides = [
            *tiny_overrides,
            "early_stopping.max_cycles=3",
            "early_stopping.patience=5",
            *_azure_overrides(fake.endpoint, azurite.connection_string),
        ]
        result = _qtrain(overrides, _env(monkeypatch, API_KEY))
    assert result.returncode == 0, result.stderr[-3000:]
    [run_dir] = [p.parent for p in (tmp_path / "runs").glob("*/report.json")]
    assert list((tmp_path / "runs" / "azure-jobs").glob("*.json"))  # the job's record
    report = json.loads((run_dir / "report.json").read_text())
    proposals = {
        c["cycle"]: [t["proposal"] for t in c["trials"] if t["proposal"].get("source") == "qubo"]
        for c in report["cycles"]
    }
    # Cycle 1 is the initial design; cycle 2 asks Azure; then the fake stops, cycle 3 falls back.
    assert [p["solver"] for p in proposals[2]] == ["azure"]
    assert proposals[2][0]["fallback_reasons"] == []
    [cycle3] = proposals[3]
    assert cycle3["solver"] == "sa" and cycle3["fallback"] is True
    [reason] = cycle3["fallback_reasons"]
    assert reason["solver"] == "azure" and reason["reason"].startswith("AzureQuantumError")
    assert report["solver_fallbacks"] == [{"cycle": 3, "solver": "sa", "failed": [reason]}]
    assert (
        "cycle 3: solved by sa after azure: AzureQuantumError"
        in (run_dir / "report.md").read_text()
    )
    events = [e for e in read_events(run_dir / "events.jsonl") if e["type"] == "proposals"]
    recorded = [p["metadata"] for e in events for p in e["proposals"]]
    assert any(m.get("fallback_reasons") == [reason] for m in recorded)
    assert sum(fake.puts.values()) == 1
    # No secret in anything the run wrote, printed or kept.
    account_key = azurite.connection_string.split("AccountKey=")[1].split(";")[0]
    written = [p for p in (tmp_path / "runs").rglob("*") if p.is_file()]
    for secret in (API_KEY, account_key):
        assert secret not in result.stdout + result.stderr
        for path in written:
            assert secret.encode() not in path.read_bytes(), path


def test_missing_api_key_is_one_line_exit_2(
    azurite, tiny_overrides: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    overrides = [*tiny_overrides, *_azure_overrides("http://127.0.0.1:9/", "")]
    result = _qtrain(
        [*overrides[:-2], "quantum.azure.poll_interval_s=0.1"], _env(monkeypatch, None)
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == [
        "error: quantum.azure.credential is 'api_key' but $AZURE_QUANTUM_API_KEY is not set: "
        "export the workspace's access key, or use credential: default"
    ]
