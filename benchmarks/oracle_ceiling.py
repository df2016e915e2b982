"""A ceiling for target (b): the best schedules of the search space, given fewer steps.

    python benchmarks/oracle_ceiling.py [--results benchmarks/results/convergence.json]
                                        [--steps 200 300] [--cycles 2 3] [--grid-steps 200]
                                        [--grid-tasks TASK ...]
                                        [--seeds 0 1 2 3 4] [--jobs 2] [--work DIR] [--out FILE]

Issue 10's target (b) asks a loop to reach the oracle's 400-step eval loss in <= 1.0x its
steps, counting every trial's steps. A loop spends part of its steps on candidates that lose:
with successive halving (4 candidates, 25-step rungs, 100-step cycles) a cycle costs 175
steps and moves the winning lineage 100, so when 400 steps are spent the lineage has trained
at most 200 (trials end at 175 and 350). This command measures, against the oracle's loss at
400 steps on the same seed, what the best a lineage of fewer steps could do:

- ``--steps``: the oracle's settings (the grid winner stored in ``--results``) as one
  schedule of that many steps, on every seed;
- ``--cycles``: the oracle's settings chosen in every cycle of the loop's cycle structure
  (100-step cycles, each trial continuing the last): a loop whose every proposal is the
  oracle and that spends nothing on exploring, on every seed;
- ``--grid-steps``: the whole grid again, as one schedule of that many steps on seed 0: is
  another point of the space better than the oracle's when the budget is shorter? Its winner
  then runs on every seed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from convergence import REPO, SINGLE, grid_points, run, trials

CYCLE_STEPS = 100  #: the loop's steps_per_cycle in convergence.py


def single(params: dict[str, object], steps: int, seed: int) -> list[str]:
    """``params`` as one schedule of ``steps`` steps on ``seed``."""
    plain = [o for o in SINGLE if not o.startswith("training.steps_per_cycle=")]
    return [*plain, f"training.steps_per_cycle={steps}", *_seeded(params, seed)]


def cycled(params: dict[str, object], cycles: int, seed: int) -> list[str]:
    """``params`` chosen in each of ``cycles`` cycles of the loop, each continuing the last."""
    fixed = ["quantum.solver_type=fixed", "training.trials_per_cycle=1",
             f"early_stopping.max_cycles={cycles}", f"training.steps_per_cycle={CYCLE_STEPS}",
             f"early_stopping.patience={cycles}"]  # fmt: skip
    return [*fixed, *_seeded(params, seed)]


def _seeded(params: dict[str, object], seed: int) -> list[str]:
    pinned = (f"{k}={v}" for k, v in params.items())
    return [f"training.seed={seed}", f"quantum.seed={seed}", *pinned]


def best_loss(report: dict[str, Any]) -> float:
    """The lowest eval loss of a run's completed trials."""
    return min(t["eval_loss"] for t in trials(report) if t["status"] == "completed")


