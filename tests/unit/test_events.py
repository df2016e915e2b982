import json
from pathlib import Path

from qtrain.events import EventLog, read_events


def test_events_are_jsonl_and_forwarded(tmp_path: Path) -> None:
    seen = []
    log = EventLog(tmp_path / "events.jsonl")
    log.subscribe(seen.append)
    log.emit("cycle_start", cycle=1, path=tmp_path)
    log.emit("step", loss=0.5)
    log.close()
    events = read_events(tmp_path / "events.jsonl")
    assert [e["type"] for e in events] == ["cycle_start", "step"]
    assert events[0]["path"] == str(tmp_path)
    assert seen == [json.loads(json.dumps(e)) for e in seen] and len(seen) == 2


def test_torn_last_line_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text('{"type": "a"}\n{"type": "b"')
    assert [e["type"] for e in read_events(path)] == ["a"]


def test_a_log_reopened_after_a_torn_line_starts_its_events_on_a_line_of_their_own(
    tmp_path: Path,
) -> None:
    """A resumed run appends to the events a crash or a full disk cut short: its first event
    must not be glued to the fragment (and lost with it)."""
    path = tmp_path / "events.jsonl"
    path.write_text('{"type": "a"}\n{"type": "b"')
    log = EventLog(path)
    log.emit("run_start", run_id="r")
    log.sync()  # durable, e.g. before retention deletes what cycle_end made unneeded
    log.close()
    assert [e["type"] for e in read_events(path)] == ["a", "run_start"]
