"""The dashboard's latency and its cost to the run it watches, on the tiny config.

    python benchmarks/ui.py [--pairs 3] [--out FILE]

For each pair, in alternating order, runs ``qtrain run configs/tiny.yaml`` (one torch
thread) twice: once plain, once with ``--ui`` and a real browser (Playwright + Debian's
chromium) on the run page for the whole run. Reports:

  latency   from a ``step`` event being written (its ``ts``) to the page having drawn it
            (the chart's draw hook, ``Date.now()``), over every step event; target: median
            <= 0.5 s
  cost      wall time with the dashboard and a browser attached / without, per pair
            (the run's own ``wall_seconds``); target: median <= +2%, spread reported

Prints the figures and the machine; ``--out`` writes them as JSON. On a 2-core machine the
browser competes with the run for the CPU: that is part of the measured cost.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
OVERRIDES = ["training.steps_per_cycle=60", "training.logging_steps=2", "runtime.threads=1",
             "early_stopping.max_cycles=3", "runtime.export_merged=false"]  # fmt: skip
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}


def run(out: Path, run_id: str, ui: bool) -> dict[str, Any]:
    """One run (with the dashboard and a browser on it when ``ui``): its report and, with
    ``ui``, the page's latencies."""
    where = [f"runtime.output_dir={out}", f"runtime.run_id={run_id}", "--quiet"]
    cmd = [sys.executable, "-m", "qtrain.cli.app", "run", str(REPO / "configs/tiny.yaml"),
           *OVERRIDES, *where]  # fmt: skip
    if not ui:
        subprocess.run(cmd, env=ENV, check=True, capture_output=True, text=True)
        return {"report": json.loads((out / run_id / "report.json").read_text())}
    from playwright.sync_api import sync_playwright

    proc = subprocess.Popen([*cmd, "--ui", "--ui-port", "0"], env=ENV, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    assert proc.stderr is not None
    url = None
    while url is None:
        line = proc.stderr.readline()
        if not line and proc.poll() is not None:
            raise SystemExit(f"the run ended before serving its dashboard: {proc.stderr.read()}")
        found = re.search(r"dashboard: (http://\S+)", line)
        url = found.group(1) if found else None
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM)
        page = browser.new_page()
        page.goto(url)
        latencies: list[float] = []
        while proc.poll() is None:  # read before the run ends and takes the server with it
            latencies = page.evaluate("() => window.qtrainPage.latencies.slice()")
            time.sleep(0.5)
        browser.close()
    proc.communicate()
    report = json.loads((out / run_id / "report.json").read_text())
    return {"report": report, "latencies": latencies}


def main() -> None:
    """Run the pairs and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    machine = f"{platform.machine()} {platform.system()}, {os.cpu_count()} cores, 1 torch thread"
    print(f"machine: {machine}")
    pairs, latencies = [], []
    with tempfile.TemporaryDirectory(prefix="qtrain-ui-bench-") as tmp:
        for i in range(args.pairs):
            order = (False, True) if i % 2 == 0 else (True, False)
            got = {ui: run(Path(tmp), f"p{i}-{'ui' if ui else 'plain'}", ui) for ui in order}
            plain, watched = got[False]["report"], got[True]["report"]
            ratio = watched["wall_seconds"] / plain["wall_seconds"]
            latencies += got[True]["latencies"]
            first = "plain first" if i % 2 == 0 else "ui first"
            pairs.append({"plain_s": plain["wall_seconds"], "ui_s": watched["wall_seconds"],
                          "ratio": ratio, "order": first})  # fmt: skip
            print(f"pair {i}: plain {plain['wall_seconds']:.1f} s, with ui "
                  f"{watched['wall_seconds']:.1f} s ({(ratio - 1) * 100:+.1f}%)")  # fmt: skip
    ratios = [p["ratio"] for p in pairs]
    latencies.sort()
    summary = {
        "machine": machine,
        "command": f"python benchmarks/ui.py --pairs {args.pairs}",
        "pairs": pairs,
        "cost_pct": {"median": (statistics.median(ratios) - 1) * 100,
                     "min": (min(ratios) - 1) * 100, "max": (max(ratios) - 1) * 100},
        "latency_s": {"events": len(latencies), "median": statistics.median(latencies),
                      "p95": latencies[int(0.95 * (len(latencies) - 1))], "max": latencies[-1]},
    }  # fmt: skip
    lat, cost = summary["latency_s"], summary["cost_pct"]
    print(
        f"latency, write -> drawn: median {lat['median']:.3f} s, p95 {lat['p95']:.3f} s, "
        f"max {lat['max']:.3f} s over {lat['events']} step events (target: median <= 0.5 s)"
    )
    print(f"cost with dashboard + browser: median {cost['median']:+.1f}% "
          f"(spread {cost['min']:+.1f}% .. {cost['max']:+.1f}%; target <= +2%)")  # fmt: skip
    if args.out:
        args.out.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
