"""The gate step reads a controllable run's channel; the halt reaches the export's status."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qtrain.config import load_config
from qtrain.control import ControlChannel, read_status
from qtrain.control.folder import ControlFolder
from qtrain.errors import QtrainError
from qtrain.events import EventLog, read_events
from qtrain.rundir import RunDirectory
from qtrain.steps import should_continue
from qtrain.steps.run_control import (
    adopt_run,
    check_control_store,
    finish_status,
    read_halt,
    start_live_run,
)
from qtrain.steps.state import RunState, init_state


def setup(tmp_path: Path, *overrides: str) -> tuple[str, Path, RunDirectory]:
    config = load_config(None, [f"runtime.output_dir={tmp_path / 'runs'}", *overrides])
    state = tmp_path / "state"
    init_state(state, config, RunState(run_id="r", baseline={"eval_loss": 3.0}, cycle=1))
    live = RunDirectory(tmp_path / "runs" / "r")
    start_live_run(live, config)
    return config.model_dump_json(), state, live


def test_without_control_the_gate_ignores_the_channel(tmp_path: Path) -> None:
    config_json, state, live = setup(tmp_path)
    ControlChannel(ControlFolder.of(live.root).commands).send("stop")
    assert should_continue(state, config_json) is True
    assert should_continue(state) is True
    assert read_events(live.events_file) == []


def test_a_stop_makes_the_gate_say_stop_and_the_export_report_stopped(tmp_path: Path) -> None:
    config_json, state, live = setup(tmp_path, "kubeflow.control=true")
    folder = ControlFolder.of(live.root)
    assert should_continue(state, config_json) is True  # nothing asked: go on
    assert read_status(folder).state == "running"
    sent = ControlChannel(folder.commands).send("stop")
    assert should_continue(state, config_json) is False
    acks = [(e["id"], e["outcome"]) for e in read_events(live.events_file)]
    assert acks == [(sent.id, "accepted"), (sent.id, "done")]
    config = load_config(None, [f"runtime.output_dir={tmp_path / 'runs'}", "kubeflow.control=true"])
    halt = read_halt(config, "r")
    assert halt is not None and halt.status == "stopped" and halt.cycle == 1
    assert read_status(folder).state == "exporting"
    finish_status(config, "r", "paused", "paused by x")
    assert read_status(folder).state == "stopped" and read_status(folder).reason == "paused by x"


def test_early_stopping_wins_without_reading(tmp_path: Path) -> None:
    config_json, state, live = setup(tmp_path, "kubeflow.control=true")
    data = json.loads((state / "state.json").read_text())
    (state / "state.json").write_text(json.dumps({**data, "stop": True}))
    ControlChannel(ControlFolder.of(live.root).commands).send("stop")
    assert should_continue(state, config_json) is False
    assert read_events(live.events_file) == []


def test_a_controllable_pipeline_needs_a_store(tmp_path: Path) -> None:
    config = load_config(None, ["kubeflow.control=true"])
    with pytest.raises(QtrainError, match="kubeflow.control needs a store") as error:
        check_control_store(config)
    assert "\n" not in str(error.value)
    check_control_store(config, local=True)  # kfp-local's runs directory
    check_control_store(load_config(None, ["kubeflow.control=true", "kubeflow.runs_pvc=runs"]))


def test_adopting_the_export_keeps_control_and_late_control_events(tmp_path: Path) -> None:
    live, exported = RunDirectory(tmp_path / "live"), RunDirectory(tmp_path / "exported")
    ControlChannel(ControlFolder.of(live.root).commands).send("stop")
    early = EventLog(live.events_file).emit("control", id="a", outcome="accepted")
    log = EventLog(exported.events_file)
    log.emit("run_start")
    exported_early = dict(early)
    (exported.root / "report.json").write_text("{}")
    log.emit("run_end", status="stopped")
    EventLog(live.events_file).emit("control", id="b", outcome="rejected")
    lines = exported.events_file.read_text().splitlines()
    exported.events_file.write_text("\n".join([lines[0], json.dumps(exported_early), lines[1]]))
    adopt_run(exported, live)
    types = [(e["type"], e.get("id")) for e in read_events(live.events_file)]
    assert sorted(types[:-1], key=str) == [("control", "a"), ("control", "b"), ("run_start", None)]
    assert types[-1] == ("run_end", None)  # a late acknowledgement joins before the end
    assert (live.root / "report.json").is_file() and ControlFolder.of(live.root).commands.is_file()
