"""The unsloth backend on CPU (unsloth >= 2026.10.9), in a subprocess.

Importing unsloth patches transformers, PEFT and TRL for the whole process, so these tests
run qtrain in a child process and leave the test process unpatched. CI installs unsloth's CPU
set (``make setup-unsloth-cpu``); elsewhere the tests are skipped by the ``unsloth`` marker's
condition.
"""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from qtrain.backends import select_backend
from qtrain.events import read_events

pytestmark = [
    pytest.mark.unsloth,
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("unsloth") is None,
        reason="unsloth is not installed (make setup-unsloth-cpu)",
    ),
]


def test_unsloth_backend_trains_and_resumes_on_cpu(tiny_overrides: list[str]) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "qtrain.cli.app",
            "run",
            "--quiet",
            *tiny_overrides,
            "model.backend=unsloth",
            "training.steps_per_cycle=30",
            "training.trials_per_cycle=2",
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    run_dir = Path(result.stdout.strip().splitlines()[-1].removeprefix("run directory: "))
    events = read_events(run_dir / "events.jsonl")
    loaded = next(e for e in events if e["type"] == "model_loaded")
    assert loaded["backend"] == "unsloth" and loaded["device"] == "cpu"
    report = json.loads((run_dir / "report.json").read_text())
    cycles = report["cycles"]
    assert [len(c["trials"]) for c in cycles] == [2, 2]
    first_cycle_checkpoints = {t["checkpoint"] for t in cycles[0]["trials"]}
    assert {t["start_checkpoint"] for t in cycles[1]["trials"]} <= first_cycle_checkpoints
    first = min(t["metrics"]["eval_loss"] for t in cycles[0]["trials"])
    second = min(t["metrics"]["eval_loss"] for t in cycles[1]["trials"])
    assert second < first < 3.0  # learning from the incumbent, not from scratch
    assert (run_dir / "export" / "adapter" / "adapter_model.safetensors").is_file()


def test_auto_prefers_hf_on_cpu_even_with_unsloth_installed() -> None:
    assert select_backend("auto", "cpu").name == "hf"
    assert "unsloth" not in sys.modules  # choosing did not import (and patch) anything
