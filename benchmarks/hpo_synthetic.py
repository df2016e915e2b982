"""The hyperparameter optimizers alone, on synthetic black boxes with known optima.

    python benchmarks/hpo_synthetic.py [--budget 30] [--seeds 5] [--batch 4] [--out FILE.json]

Each optimizer (QUBO with an FM or BOCS surrogate solved by simulated annealing through
``qtrain.solvers``, random search, Optuna TPE) gets ``budget`` evaluations, asked ``batch``
at a time as the agent's trials per cycle are. Reported: simple regret (best value found
minus the optimum; 0 = optimum found) after the budget, median and interquartile range
over seeds, and the mean seconds per ask. Problems (the instance is fixed, seeds vary the
optimizers only):

- ``binary-quadratic-14``: 14 binary parameters, a random sparse quadratic (16,384 configs).
- ``categorical-interactions``: 5 parameters with 3-5 levels (ordered and unordered), unary
  effects plus pairwise interaction tables (1,200 configs).
- ``llm-like``: learning rate x weight decay x warmup x scheduler x batch size, a smooth
  bowl in log learning rate whose optimum moves with batch size and scheduler (1,536 configs).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # tiny matrices: threads only contend

import numpy as np

from qtrain.hpo import QuboOptimizer, RandomSearch, SearchSpace, TPESearch
from qtrain.hpo.baselines import AskTellOptimizer

Objective = Callable[[dict[str, Any]], float]


def binary_quadratic(seed: int = 7, n: int = 14) -> tuple[SearchSpace, Objective]:
    """A random sparse quadratic over ``n`` bits."""
    rng = np.random.default_rng(seed)
    h = rng.normal(size=n)
    J = np.triu(rng.normal(size=(n, n)) * (rng.random((n, n)) < 0.25), 1)
    space = SearchSpace.from_dict({f"b{i:02d}": [0, 1] for i in range(n)})

    def f(p: dict[str, Any]) -> float:
        x = np.array([p[name] for name in space.names], dtype=float)
        return float(h @ x + x @ J @ x)

    return space, f


def categorical_interactions(seed: int = 11) -> tuple[SearchSpace, Objective]:
    """Unary tables plus four pairwise interaction tables over mixed parameters."""
    rng = np.random.default_rng(seed)
    space = SearchSpace.from_dict(
        {
            "p0": [1, 2, 3, 4, 5],
            "p1": ["a", "b", "c", "d"],
            "p2": [0.1, 0.2, 0.3, 0.4],
            "p3": ["x", "y", "z"],
            "p4": ["u", "v", "w", "s", "t"],
        }
    )
    sizes = [len(p) for p in space]
    unary = [rng.normal(size=s) for s in sizes]
    pairs = {(0, 1): None, (1, 3): None, (2, 4): None, (0, 4): None}
    tables = {ij: rng.normal(scale=0.8, size=(sizes[ij[0]], sizes[ij[1]])) for ij in pairs}

    def f(p: dict[str, Any]) -> float:
        k = space.key(p)
        value = sum(u[i] for u, i in zip(unary, k, strict=True))
        return float(value + sum(t[k[i], k[j]] for (i, j), t in tables.items()))

    return space, f


def llm_like() -> tuple[SearchSpace, Objective]:
    """A smooth, LLM-fine-tuning-shaped loss surface over five training hyperparameters."""
    space = SearchSpace.from_dict(
        {
            "training.learning_rate": [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2],
            "training.weight_decay": [0.0, 0.01, 0.05, 0.1],
            "training.warmup_ratio": [0.0, 0.03, 0.1, 0.2],
            "training.lr_scheduler": ["constant", "linear", "cosine", "constant_with_warmup"],
            "training.batch_size": [4, 8, 16, 32],
        }
    )

    def f(p: dict[str, Any]) -> float:
        lr = np.log10(p["training.learning_rate"])
        best_lr = -2.6 + 0.25 * np.log2(p["training.batch_size"] / 8)
        if p["training.lr_scheduler"] == "cosine":
            best_lr += 0.2
        loss = 0.9 * (lr - best_lr) ** 2
        loss += 2.0 * (p["training.weight_decay"] - 0.05) ** 2
        loss += 0.3 * abs(p["training.warmup_ratio"] - 0.1) * (1 + (lr > -2.2))
        loss += {"constant": 0.08, "linear": 0.02, "cosine": 0.0, "constant_with_warmup": 0.05}[
            p["training.lr_scheduler"]
        ]
        return float(loss)

    return space, f


PROBLEMS: dict[str, Callable[[], tuple[SearchSpace, Objective]]] = {
    "binary-quadratic-14": binary_quadratic,
    "categorical-interactions": categorical_interactions,
    "llm-like": llm_like,
}

METHODS: dict[str, Callable[[SearchSpace, int], AskTellOptimizer]] = {
    "qubo-fm (sa)": lambda space, seed: QuboOptimizer(space, solver="sa", seed=seed),
    "qubo-bocs (sa)": lambda space, seed: QuboOptimizer(
        space, solver="sa", seed=seed, surrogate="bocs"
    ),
    "random": lambda space, seed: RandomSearch(space, seed=seed),
    # same random start-up budget as the QUBO optimizer's initial design
    "tpe": lambda space, seed: TPESearch(
        space, seed=seed, n_startup_trials=max(2, min(10, len(space) + 1))
    ),
}


def optimum(space: SearchSpace, f: Objective) -> float:
    """The exact minimum, by enumeration."""
    return min(f(space.from_key(k)) for k in space.iter_keys())


def run_one(opt: AskTellOptimizer, f: Objective, budget: int, batch: int) -> tuple[float, float]:
    """Best value after ``budget`` evaluations, and mean seconds per ask."""
    asks = []
    while len(opt.history) < budget:
        start = time.perf_counter()
        params = opt.ask(min(batch, budget - len(opt.history)))
        asks.append(time.perf_counter() - start)
        for p in params:
            opt.tell(p, f(p))
    return opt.best[1], float(np.mean(asks))


def main() -> None:
    """Run every method on every problem and print a table (and write JSON with --out)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=30)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()

    results: dict[str, Any] = {
        "budget": args.budget,
        "seeds": args.seeds,
        "batch": args.batch,
        "machine": f"{platform.platform()} / {platform.processor() or platform.machine()} / "
        f"{os.cpu_count()} cpus",
        "problems": {},
    }
    header = (
        f"{'problem':26} {'method':16} {'median regret':>14} {'IQR':>19} {'found':>6} {'s/ask':>7}"
    )
    print(header)
    print("-" * len(header))
    for pname, build in PROBLEMS.items():
        space, f = build()
        best = optimum(space, f)
        results["problems"][pname] = {"size": space.size, "optimum": best, "methods": {}}
        for mname, make in METHODS.items():
            regrets, ask_times = [], []
            for seed in range(args.seeds):
                value, ask_s = run_one(make(space, seed), f, args.budget, args.batch)
                regrets.append(value - best)
                ask_times.append(ask_s)
            q1, med, q3 = (float(q) for q in np.percentile(regrets, [25, 50, 75]))
            found = sum(r <= 1e-12 for r in regrets)
            results["problems"][pname]["methods"][mname] = {
                "regrets": regrets,
                "median": med,
                "iqr": [q1, q3],
                "found_optimum": found,
                "mean_ask_seconds": statistics.fmean(ask_times),
            }
            print(
                f"{pname:26} {mname:16} {med:14.4f} {f'[{q1:.4f}, {q3:.4f}]':>19} "
                f"{f'{found}/{args.seeds}':>6} {statistics.fmean(ask_times):7.3f}"
            )
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(results, fh, indent=2)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
