"""Ending a sidecar: a proxy that does not answer is reported in one line, never raised."""

from __future__ import annotations

import pytest

from qtrain.cli.sidecar import quit_sidecar, sidecar_ended_after


def test_an_unreachable_sidecar_is_one_reported_line() -> None:
    lines: list[str] = []
    assert quit_sidecar("http://127.0.0.1:9/quitquitquit", lines.append, timeout_s=2) is False
    (line,) = lines
    assert line.startswith("could not end the sidecar at http://127.0.0.1:9/quitquitquit: ")


def test_the_block_error_stands_and_no_url_means_no_call() -> None:
    lines: list[str] = []
    with (
        pytest.raises(RuntimeError, match="submit failed"),
        sidecar_ended_after("not a url", lines.append),
    ):
        raise RuntimeError("submit failed")
    assert len(lines) == 1 and "not a url" in lines[0]
    with sidecar_ended_after(None, lines.append):
        pass
    assert len(lines) == 1
