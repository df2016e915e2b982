"""A pipeline run's channel reached from the CLI with ``--config``: in an Azure Blob store
(Azurite) and on a runs volume. The gate and a guided propose step read what was sent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from qtrain.config import load_config
from qtrain.config.schema import RunConfig
from qtrain.steps.propose import propose
from qtrain.steps.run_channel import look, send
from qtrain.steps.run_control import gate_commands, opened_control, start_live_run
from qtrain.steps.state import RunState, init_state

QTRAIN = str(Path(sys.executable).with_name("qtrain"))


@pytest.fixture(params=["azure_blob", "volume"])
def pipeline(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[RunConfig, Path]]:
    """A controllable pipeline config (written to a file, as submitted) and its run's live
    channel, started as the preprocess step starts it."""
    overrides = {"runtime": {"output_dir": str(tmp_path / "runs")}, "kubeflow": {"control": True}}
    if request.param == "azure_blob":
        azurite = request.getfixturevalue("azurite")
        os.environ["AZURE_STORAGE_CONNECTION_STRING"] = azurite.connection_string
        container = f"chan-{uuid.uuid4().hex[:12]}"
        overrides["storage"] = {"kind": "azure_blob", "container": container}
    else:
        overrides["kubeflow"]["runs_pvc"] = "qtrain-runs"
    path = tmp_path / "submitted.yaml"
    path.write_text(yaml.safe_dump(overrides), encoding="utf-8")
    config = load_config(path)
    with opened_control(config, "r") as live:
        assert live is not None
        start_live_run(live, config)
    try:
        yield config, path
    finally:
        os.environ.pop("AZURE_STORAGE_CONNECTION_STRING", None)


def qtrain(*args: str) -> tuple[int, str]:
    """The real CLI in a process of its own (its errors are one line on stderr)."""
    result = subprocess.run([QTRAIN, *args], capture_output=True, text=True, timeout=120)
    return result.returncode, " ".join((result.stdout + result.stderr).split())


def test_stop_from_the_cli_reaches_the_gate(pipeline: tuple[RunConfig, Path]) -> None:
    config, path = pipeline
    code, text = qtrain("status", "r", "--config", str(path))
    assert code == 0 and "run r: running" in text
    code, text = qtrain("set", "r", "early_stopping.max_cycles=99", "--config", str(path))
    assert code != 0 and "beyond the 3 cycles compiled into this pipeline" in text
    code, text = qtrain("stop", "r", "--config", str(path))
    assert code == 0 and "reads it after its current cycle" in text, text
    sent = look(config, "r")
    assert sent.state == "running" and not sent.events  # nothing read yet
    halt = gate_commands(config, RunState(run_id="r", baseline={"eval_loss": 3.0}, cycle=1))
    assert halt is not None and halt.status == "stopped" and halt.cycle == 1
    seen = look(config, "r")
    assert [e["outcome"] for e in seen.events] == ["accepted", "done"]
    assert seen.state == "exporting" and "stop requested by" in (seen.status.reason or "")
    code, text = qtrain("stop", "r", "--config", str(path))
    assert code != 0 and "pipeline run r is exporting: it takes no more commands" in text


def test_racing_senders_lose_no_command(pipeline: tuple[RunConfig, Path]) -> None:
    config, _ = pipeline
    ids: list[str] = []

    def sender() -> None:
        for _ in range(8):
            ids.append(send(config, "r", "set", **{"early_stopping.max_cycles": "2"}).id)

    threads = [threading.Thread(target=sender) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    gate_commands(config, RunState(run_id="r", baseline={"eval_loss": 3.0}, cycle=1))
    events = look(config, "r").events
    done = [e["id"] for e in events if e["outcome"] == "done"]
    assert sorted(done) == sorted(ids) and len(ids) == 24


def test_a_guided_propose_step_follows_an_approve_sent_with_config(
    pipeline: tuple[RunConfig, Path], tmp_path: Path
) -> None:
    config, path = pipeline
    guided = config.model_copy(update={"runtime": config.runtime.model_copy(
        update={"mode": "guided"})})  # fmt: skip
    state = tmp_path / "state"
    init_state(state, guided, RunState(run_id="r", baseline={"eval_loss": 3.0}))
    found: list[list[dict]] = []
    step = threading.Thread(target=lambda: found.append(propose(guided.model_dump_json(), state)))
    step.start()
    try:
        seen = look(config, "r")
        while seen.state != "waiting-for-decision":
            assert step.is_alive(), "the propose step ended without waiting"
            seen = look(config, "r")
        code, text = qtrain("approve", "r", "--config", str(path), "--version", "7")
        assert code != 0 and "version" in text, text  # a stale version: refused, still waiting
        assert look(config, "r").state == "waiting-for-decision"
        code, text = qtrain("approve", "r", "--config", str(path))
        assert code == 0 and f"decision {seen.decision['id']}" in text, text
    finally:
        step.join(timeout=120)
    proposals = [p["params"] for p in seen.decision["proposals"]]
    assert [t["params"] for t in found[0]] == proposals
    decisions = [e for e in look(config, "r").events if e["type"] == "decision"]
    assert [d["action"] for d in decisions] == ["approve"] and "@" in decisions[0]["who"]
    assert json.dumps(found[0])  # a KFP parameter
