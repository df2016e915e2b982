"""The control plane's latency and cost on the tiny config.

    python benchmarks/control.py [--repeats 5] [--out FILE]

Runs ``qtrain run configs/tiny.yaml`` (one torch thread) as a process and, while it trains,
sends commands through the control channel as ``qtrain pause/resume/stop`` do:

  latency   from a command being recorded (its ``when``) to the run acknowledging the state
            it asked for: ``pause --now`` -> state ``paused``, ``resume`` -> ``running``,
            ``stop`` -> ``stopping``; target: under one optimizer step + 0.5 s. ``stopped``:
            until the stopped run wrote its report (saving the trial; no target)
  step      the median optimizer step of the same run (from its step events)
  cost      the safe-point checks' time (``control_checks`` event: checks x per-check time)
            as a share of the run's wall time; target <= 1%

Prints the figures and the machine; ``--out`` writes them as JSON.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from qtrain.control import ControlChannel  # noqa: E402
from qtrain.control.folder import ControlFolder  # noqa: E402
from qtrain.events import read_events  # noqa: E402


def _events(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / "events.jsonl"
    return read_events(path) if path.is_file() else []


def _wait(run_dir: Path, match: Any, after: float, timeout: float = 300.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for event in _events(run_dir):
            if event["ts"] >= after and match(event):
                return event
        time.sleep(0.02)
    raise RuntimeError("timed out waiting for the run")


def _state(name: str) -> Any:
    return lambda e: e["type"] == "state" and e["state"] == name


def one_run(work: Path, index: int) -> dict[str, Any]:
    """One run: pause --now, resume, then stop, each timed; the checks' cost from its events."""
    run_id = f"control-{index}"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    cmd = [sys.executable, "-m", "qtrain.cli.app", "run", "--quiet", "configs/tiny.yaml",
           f"runtime.output_dir={work}", f"runtime.run_id={run_id}", "runtime.threads=1",
           "training.logging_steps=1"]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    run_dir = work / run_id
    channel = ControlChannel(ControlFolder.of(run_dir).commands)
    _wait(run_dir, lambda e: e["type"] == "step" and e["cycle"] == 1 and e["step"] >= 40, 0)
    latencies = {}
    for command, args, state in (
        ("pause", {"after": "now"}, "paused"),
        ("resume", {}, "running"),
        ("stop", {}, "stopping"),
    ):
        sent = channel.send(command, **args)
        acked = _wait(run_dir, _state(state), sent.when)
        latencies[f"{command}{'-now' if args else ''}"] = acked["ts"] - sent.when
        if command == "pause":
            time.sleep(0.5)  # held for a moment
    proc.communicate(timeout=300)
    latencies["stopped"] = _wait(run_dir, _state("stopped"), sent.when)["ts"] - sent.when
    events = _events(run_dir)
    steps = [e for e in events if e["type"] == "step"]
    step_times = [b["ts"] - a["ts"] for a, b in itertools.pairwise(steps)
                  if b["trial"] == a["trial"] and b["cycle"] == a["cycle"]]  # fmt: skip
    checks = next(e for e in events if e["type"] == "control_checks")
    wall = events[-1]["ts"] - events[0]["ts"]
    return {
        "latency_s": latencies,
        "step_s": statistics.median(step_times),
        "checks": checks["checks"],
        "check_seconds": checks["seconds"],
        "wall_s": wall,
        "cost_share": checks["seconds"] / wall,
        "exit_code": proc.returncode,
    }


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    machine = f"{platform.machine()} {platform.system()}, {os.cpu_count()} cores, 1 torch thread"
    print(f"machine: {machine}")
    with tempfile.TemporaryDirectory(prefix="qtrain-control-") as tmp:
        runs = [one_run(Path(tmp), i) for i in range(args.repeats)]
    summary: dict[str, Any] = {"machine": machine, "runs": runs}
    for name in runs[0]["latency_s"]:  # "stopped" last: the whole graceful stop
        values = [r["latency_s"][name] for r in runs]
        summary[f"{name}_latency_s"] = {"median": statistics.median(values), "max": max(values)}
        print(
            f"{name:10s} latency: median {statistics.median(values):.3f} s, max {max(values):.3f} s"
        )
    step = statistics.median(r["step_s"] for r in runs)
    share = max(r["cost_share"] for r in runs)
    per_check = statistics.median(r["check_seconds"] / r["checks"] for r in runs)
    summary.update(step_s=step, per_check_s=per_check, max_cost_share=share)
    print(f"optimizer step: median {step:.3f} s -> latency target {step + 0.5:.3f} s")
    total = max(r["check_seconds"] for r in runs)
    print(f"checks: {runs[0]['checks']} per run x {per_check * 1e6:.0f} us = {total:.3f} s, "
          f"{share:.3%} of the run's wall time")  # fmt: skip
    if args.out:
        args.out.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
