"""qtrain QUBO solvers: time per solve and gap to the ground (or best-known) energy.

    python benchmarks/solvers.py [--sizes 20 100 1000] [--seeds 3] [--out solvers.json]
        [--azure-sizes 6 10 14 | --azure-sizes]

For every size and seed a random QUBO is drawn (``--density`` of the pairs coupled, gaussian
linear and quadratic biases, seeded) and every solver samples it with its qtrain defaults
(sa/tabu: 10 reads, tabu 1 restart; qaoa-sim: p=2, 100 reads) and the same seed. ``exact``
runs up to 20 variables, ``qaoa-sim`` up to its 20-variable limit and also at 8, 12 and 16
to show how it scales. The gap is ``best sample energy - reference``, where the reference is
the ground energy (enumerated, n <= 20) or the best energy any solver found (best-known).

``azure`` runs at ``--azure-sizes`` (with sa, tabu, exact and qaoa-sim at the same sizes)
through the real azure-quantum SDK against the local fake service of the test suite
(``tests/support/fake_azure_quantum.py``, started here with Azurite): same QAOA angles as
qaoa-sim (p=2, optimised locally up to 14 qubits), 100 shots, the circuit submitted as QIR and
simulated by the fake. Its time is angle optimisation + circuit + SDK + HTTP + simulation; a
real target adds queueing (seconds to hours) and a price per shot. Its P(ground) is the
fraction of shots on a ground state (qaoa-sim's: the exact probability). An empty
``--azure-sizes`` skips it (no Azurite needed).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dimod
import numpy as np

from qtrain.solvers import TrackingComposite, make_sampler
from qtrain.solvers._statevector import basis_energies

QAOA_EXTRA_SIZES = (8, 12, 16)
AZURE_SHOTS = 100


def random_qubo(n: int, seed: int, density: float) -> dimod.BinaryQuadraticModel:
    """A seeded random QUBO: ``density`` of the pairs coupled, N(0, 1) biases."""
    rng = np.random.default_rng(seed)
    return dimod.generators.gnp_random_bqm(
        n, density, "BINARY", random_state=seed, bias_generator=lambda k: rng.normal(size=k)
    )


def solvers_for(n: int, sizes: list[int], azure_sizes: list[int] = ()) -> list[str]:
    """The solvers that run at size ``n``."""
    names = []
    if n in sizes or n in azure_sizes:
        names += ["sa", "tabu"]
        if n <= 20:
            names.append("exact")
    qaoa_limit = make_sampler("qaoa-sim").properties["max_variables"]
    if n <= qaoa_limit:
        names.append("qaoa-sim")
    if n in azure_sizes:
        names.append("azure")
    return names


@contextlib.contextmanager
def fake_azure() -> Iterator[dict[str, Any]]:
    """The ``azure`` solver's options for a fake service + Azurite started for the benchmark."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from support.azurite import running_azurite
    from support.fake_azure_quantum import running_fake

    key = "benchmark-key"
    os.environ["AZURE_QUANTUM_API_KEY"] = key
    with (
        running_azurite() as azurite,
        running_fake(azurite.connection_string, api_key=key) as fake,
        tempfile.TemporaryDirectory(prefix="qtrain-azure-jobs-") as state_dir,
    ):
        yield {
            "subscription_id": "00000000-0000-0000-0000-000000000001",
            "resource_group": "benchmark",
            "workspace": "fake",
            "location": "eastus",
            "credential": "api_key",
            "endpoint": fake.endpoint,
            "storage": azurite.connection_string,
            "state_dir": state_dir,
            "poll_interval_s": 0.05,
            "shots": AZURE_SHOTS,
        }


def _solve(name: str, bqm: dimod.BinaryQuadraticModel, seed: int, azure: dict | None) -> Any:
    sampler = make_sampler(name, **(azure if name == "azure" else {}))
    return TrackingComposite(sampler, name).sample(bqm, seed=seed)


def _shots_on_ground(sampleset: dimod.SampleSet, ground: float) -> float:
    """Fraction of the shots whose energy is the ground energy."""
    record = sampleset.record
    hits = record.num_occurrences[np.isclose(record.energy, ground, rtol=1e-9, atol=1e-9)]
    return float(hits.sum() / record.num_occurrences.sum())


def run(
    sizes: list[int], seeds: int, density: float, azure_sizes: list[int] = (), azure=None
) -> list[dict[str, Any]]:
    """One row per (solver, size, seed)."""
    rows = []
    all_sizes = sorted(set(sizes) | set(QAOA_EXTRA_SIZES) | set(azure_sizes))
    for n in all_sizes:
        for seed in range(seeds):
            bqm = random_qubo(n, seed, density)
            found = {}
            for name in solvers_for(n, sizes, azure_sizes):
                sampleset = _solve(name, bqm, seed, azure)
                found[name] = (sampleset.first.energy, sampleset.info)
                if name == "azure":
                    ground = float(basis_energies(bqm, list(bqm.variables)).min())
                    sampleset.info["ground_probability"] = _shots_on_ground(sampleset, ground)
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
    parser.add_argument("--azure-sizes", type=int, nargs="*", default=[6, 10, 14])
    args = parser.parse_args()
    start = time.perf_counter()
    with fake_azure() if args.azure_sizes else contextlib.nullcontext() as azure:
        rows = run(args.sizes, args.seeds, args.density, args.azure_sizes, azure)
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
