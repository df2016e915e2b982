"""The interactive decision prompt of ``qtrain run`` in guided mode."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from qtrain.cli.guided_prompt import GuidedPrompt
from qtrain.control.channel import ControlChannel
from qtrain.control.folder import ControlFolder


def test_an_answer_that_cannot_be_sent_is_asked_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk under ``control/commands.jsonl`` loses no decision: the prompt says it
    was not sent, in one line, and asks again."""
    out = io.StringIO()
    answers = ["a", "a"]
    prompt = GuidedPrompt(
        Console(file=out, width=120), lambda: tmp_path, ask=lambda _q: answers.pop(0)
    )
    real_send = ControlChannel.send
    failures = [OSError(28, "No space left on device", "control/commands.jsonl")]

    def send_once_failing(self: ControlChannel, command: str, **args: Any) -> Any:
        if failures:
            raise failures.pop()
        return real_send(self, command, **args)

    monkeypatch.setattr(ControlChannel, "send", send_once_failing)
    prompt._decide({"version": 1})
    said = out.getvalue()
    assert "not sent:" in said and "No space left on device" in said
    assert "Traceback" not in said and not answers
    (sent,) = ControlChannel(ControlFolder.of(tmp_path).commands).receive()
    assert sent.command == "approve" and sent.args["version"] == 1
