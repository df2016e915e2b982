"""The command channel: append from any process, read what is new, survive a corrupt line."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest

from qtrain.control.channel import BadLine, Command, ControlChannel


def _send_many(path: str, n: int) -> None:
    channel = ControlChannel(Path(path))
    for i in range(n):
        channel.send("set", **{"training.steps_per_cycle": i + 1})


def test_send_then_receive_only_new_commands(tmp_path: Path) -> None:
    reader = ControlChannel(tmp_path / "commands.jsonl")
    assert reader.receive() == []
    sent = ControlChannel(tmp_path / "commands.jsonl").send("pause", after="now")
    got = reader.receive()
    assert got == [sent] and isinstance(got[0], Command) and got[0].args == {"after": "now"}
    assert reader.receive() == []
    assert sent.who and sent.when > 0 and len(sent.id) == 12


def test_unknown_command_is_refused_before_writing(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown command 'jump'"):
        ControlChannel(tmp_path / "c.jsonl").send("jump")
    assert not (tmp_path / "c.jsonl").exists()


def test_corrupt_and_torn_lines(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    reader = ControlChannel(path)
    path.write_text('not json\n{"command": "explode"}\n{"command": "stop"}\n{"comm', "utf-8")
    got = reader.receive()
    assert [type(g) for g in got] == [BadLine, BadLine, Command]
    assert isinstance(got[0], BadLine) and "line 1" in got[0].reason
    with path.open("a", encoding="utf-8") as handle:  # the torn line completes later
        handle.write('and": "resume"}\n')
    (late,) = reader.receive()
    assert isinstance(late, BadLine) or late.command == "resume"


def test_a_resumed_reader_skips_what_was_sent_before(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    ControlChannel(path).send("stop")
    reader = ControlChannel(path)
    reader.skip_existing()
    assert reader.receive() == []
    ControlChannel(path).send("resume")
    assert [c.command for c in reader.receive()] == ["resume"]  # type: ignore[union-attr]


def test_concurrent_writers_never_interleave(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    procs = [multiprocessing.Process(target=_send_many, args=(str(path), 50)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    lines = path.read_text("utf-8").splitlines()
    assert len(lines) == 150 and all(json.loads(line)["command"] == "set" for line in lines)