class Ceiling:
    """Runs one task's variants two at a time and keeps what they measured."""

    def __init__(self, task: str, result: dict[str, Any], args: argparse.Namespace,
                 pool: ThreadPoolExecutor, out: Path) -> None:  # fmt: skip
        self.task, self.args, self.pool, self.out = task, args, pool, out
        self.winner = result["grid"]["winner"]
        self.at_400 = {s: result["methods"]["oracle"]["seeds"][str(s)]["loss_at_B"]
                       for s in args.seeds}  # fmt: skip

    def losses(self, names: list[str], overrides: list[list[str]]) -> list[float]:
        """Best eval loss of each run (``<task>-<name>`` in the work folder)."""
        names = [f"{self.task}-{name}" for name in names]
        tasks = [self.task] * len(names)
        reports = self.pool.map(run, tasks, names, overrides, [self.out] * len(names))
        return [best_loss(r) for r in reports]

    def per_seed(self, label: str, overrides: list[list[str]], what: str) -> dict[str, Any]:
        """Run one variant on every seed, print its line, and return its figures."""
        seeds = self.args.seeds
        mine = self.losses([f"{label}-s{s}" for s in seeds], overrides)
        reached = sum(loss <= self.at_400[s] + 1e-9 for loss, s in zip(mine, seeds, strict=True))
        middle = f"{statistics.median(mine):.3f} ({min(mine):.3f}..{max(mine):.3f})"
        print(f"  {what}: loss {middle}; reaches the oracle's 400-step loss in {reached} of "
              f"{len(seeds)} seeds")  # fmt: skip
        return {"losses": dict(zip(map(str, seeds), mine, strict=True)), "reached": reached}

    def grid(self, steps: int) -> dict[str, Any]:
        """The whole grid at ``steps`` steps on seed 0; its winner then on every seed."""
        points = grid_points(REPO / "configs" / "bench" / f"{self.task}.yaml", "lr-scheduler")
        names = [f"grid{steps}-p{i}" for i in range(len(points))]
        losses = self.losses(names, [single(p, steps, 0) for p in points])
        best = min(range(len(points)), key=losses.__getitem__)
        winner = points[best]
        print(f"  grid at {steps} steps on seed 0 ({len(points)} points): best {winner}, "
              f"loss {losses[best]:.3f}")  # fmt: skip
        runs = [single(winner, steps, s) for s in self.args.seeds]
        seeds = self.per_seed(f"grid{steps}-winner", runs, f"its winner, {steps} steps")
        seed0 = {json.dumps(p): v for p, v in zip(points, losses, strict=True)}
        return {"winner": winner, "seed0": seed0, **seeds}


def main() -> None:
    """Run every variant and print the comparison with the oracle's 400-step loss."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path,
                        default=REPO / "benchmarks" / "results" / "convergence.json")  # fmt: skip
    parser.add_argument("--steps", type=int, nargs="*", default=[200, 300])
    parser.add_argument("--cycles", type=int, nargs="*", default=[2, 3])
    parser.add_argument("--grid-steps", type=int, nargs="*", default=[200])
    parser.add_argument("--grid-tasks", nargs="*", help="Run --grid-steps on these (default: all)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--work", type=Path, help="Keep (and reuse) the runs here")
    args = parser.parse_args()
    results = json.loads(args.results.read_text(encoding="utf-8"))
    out = args.work or Path(tempfile.mkdtemp(prefix="qtrain-oracle-ceiling-"))
    out.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {"command": " ".join(["python", *sys.argv]), "tasks": {}}
    with ThreadPoolExecutor(args.jobs) as pool:
        for task, result in results["tasks"].items():
            ceiling = Ceiling(task, result, args, pool, out)
            print(f"\n{task}: oracle {ceiling.winner}; its loss at 400 steps per seed: "
                  + ", ".join(f"{ceiling.at_400[s]:.3f}" for s in args.seeds))  # fmt: skip
            shorter = {str(n): ceiling.per_seed(
                f"oracle-{n}", [single(ceiling.winner, n, s) for s in args.seeds],
                f"oracle settings, one {n}-step schedule") for n in args.steps}  # fmt: skip
            in_cycles = {str(c): ceiling.per_seed(
                f"oracle-cycled{c}", [cycled(ceiling.winner, c, s) for s in args.seeds],
                f"oracle settings in {c} cycles of {CYCLE_STEPS} ({c * CYCLE_STEPS} steps)")
                for c in args.cycles}  # fmt: skip
            gridded = args.grid_tasks is None or task in args.grid_tasks
            grids = {str(n): ceiling.grid(n) for n in args.grid_steps} if gridded else {}
            summary["tasks"][task] = {
                "winner": ceiling.winner,
                "loss_at_400": {str(s): v for s, v in ceiling.at_400.items()},
                "shorter": shorter, "cycled": in_cycles, "grid": grids,
            }  # fmt: skip
    if args.out:
        args.out.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
