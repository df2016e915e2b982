"""Commands at a pipeline run's cycle boundary: acknowledged once, stop/pause end the run."""

from __future__ import annotations

import json
from pathlib import Path

from qtrain.control import ControlChannel
from qtrain.control.boundary import take_commands
from qtrain.events import read_events


def controls(events: Path) -> list[tuple[str, str, str]]:
    return [
        (e["id"], e["command"], e["outcome"]) for e in read_events(events) if e["type"] == "control"
    ]


def test_a_stop_is_accepted_by_a_watcher_and_done_at_the_boundary(tmp_path: Path) -> None:
    commands, events = tmp_path / "control" / "commands.jsonl", tmp_path / "events.jsonl"
    sent = ControlChannel(commands).send("stop")
    watched = take_commands(commands, events, 3, None)
    assert [c.id for c in watched.accepted] == [sent.id] and watched.halt is None
    assert take_commands(commands, events, 3, None).accepted == []  # acknowledged once
    found = take_commands(commands, events, 3, 1)
    assert found.halt is not None and found.halt.status == "stopped"
    assert "stop requested by" in found.halt.reason and found.halt.cycle == 1
    assert controls(events) == [(sent.id, "stop", "accepted"), (sent.id, "stop", "done")]
    assert take_commands(commands, events, 3, 2).halt is None  # done: never acted on again


def test_a_pause_ends_the_run_as_paused_and_the_first_halt_wins(tmp_path: Path) -> None:
    commands, events = tmp_path / "commands.jsonl", tmp_path / "events.jsonl"
    pause = ControlChannel(commands).send("pause", after="trial")
    stop = ControlChannel(commands).send("stop")
    found = take_commands(commands, events, 3, 2)
    assert found.halt is not None and found.halt.status == "paused" and found.halt.id == pause.id
    assert "cannot hold" in found.halt.reason
    assert (stop.id, "stop", "done") in controls(events)


def test_resume_and_other_settings_are_rejected_with_a_reason(tmp_path: Path) -> None:
    commands, events = tmp_path / "commands.jsonl", tmp_path / "events.jsonl"
    ControlChannel(commands).send("resume")
    ControlChannel(commands).send("set", **{"training.steps_per_cycle": "5"})
    with commands.open("a") as handle:
        handle.write("not json\n")
    assert take_commands(commands, events, 3, 1).halt is None
    rejected = [e for e in read_events(events) if e["outcome"] == "rejected"]
    assert len(rejected) == 3
    assert "--resume" in rejected[0]["reason"]
    assert "only early_stopping.max_cycles" in rejected[1]["reason"]
    take_commands(commands, events, 3, 2)
    assert len(read_events(events)) == 3  # a rejected line is not rejected again


def test_max_cycles_beyond_the_compiled_cycles_is_refused_naming_the_limit(
    tmp_path: Path,
) -> None:
    commands, events = tmp_path / "commands.jsonl", tmp_path / "events.jsonl"
    ControlChannel(commands).send("set", **{"early_stopping.max_cycles": json.dumps(5)})
    take_commands(commands, events, 3, None)
    (event,) = read_events(events)
    assert event["outcome"] == "rejected"
    assert "beyond the 3 cycles compiled" in event["reason"] and "limit is 3" in event["reason"]


def test_a_lower_max_cycles_ends_the_run_completed_when_reached(tmp_path: Path) -> None:
    commands, events = tmp_path / "commands.jsonl", tmp_path / "events.jsonl"
    ControlChannel(commands).send("set", **{"early_stopping.max_cycles": json.dumps(2)})
    assert take_commands(commands, events, 4, 1).halt is None  # done, applies from now
    found = take_commands(commands, events, 4, 2)
    assert found.halt is not None and found.halt.status == "completed"
    assert "early_stopping.max_cycles=2 reached" in found.halt.reason
