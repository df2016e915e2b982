"""Convergence, measured fairly: training steps to the quality of what a user would do instead.

    python benchmarks/convergence.py [--tasks reverse shift] [--seeds 0 1 2 3 4]
                                     [--grid lr-scheduler|full] [--jobs 2] [--out FILE]
                                     [--work DIR]

For each task (``configs/bench/<task>.yaml``: the user's defaults, learning rate 2e-4, and a
search space symmetric around them) and each seed, every method runs as its own
``qtrain run`` process with one torch thread, ``--jobs`` at a time:

  default-cycled  (a) classical training with the documented defaults, 4 cycles of 100 steps
  default-single  (a) the same defaults as one schedule of B = 400 steps
  oracle          (b) the winner of a grid over the search space (seed 0, budget B each; the
                  grid's cost is printed), run on every seed as one schedule of B steps
  random          (c) random search in the loop, k trials per cycle, the default queued first
  optuna-tpe      (c) Optuna TPE in the loop, the default queued first
  qubo-sa         the quantum-guided loop (FM surrogate, simulated annealing)
  *-halving       the same loop with successive halving: k = 4 candidates (the incumbent's
                  settings and 3 proposals) train a rung of 25 steps each, the best one the
                  other 75 of the cycle (175 steps a cycle instead of 2 x 100)
  *-lineage       the same loop keeping the defaults' own lineage alive (one more trial of
                  100 steps a cycle while it is not the incumbent's)
  qubo-*-global   the QUBO loop without its trust region (quantum.trust_radius=0): every
                  proposal and the initial design span the whole space (before issue 10)

The loops run 4 cycles of k=2 trials (2B steps), so their trajectories show where they cross
the baselines. "Steps" are training steps summed over every trial,
halved rungs included (GPU-steps); the wall time with a cycle's k trials in parallel is
reported beside it. Runs are kept in ``--work`` (default: a new temp folder); a run whose
report is already there is not run again, so an interrupted benchmark resumes and a new
method can be added to a finished one. ``--reuse FILE --rerun METHOD ...`` runs only the named
methods and takes the grid and the other methods' runs from an earlier results file (for a
change that touches only those methods; each reused row says so).

Reported per method (median (min..max) over seeds, paired by seed):
  steps to (a)  steps until the incumbent's eval loss <= the better (a) run's at B, x B
  steps to (b)  the same for the oracle's eval loss at B, x B
  loss@B, EM@B  the incumbent after B steps (the last trial finished within B)
  overhead      time spent proposing / run wall time
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BUDGET = 400  # B: the classical run's 4 cycles x 100 steps
LOOP = ["early_stopping.max_cycles=4", "training.steps_per_cycle=100"]
SINGLE = ["quantum.solver_type=fixed", "training.trials_per_cycle=1",
          "early_stopping.max_cycles=1", f"training.steps_per_cycle={BUDGET}"]  # fmt: skip
METHODS = {
    "default-cycled": ["quantum.solver_type=fixed", "training.trials_per_cycle=1", *LOOP],
    "default-single": SINGLE,
    "random": ["quantum.solver_type=random", *LOOP],
    "optuna-tpe": ["quantum.solver_type=optuna-tpe", *LOOP],
    "qubo-sa": ["quantum.solver_type=sa", *LOOP],
}
HALVING = ["training.trials_per_cycle=4", "training.rung_steps=25"]
METHODS.update({
    f"{name}-halving": [*METHODS[name], *HALVING] for name in ("random", "optuna-tpe", "qubo-sa")
})  # fmt: skip
LINEAGE = ["quantum.default_lineage=true"]
METHODS.update({
    "qubo-sa-lineage": [*METHODS["qubo-sa"], *LINEAGE],
    "qubo-sa-halving-lineage": [*METHODS["qubo-sa-halving"], *LINEAGE],
})  # fmt: skip
GLOBAL = ["quantum.trust_radius=0"]
METHODS.update({
    "qubo-sa-global": [*METHODS["qubo-sa"], *GLOBAL],
    "qubo-sa-halving-global": [*METHODS["qubo-sa-halving"], *GLOBAL],
})  # fmt: skip
GRIDS = {  # which search-space parameters the oracle grid varies (the others: defaults)
    "lr-scheduler": ("training.learning_rate", "training.lr_scheduler"),
    "full": ("training.learning_rate", "training.lr_scheduler", "model.lora.r"),
}


def run(task: str, name: str, overrides: list[str], out: Path) -> dict[str, Any]:
    """One ``qtrain run`` of ``configs/bench/<task>.yaml``; returns its report (an existing
    completed report of the same run name is reused; a run stopped part-way runs again)."""
    done_report = out / name / "report.json"
    if done_report.is_file():
        report = json.loads(done_report.read_text(encoding="utf-8"))
        if report.get("status") == "completed":
            return report
        shutil.rmtree(out / name)  # stopped part-way (the benchmark was interrupted): again
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    where = [f"runtime.output_dir={out}", f"runtime.run_id={name}"]
    cmd = [sys.executable, "-m", "qtrain.cli.app", "run", f"configs/bench/{task}.yaml",
           "--quiet", *overrides, *where]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{task} {name} failed: {done.stderr[-2000:]}")
    return json.loads((out / name / "report.json").read_text(encoding="utf-8"))


def trials(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Every trial in order, with what the benchmark keeps of it."""
    rows = []
    for cycle in report["cycles"]:
        for t in cycle["trials"]:
            metrics = t["metrics"]
            rows.append({
                "cycle": cycle["cycle"], "trial": t["trial"], "steps": t["steps"],
                "params": t["params"], "source": t["proposal"].get("source"),
                "status": t["status"], "eval_loss": metrics.get("eval_loss", float("inf")),
                "exact_match": metrics.get("exact_match", 0.0),
                "train_seconds": t["train"].get("train_seconds", 0.0),
            })  # fmt: skip
    return rows


