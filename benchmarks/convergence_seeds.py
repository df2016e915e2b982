"""Issue 10's figures over more seeds: two convergence results files with the same grid, merged.

    python benchmarks/convergence_seeds.py A.json B.json [--out FILE]

B adds seeds to A, for example ``convergence.py --reuse A.json --seeds 5 6 7 8 9 --methods
qubo-sa-halving random-halving optuna-tpe-halving`` (the baselines of the targets run too).
Per task, the merged results keep the methods both files have, each with the seeds of both,
print convergence.py's tables over them, and count the targets seed by seed:

  (a) fast     steps to classical training's (defaults) best loss at B <= 0.5x B
  (a) no stuck at B, eval loss <= (a)'s and exact match no more than 0.02 below it
  (b)          steps to the oracle's loss at B <= 1.0x B
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from convergence import print_task

BASELINES = ("default-cycled", "default-single", "oracle")


def merge(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    """Per task, the methods both results hold, with the seeds of both (seed keys as ints)."""
    tasks = {}
    for task, mine in first["tasks"].items():
        theirs = second["tasks"][task]
        if mine["grid"]["winner"] != theirs["grid"]["winner"]:
            raise SystemExit(f"{task}: the two files' oracles differ; merge only the same grid")
        methods = {}
        for method, row in mine["methods"].items():
            if method in theirs["methods"]:
                seeds = {**row["seeds"], **theirs["methods"][method]["seeds"]}
                methods[method] = {"seeds": {int(s): v for s, v in seeds.items()}}
        tasks[task] = {"grid": mine["grid"], "methods": methods}
    return tasks


def targets(result: dict[str, Any], seeds: list[int]) -> dict[str, dict[str, int]]:
    """Per loop method: in how many seeds each of issue 10's targets holds."""
    rows = result["methods"]
    counts = {}
    for method in [m for m in rows if m not in BASELINES]:
        fast = stuck_free = oracle = 0
        for seed in seeds:
            mine = rows[method]["seeds"][seed]
            classical = min((rows[m]["seeds"][seed] for m in BASELINES[:2]),
                            key=lambda r: r["loss_at_B"])  # fmt: skip
            fast += (mine["steps_to_a"] or 99) <= 0.5
            stuck_free += (mine["loss_at_B"] <= classical["loss_at_B"]
                           and mine["em_at_B"] >= classical["em_at_B"] - 0.02)  # fmt: skip
            oracle += (mine["steps_to_b"] or 99) <= 1.0
        counts[method] = {"fast": fast, "no_stuck": stuck_free, "oracle": oracle}
    return counts


def main() -> None:
    """Merge, print the tables and the target counts, and save."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("first", type=Path)
    parser.add_argument("second", type=Path)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    first, second = (json.loads(p.read_text(encoding="utf-8")) for p in (args.first, args.second))
    seeds = sorted({*first["seeds"], *second["seeds"]})
    tasks = merge(first, second)
    summary = {}
    for task, result in tasks.items():
        print_task(task, result, seeds)
        summary[task] = targets(result, seeds)
        for method, count in summary[task].items():
            print(
                f"  {method}: (a) <= 0.5x in {count['fast']}, no stuck run in "
                f"{count['no_stuck']}, (b) <= 1.0x in {count['oracle']} of {len(seeds)} seeds"
            )
    if args.out:
        command = " ".join(["python", *sys.argv])
        payload = {"machine": second["machine"], "seeds": seeds,
                   "budget_steps": first["budget_steps"], "command": command,
                   "from": [first.get("command"), second.get("command")],
                   "targets": summary, "tasks": tasks}  # fmt: skip
        args.out.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
