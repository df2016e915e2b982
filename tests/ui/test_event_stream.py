"""The live event stream: ids are byte offsets; a reconnect with Last-Event-ID gets exactly
the lines after it; a torn last line waits; a damaged line is skipped; nothing is written."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from qtrain.ui.event_stream import read_lines, resume_offset

from .conftest import step


def read_stream(client: httpx.Client, count: int, last_id: str | None = None) -> list[tuple]:
    """The first ``count`` (id, event) messages of the stream (after ``last_id``)."""
    headers = {"last-event-id": last_id} if last_id else {}
    got: list[tuple] = []
    with client.stream("GET", "/api/runs/r1/events", headers=headers) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        current = None
        for line in response.iter_lines():
            if line.startswith("id: "):
                current = line[4:]
            elif line.startswith("data: ") and current is not None:
                got.append((current, json.loads(line[6:])))
                current = None
                if len(got) == count:
                    break
    return got


def test_a_late_page_replays_the_run_and_a_reconnect_has_no_gap_or_duplicate(
    served, runs_dir: Path
) -> None:
    _, client = served
    log = runs_dir / "r1" / "events.jsonl"
    first = read_stream(client, 6)
    assert [e["type"] for _, e in first][:2] == ["run_start", "step"]
    assert [int(i) for i, _ in first] == sorted(int(i) for i, _ in first)
    data = log.read_bytes()
    assert all(data[int(i) - 1 : int(i)] in (b"", b"\n") for i, _ in first)  # line starts
    last_id = first[2][0]  # the browser got three, then the connection dropped
    with log.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(step(40)) + "\n")
        handle.write(json.dumps(step(50))[:20])  # torn: still being written
    again = read_stream(client, 4, last_id)
    assert [e for _, e in again] == [e for _, e in first[3:]] + [step(40)]
    with log.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(step(50))[20:] + "\n")
    tail = read_stream(client, 1, again[-1][0])
    assert tail[0][1] == step(50)


def test_damaged_lines_and_bad_ids(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    log.write_bytes(b'{"type": "a"}\nnot json\n{"type": "b"}\n{"type": "c"')
    lines, end = read_lines(log, 0)
    assert [(line.offset, line.event) for line in lines] == [
        (0, {"type": "a"}), (14, None), (23, {"type": "b"})
    ]  # fmt: skip
    assert end == 37  # the torn line is not read
    assert resume_offset(log, "14") == 23
    assert resume_offset(log, "5") == 0  # not a line start: replay
    assert resume_offset(log, "99999") == 0
    assert resume_offset(log, "x") == 0
    assert resume_offset(log, "23") == 37


def test_reading_writes_nothing_to_the_run(served, runs_dir: Path) -> None:
    _, client = served
    before = {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in runs_dir.rglob("*")}
    read_stream(client, 3)
    assert client.get("/api/runs/r1").status_code == 200
    assert client.get("/api/runs/r1/checkpoints").json() == {"checkpoints": []}
    after = {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in runs_dir.rglob("*")}
    assert after == before