def trajectory(rows: list[dict[str, Any]]) -> list[tuple[int, float, float]]:
    """(cumulative steps, incumbent eval loss, incumbent exact match) after each trial.

    Only completed trials can become the incumbent; within a cycle of successive halving
    the rungs (halved or failed) come before the continuation they selected.
    """
    ordered = sorted(rows, key=lambda r: (r["cycle"], r["status"] == "completed", r["trial"]))
    points, steps, best = [], 0, (float("inf"), 0.0)
    for row in ordered:
        steps += row["steps"]
        if row["status"] == "completed" and row["eval_loss"] < best[0]:
            best = (row["eval_loss"], row["exact_match"])
        points.append((steps, *best))
    return points


def steps_to(points: list[tuple[int, float, float]], target: float) -> float | None:
    """Steps (x B) until the incumbent's loss is <= ``target``; None: never."""
    return next((s / BUDGET for s, loss, _ in points if loss <= target + 1e-9), None)


def at_budget(points: list[tuple[int, float, float]]) -> tuple[float, float]:
    """The incumbent's (eval loss, exact match) once ``BUDGET`` steps are spent."""
    within = [p for p in points if p[0] <= BUDGET]
    return (within[-1][1], within[-1][2]) if within else (float("inf"), 0.0)


def parallel_wall(report: dict[str, Any], rows: list[dict[str, Any]]) -> float:
    """Wall time had each cycle's trials trained side by side (evaluation unchanged)."""
    per_cycle: dict[int, list[float]] = {}
    for row in rows:
        per_cycle.setdefault(row["cycle"], []).append(row["train_seconds"])
    serial = sum(sum(v) for v in per_cycle.values())
    return report["wall_seconds"] - serial + sum(max(v) for v in per_cycle.values())


def overhead(report: dict[str, Any]) -> float:
    """Seconds spent proposing (surrogate fit + solve) as a fraction of run wall time."""
    seconds = sum(c["trials"][0]["proposal"].get("propose_seconds", 0.0) for c in report["cycles"])
    return seconds / report["wall_seconds"]


def spread(values: list[float | None]) -> str:
    """``median (min..max)``, with the count of runs that never got there."""
    got = [v for v in values if v is not None]
    never = len(values) - len(got)
    if not got:
        return "never"
    text = f"{statistics.median(got):.2f} ({min(got):.2f}..{max(got):.2f})"
    return text + (f" {never} never" if never else "")


def grid_points(config_path: Path, grid: str) -> list[dict[str, Any]]:
    """The grid: every combination of the varied parameters' levels."""
    import yaml

    space = yaml.safe_load(config_path.read_text(encoding="utf-8"))["search_space"]
    names = GRIDS[grid]
    return [dict(zip(names, combo, strict=True))
            for combo in itertools.product(*(space[n]["values"] for n in names))]  # fmt: skip


