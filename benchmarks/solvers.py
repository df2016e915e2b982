"""qtrain QUBO solvers: time per solve and gap to the ground (or best-known) energy.

    python benchmarks/solvers.py [--sizes 20 100 1000] [--seeds 3] [--out solvers.json]

For every size and seed a random QUBO is drawn (``--density`` of the pairs coupled, gaussian
linear and quadratic biases, seeded) and every solver samples it with its qtrain defaults
(sa/tabu: 10 reads, tabu 1 restart; qaoa-sim: p=2, 100 reads) and the same seed. ``exact``
runs up to 20 variables, ``qaoa-sim`` up to its 20-variable limit and also at 8, 12 and 16
to show how it scales. The gap is ``best sample energy - reference``, where the reference is
the ground energy (enumerated, n <= 20) or the best energy any solver found (best-known).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import dimod
import numpy as np

from qtrain.solvers import TrackingComposite, make_sampler
from qtrain.solvers._statevector import basis_energies

QAOA_EXTRA_SIZES = (8, 12, 16)


def random_qubo(n: int, seed: int, density: float) -> dimod.BinaryQuadraticModel:
    """A seeded random QUBO: ``density`` of the pairs coupled, N(0, 1) biases."""
    rng = np.random.default_rng(seed)
    return dimod.generators.gnp_random_bqm(
        n, density, "BINARY", random_state=seed, bias_generator=lambda k: rng.normal(size=k)
    )


def solvers_for(n: int, sizes: list[int]) -> list[str]:
    """The solvers that run at size ``n``."""
    names = []
    if n in sizes:
        names += ["sa", "tabu"]
        if n <= 20:
            names.append("exact")
    qaoa_limit = make_sampler("qaoa-sim").properties["max_variables"]
    if n <= qaoa_limit:
        names.append("qaoa-sim")
    return names


def run(sizes: list[int], seeds: int, density: float) -> list[dict[str, Any]]:
    """One row per (solver, size, seed)."""
    rows = []
    all_sizes = sorted(set(sizes) | set(QAOA_EXTRA_SIZES))
    for n in all_sizes:
        for seed in range(seeds):
            bqm = random_qubo(n, seed, density)
            found = {}
            for name in solvers_for(n, sizes):
                sampleset = TrackingComposite(make_sampler(name), name).sample(bqm, seed=seed)
                found[name] = (sampleset.first.energy, sampleset.info)
            if n <= 20:
                reference, kind = float(basis_energies(bqm, list(bqm.variables)).min()), "ground"
            else:
                reference, kind = min(energy for energy, _ in found.values()), "best-known"
            for name, (energy, info) in found.items():
                rows.append(
                    {
                        "solver": name,
                        "n": n,
                        "seed": seed,
                        "seconds": info["solve_seconds"],
                        "energy": energy,
                        "reference": reference,
                        "reference_kind": kind,
                        "gap": energy - reference,
                        "ground_probability": info.get("ground_probability"),
                    }
                )
                print(
                    f"  n={n:5d} seed={seed} {name:9s} {info['solve_seconds']:8.3f} s",
                    file=sys.stderr,
                )
    return rows


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (solver, n): median seconds, mean/max gap, hits (gap <= 1e-6 relative)."""
    table = []
    keys = sorted({(row["n"], row["solver"]) for row in rows})
    for n, solver in keys:
        group = [row for row in rows if row["n"] == n and row["solver"] == solver]
        gaps = [row["gap"] for row in group]
        hits = sum(row["gap"] <= 1e-6 * max(1.0, abs(row["reference"])) for row in group)
        probs = [
            row["ground_probability"] for row in group if row["ground_probability"] is not None
        ]
        table.append(
            {
                "solver": solver,
                "n": n,
                "reference": group[0]["reference_kind"],
                "median_seconds": statistics.median(row["seconds"] for row in group),
                "mean_gap": statistics.fmean(gaps),
                "max_gap": max(gaps),
                "hits": f"{hits}/{len(group)}",
                "ground_probability": statistics.fmean(probs) if probs else None,
            }
        )
    return table


def print_table(table: list[dict[str, Any]]) -> None:
    """The summary as a Markdown table."""
    print("| solver | n | reference | median s/solve | mean gap | max gap | hits | P(ground) |")
    print("|---|---:|---|---:|---:|---:|---:|---:|")
    for row in table:
        prob = "" if row["ground_probability"] is None else f"{row['ground_probability']:.2g}"
        print(
            f"| {row['solver']} | {row['n']} | {row['reference']} | {row['median_seconds']:.3f} "
            f"| {row['mean_gap']:.3g} | {row['max_gap']:.3g} | {row['hits']} | {prob} |"
        )


def main() -> None:
    """Parse arguments, run, print the table and write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20, 100, 1000])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--density", type=float, default=0.5)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    start = time.perf_counter()
    rows = run(args.sizes, args.seeds, args.density)
    table = summarise(rows)
    print_table(table)
    machine = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_average": os.getloadavg(),
    }
    print(f"\n{machine['cpus']} CPUs, {machine['platform']}, {time.perf_counter() - start:.0f} s")
    if args.out:
        payload = {"args": vars(args) | {"out": str(args.out)}, "machine": machine}
        args.out.write_text(json.dumps(payload | {"summary": table, "runs": rows}, indent=2))


if __name__ == "__main__":
    main()
