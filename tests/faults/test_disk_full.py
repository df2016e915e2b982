"""A full disk is the machine's failure, not the trial's: the run stops with one line and a
non-zero exit, records no failed trial, and ``qtrain run --resume`` after space is freed
gives the fault-free result (same trials, same metrics, same adapter weights).

The disk really fills: the run directory lives on a small tmpfs, and a filler file takes its
last byte while cycle 2 trains.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file
from support.run_process import ENV, wait_for
from support.tmpfs import fill, free_space_bytes, mounted_tmpfs

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
OVERRIDES = [
    "training.steps_per_cycle=16", "training.logging_steps=1", "early_stopping.max_cycles=2",
    "data.eval_size=32", "evaluation.max_new_tokens=8", "runtime.threads=1",
]  # fmt: skip


def run(output: Path, run_id: str, *extra: str) -> subprocess.Popen[str]:
    if extra and extra[0] == "--resume":
        args = list(extra)
    else:
        args = [str(REPO / "configs/tiny.yaml"), *OVERRIDES, f"runtime.output_dir={output}",
                f"runtime.run_id={run_id}"]  # fmt: skip
    cmd = [sys.executable, "-m", "qtrain.cli.app", "run", "--quiet", *args]
    return subprocess.Popen(cmd, cwd=output, env=ENV, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip


def finished(run_dir: Path) -> dict[str, Any]:
    report = json.loads((run_dir / "report.json").read_text())
    trials = [
        (t["checkpoint"], t["status"], t["metrics"]) for c in report["cycles"] for t in c["trials"]
    ]
    weights = load_file(run_dir / "export/adapter/adapter_model.safetensors")
    return {"status": report["status"], "trials": trials, "weights": weights}


def history(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / "history.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_a_full_disk_stops_the_run_and_resume_gives_the_same_result(tmp_path: Path) -> None:
    reference_dir = tmp_path / "reference"
    reference_dir.mkdir()
    proc = run(reference_dir, "r")
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-2000:]
    reference = finished(reference_dir / "r")

    with mounted_tmpfs(tmp_path / "disk", size_mb=256) as disk:
        run_dir = disk / "f"
        proc = run(disk, "f")
        mid_cycle_2 = lambda e: e["type"] == "step" and e["cycle"] == 2 and e["step"] >= 3  # noqa: E731
        wait_for(run_dir, mid_cycle_2, proc)
        filler = fill(disk)
        assert free_space_bytes(disk) < 4096
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 75, (out + err)[-3000:]
        said = [line for line in (out + err).splitlines() if "disk full" in line]
        assert said, (out + err)[-3000:]
        assert "Traceback" not in err
        records = history(run_dir)
        assert all(r["status"] != "failed" for r in records), "the machine's failure is no trial's"
        assert {r["cycle"] for r in records} == {1}

        filler.unlink()  # the user frees space, then resumes
        proc = run(disk, "f", "--resume", str(run_dir))
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-3000:]
        resumed = finished(run_dir)
    assert resumed["status"] == reference["status"] == "completed"
    assert resumed["trials"] == reference["trials"]
    assert resumed["weights"].keys() == reference["weights"].keys()
    for name, tensor in reference["weights"].items():
        assert torch.equal(resumed["weights"][name], tensor), name