def benchmark_task(task: str, seeds: list[int], grid: str, pool: ThreadPoolExecutor, out: Path,
                   rerun: list[str], reused: dict[str, Any] | None,
                   methods: list[str]) -> dict[str, Any]:  # fmt: skip
    """Grid, oracle and ``methods`` on every seed of one task; with ``reused`` (this task's
    part of an earlier results file) the grid is taken from it, and with ``rerun`` only those
    methods run and the rest of ``methods`` are taken from it too."""
    if reused is None:
        grid_result, oracle = run_grid(task, grid, pool, out)
        fresh = methods
    elif not rerun:  # new seeds: the earlier file's grid and oracle, these methods run
        grid_result, fresh = reused["grid"], methods
        oracle = [*SINGLE, *(f"{k}={v}" for k, v in grid_result["winner"].items())]
    else:
        grid_result, fresh = reused["grid"], rerun
        oracle = [*SINGLE, *(f"{k}={v}" for k, v in grid_result["winner"].items())]
    jobs = [(m, s) for s in seeds for m in fresh]

    def one(job: tuple[str, int]) -> dict[str, Any]:
        method, seed = job
        overrides = oracle if method == "oracle" else METHODS[method]
        seeded = [*overrides, f"training.seed={seed}", f"quantum.seed={seed}"]
        return run(task, f"{task}-{method}-s{seed}", seeded, out)

    reports = dict(zip(jobs, pool.map(one, jobs), strict=True))
    runs: dict[tuple[str, int], dict[str, Any]] = {}
    for method, seed in itertools.product(methods, seeds):
        if (method, seed) in reports:
            report = reports[(method, seed)]
            runs[(method, seed)] = {
                "trials": trials(report), "overhead": overhead(report),
                "wall_seconds": report["wall_seconds"],
                "parallel_wall_seconds": parallel_wall(report, trials(report)),
            }  # fmt: skip
        elif reused is not None and method in reused["methods"]:
            row = reused["methods"][method]["seeds"][str(seed)]
            runs[(method, seed)] = {**row, "reused": True}
    rows: dict[str, Any] = {}
    for method in [m for m in methods if (m, seeds[0]) in runs]:
        rows[method] = {"seeds": {}}
        for seed in seeds:
            mine = runs[(method, seed)]
            path = trajectory(mine["trials"])
            target_a = min(at_budget(trajectory(runs[(m, seed)]["trials"]))[0]
                           for m in ("default-cycled", "default-single"))  # fmt: skip
            target_b = at_budget(trajectory(runs[("oracle", seed)]["trials"]))[0]
            loss_b, em_b = at_budget(path)
            rows[method]["seeds"][seed] = {
                **mine, "steps_to_a": steps_to(path, target_a),
                "steps_to_b": steps_to(path, target_b), "loss_at_B": loss_b, "em_at_B": em_b,
            }  # fmt: skip
    return {"grid": grid_result, "methods": rows}


def run_grid(task: str, grid: str, pool: ThreadPoolExecutor,
             out: Path) -> tuple[dict[str, Any], list[str]]:  # fmt: skip
    """The oracle's grid on seed 0: its summary and the winner's overrides."""
    points = grid_points(REPO / "configs" / "bench" / f"{task}.yaml", grid)
    grid_reports = list(pool.map(
        lambda ip: run(task, f"{task}-grid-{ip[0]}", [*SINGLE, "training.seed=0", "quantum.seed=0",
                       *(f"{k}={v}" for k, v in ip[1].items())], out),
        enumerate(points),
    ))  # fmt: skip
    grid_wall = sum(r["wall_seconds"] for r in grid_reports)  # one run at a time
    losses = [trials(r)[-1]["eval_loss"] for r in grid_reports]
    winner = points[losses.index(min(losses))]
    summary = {"varied": list(GRIDS[grid]), "points": len(points), "steps": BUDGET * len(points),
               "wall_seconds": round(grid_wall, 1), "winner": winner,
               "losses": dict(zip(map(json.dumps, points), losses, strict=True))}  # fmt: skip
    return summary, [*SINGLE, *(f"{k}={v}" for k, v in winner.items())]


