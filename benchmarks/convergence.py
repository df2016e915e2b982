"""Convergence of the quantum-guided loop against classical training and HPO baselines.

    python benchmarks/convergence.py [--seeds 0 1 2 3 4] [--cycles 4] [--jobs 2] [--out FILE]

On the default tiny task (configs/tiny.yaml), for each seed it runs:
  fixed       classical training: the configured hyperparameters, 1 trial per cycle
  random      random search, k trials per cycle (k = training.trials_per_cycle)
  optuna-tpe  Optuna TPE through ask/tell, k trials per cycle
  qubo-sa     the QUBO optimizer (FM surrogate, simulated annealing), k trials per cycle
each for a fixed number of cycles (early stopping off), as separate ``qtrain run``
processes with one torch thread. It then reports, per proposer, the total training steps
(summed over all trials) needed to reach the fixed run's best eval loss of the same seed,
as a multiple of what the fixed run needed; the best exact match within equal step budgets;
and the optimizer's share of wall time. Median and spread (min..max) over seeds.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

PROPOSERS = {
    "fixed": ["quantum.solver_type=fixed", "training.trials_per_cycle=1"],
    "random": ["quantum.solver_type=random"],
    "optuna-tpe": ["quantum.solver_type=optuna-tpe"],
    "qubo-sa": ["quantum.solver_type=sa"],
}


def run_one(proposer: str, seed: int, cycles: int, out_dir: Path) -> dict[str, Any]:
    """One ``qtrain run`` in its own process; returns its report."""
    overrides = [
        *PROPOSERS[proposer],
        f"training.seed={seed}",
        f"quantum.seed={seed}",
        f"early_stopping.max_cycles={cycles}",
        "early_stopping.patience=100",
        f"runtime.output_dir={out_dir}",
        f"runtime.run_id={proposer}-s{seed}",
        "runtime.export_merged=false",
    ]
    cmd = [sys.executable, "-m", "qtrain.cli.app", "run", "--quiet", *overrides]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{proposer} seed {seed} failed: {done.stderr[-2000:]}")
    return json.loads((out_dir / f"{proposer}-s{seed}" / "report.json").read_text())


def trajectory(report: dict[str, Any]) -> list[tuple[int, float, float]]:
    """(cumulative steps, best eval loss so far, best exact match so far) after each trial."""
    points, steps, loss, em = [], 0, float("inf"), 0.0
    for cycle in report["cycles"]:
        for trial in cycle["trials"]:
            steps += trial["steps"]
            loss = min(loss, trial["metrics"]["eval_loss"])
            em = max(em, trial["metrics"]["exact_match"])
            points.append((steps, loss, em))
    return points


def steps_to(points: list[tuple[int, float, float]], target: float) -> int | None:
    """First cumulative step count at which the best loss is <= target (None: never)."""
    return next((s for s, loss, _ in points if loss <= target + 1e-12), None)


def em_within(points: list[tuple[int, float, float]], budget: int) -> float:
    """Best exact match among the trials finished within ``budget`` total steps."""
    return max((em for s, _, em in points if s <= budget), default=0.0)


def overhead(report: dict[str, Any]) -> float:
    """Seconds spent proposing (surrogate fit + solve) as a fraction of run wall time."""
    seconds = sum(
        t["proposal"].get("propose_seconds", 0.0) for c in report["cycles"] for t in c["trials"][:1]
    )
    return seconds / report["wall_seconds"]


def spread(values: list[float]) -> str:
    """``median (min..max)``."""
    if not values:
        return "never"
    return f"{statistics.median(values):.3g} ({min(values):.3g}..{max(values):.3g})"


def main() -> None:
    """Run every proposer for every seed, then print and save the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--cycles", type=int, default=4)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--proposers", nargs="+", default=list(PROPOSERS))
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    out_dir = Path(tempfile.mkdtemp(prefix="qtrain-convergence-"))
    jobs = [(p, s) for s in args.seeds for p in args.proposers]
    with ThreadPoolExecutor(args.jobs) as pool:
        reports = dict(
            zip(jobs, pool.map(lambda j: run_one(*j, args.cycles, out_dir), jobs), strict=True)
        )
    rows = {}
    for proposer in args.proposers:
        ratios, never, budget_em, final_em, over = [], 0, {}, [], []
        for seed in args.seeds:
            points = trajectory(reports[(proposer, seed)])
            fixed_points = trajectory(reports[("fixed", seed)])
            target = fixed_points[-1][1]
            fixed_steps = steps_to(fixed_points, target)
            needed = steps_to(points, target)
            if needed is None:
                never += 1
            else:
                ratios.append(needed / fixed_steps)
            for budget in sorted({p[0] for p in fixed_points}):
                budget_em.setdefault(budget, []).append(em_within(points, budget))
            final_em.append(points[-1][2])
            over.append(overhead(reports[(proposer, seed)]))
        rows[proposer] = {
            "steps_to_fixed_best_ratio": ratios,
            "never_reached": never,
            "best_em_within_budget": budget_em,
            "final_best_em": final_em,
            "optimizer_overhead_fraction": over,
        }
    budgets = sorted(rows["fixed"]["best_em_within_budget"]) if "fixed" in rows else []
    header = f"{'proposer':<12}{'steps to fixed best (x fixed)':<32}{'missed':<8}"
    header += "".join(f"{'EM@' + str(b):<20}" for b in budgets) + "overhead"
    print(header)
    for proposer, row in rows.items():
        line = f"{proposer:<12}{spread(row['steps_to_fixed_best_ratio']):<32}"
        line += f"{row['never_reached']}/{len(args.seeds):<6}"
        line += "".join(f"{spread(row['best_em_within_budget'][b]):<20}" for b in budgets)
        line += f"{statistics.median(row['optimizer_overhead_fraction']):.2%}"
        print(line)
    if args.out:
        args.out.write_text(
            json.dumps(
                {
                    "machine": f"{platform.machine()}, {platform.system()}, "
                    f"1 torch thread per run, {args.jobs} runs in parallel",
                    "seeds": args.seeds,
                    "cycles": args.cycles,
                    "rows": rows,
                },
                indent=2,
            )
            + "\n"
        )


if __name__ == "__main__":
    main()
