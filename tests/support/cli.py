"""Run ``qtrain ARGS`` through the real entry point in this process."""

from __future__ import annotations

import sys

import pytest


def run_cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str, str]:
    """``qtrain ARGS`` as the console script runs it: (exit code, stdout, stderr)."""
    from qtrain.cli.app import main

    capsys.readouterr()
    monkeypatch.setattr(sys, "argv", ["qtrain", *args])
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out, captured.err