def print_task(task: str, result: dict[str, Any], seeds: list[int]) -> None:
    """The table of one task."""
    grid = result["grid"]
    cost = f"{grid['steps']} steps, {grid['wall_seconds']:.0f} s of runs"
    print(f"\n{task}: oracle = {grid['winner']} from a {grid['points']}-point grid over "
          f"{', '.join(grid['varied'])} ({cost})")  # fmt: skip
    cols = ("steps to (a) xB", "steps to (b) xB", "loss@B", "EM@B", "overhead")
    print(f"{'method':<34}" + "".join(f"{c:<26}" for c in cols))
    for method, row in result["methods"].items():
        per = [row["seeds"][s] for s in seeds]
        method = method + (" (reused)" if per[0].get("reused") else "")
        cells = [spread([p["steps_to_a"] for p in per]), spread([p["steps_to_b"] for p in per]),
                 spread([p["loss_at_B"] for p in per]), spread([p["em_at_B"] for p in per]),
                 f"{statistics.median(p['overhead'] for p in per):.2%}"]  # fmt: skip
        print(f"{method:<34}" + "".join(f"{c:<26}" for c in cells))
    for suffix in ("", "-halving"):  # the QUBO loop against the others in the same loop
        if f"qubo-sa{suffix}" not in result["methods"]:
            continue
        qubo = result["methods"][f"qubo-sa{suffix}"]["seeds"]
        rivals = (f"random{suffix}", f"optuna-tpe{suffix}")
        for rival in [r for r in rivals if r in result["methods"]]:
            theirs = result["methods"][rival]["seeds"]
            mine = [qubo[s]["steps_to_a"] or 99 for s in seeds]
            other = [theirs[s]["steps_to_a"] or 99 for s in seeds]
            wins = sum(a < b for a, b in zip(mine, other, strict=True))
            ties = sum(a == b for a, b in zip(mine, other, strict=True))
            print(f"qubo-sa{suffix} vs {rival}, steps to (a): fewer in {wins}, as many in "
                  f"{ties}, more in {len(seeds) - wins - ties} of {len(seeds)} seeds")  # fmt: skip


def main() -> None:
    """Run every task, print the tables, save the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=["reverse", "shift"])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(10)))
    parser.add_argument("--grid", choices=list(GRIDS), default="full")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--work", type=Path, help="Keep (and reuse) the runs here")
    parser.add_argument(
        "--reuse",
        type=Path,
        help="An earlier --out file: take the grid and "
        "every method not named by --rerun from it (their code unchanged)",
    )
    parser.add_argument("--rerun", nargs="+", default=[], choices=[*METHODS, "oracle"])
    parser.add_argument(
        "--methods", nargs="+", default=[*METHODS, "oracle"], choices=[*METHODS, "oracle"],
        help="Run only these (the baselines of the targets always run: default-cycled, "
        "default-single, oracle); with --reuse and no --rerun: new seeds, the earlier grid",
    )  # fmt: skip
    args = parser.parse_args()
    if args.rerun and not args.reuse:
        parser.error("--rerun needs --reuse")
    needed = ["default-cycled", "default-single", "oracle"]
    methods = [m for m in [*METHODS, "oracle"] if m in {*args.methods, *needed}]
    reused = json.loads(args.reuse.read_text(encoding="utf-8"))["tasks"] if args.reuse else {}
    out = args.work or Path(tempfile.mkdtemp(prefix="qtrain-convergence-"))
    out.mkdir(parents=True, exist_ok=True)
    machine = (f"{platform.machine()} {platform.system()}, {os.cpu_count()} cores, 1 torch "
               f"thread per run, {args.jobs} runs at a time")  # fmt: skip
    print(f"machine: {machine}; seeds {args.seeds}; B = {BUDGET} steps")
    results = {}
    with ThreadPoolExecutor(args.jobs) as pool:
        for task in args.tasks:
            results[task] = benchmark_task(
                task,
                args.seeds,
                args.grid,
                pool,
                out,
                args.rerun,
                reused.get(task) if args.reuse else None,
                methods,
            )
            print_task(task, results[task], args.seeds)
    if args.out:
        payload = {"machine": machine, "seeds": args.seeds, "budget_steps": BUDGET,
                   "command": " ".join(["python", *sys.argv]), "tasks": results}  # fmt: skip
        if args.reuse:
            payload["reused_from"] = {"file": str(args.reuse), "methods": "all but --rerun"}
        args.out.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
