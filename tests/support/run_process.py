"""Driving ``qtrain`` as a real process in tests: its CLI, its events, waiting for them."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qtrain.events import read_events

#: One torch thread, no tokenizer threads: results comparable across processes.
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
Seen = Callable[[dict[str, Any]], bool]


def cli(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``qtrain ARGS --output-dir tmp_path``, run to its end."""
    cmd = [sys.executable, "-m", "qtrain.cli.app", *args, "--output-dir", str(tmp_path)]
    return subprocess.run(cmd, cwd=tmp_path, env=env or ENV, text=True, capture_output=True,
                          timeout=120)  # fmt: skip


def events(run_dir: Path) -> list[dict[str, Any]]:
    """The run's events so far (none before it wrote any)."""
    path = run_dir / "events.jsonl"
    return read_events(path) if path.is_file() else []


def wait_for(run_dir: Path, seen: Seen, proc: Any = None, count: int = 1) -> None:
    """Until ``count`` events satisfy ``seen`` (an error if ``proc`` ends first)."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if sum(1 for e in events(run_dir) if seen(e)) >= count:
            return
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the run ended early: {proc.stderr.read()[-2000:]}")
        time.sleep(0.05)
    raise AssertionError("timed out waiting for the run")
