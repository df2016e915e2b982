"""Fault injection at scale: real ``qtrain run`` processes, one fault each, resumed as a
user would; prints, per fault kind, what was injected and what came of it.

    python benchmarks/faults.py [--runs 300] [--cycles 10] [--workers 2] [--seed 0]
                                [--out benchmarks/results/faults.json]

Kinds (round-robin over the runs, the fault's point drawn from the run's seed): SIGKILL,
SIGTERM, SIGINT (then ``qtrain run --resume``); a full disk (a tmpfs filled to its last byte,
then freed and resumed; needs root); NaN weights and a raising trial (failpoints); a solver
outage (the chain's first solver fails every call). Expected: signals, a full disk and the
outage give the reference's result (the fault-free run, or the first outage run); a NaN or
a raising trial is one failed trial with every trial before it as in the reference; every
run completes, ``qtrain checkpoints verify`` passes, and no planted secret appears in any
file or console line. Prints the table, the 95% upper bound on the failure rate (3/N when
none failed), and the machine; ``--out`` writes every run as JSON (written as runs finish,
so an interrupted benchmark keeps its figures).

Not covered here yet: blob-storage faults through a proxy in front of Azurite (the disk-full
and signal paths of the blob store are tested in tests/integration/test_blob_resume.py).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from support.fault_runs import (  # noqa: E402
    KINDS,
    FaultRun,
    check,
    execute,
    identical,
    machine,
    pick_fault,
    settings,
)

TRIALS, STEPS = 2, 4


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--cycles", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--summarize", type=Path, default=None, help="Print the table of a results file and exit"
    )
    args = parser.parse_args()
    if args.summarize:
        saved = json.loads(args.summarize.read_text())
        runs = [restore(r) for r in saved["faulted"]]
        print_table(runs, restore(saved["reference"]), restore(saved["outage"]))
        return
    config = settings(args.cycles, STEPS)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="qtrain-faults-") as folder:
        root = Path(folder)
        reference = execute(FaultRun("none", 0), root / "reference", config)
        check(reference, None)
        if reference.problems:
            raise SystemExit(f"the fault-free reference run failed: {reference.problems}")
        outage = execute(FaultRun("solver-outage", 0), root / "outage", config)
        check(outage, None)
        plans = [
            pick_fault(args.kinds[i % len(args.kinds)], args.seed + i + 1, args.cycles, TRIALS,
                       STEPS)
            for i in range(args.runs)
        ]  # fmt: skip
        done: list[FaultRun] = []

        def one(plan: FaultRun) -> FaultRun:
            try:
                run = execute(plan, root / f"run-{plan.seed}", config)
            except Exception as exc:  # the harness failed, not qtrain: recorded, counted
                plan.problems.append(f"harness: {type(exc).__name__}: {exc}")
                return plan
            check(run, outage if plan.kind == "solver-outage" else reference)
            return run

        with ThreadPoolExecutor(max_workers=args.workers) as pool:
            for run in pool.map(one, plans):
                done.append(run)
                mark = "ok" if not run.problems else f"PROBLEM {run.problems}"
                print(f"{len(done):4d} {run.kind:13s} seed {run.seed:4d} at {run.where} "
                      f"{run.seconds:6.1f} s  {mark}", flush=True)  # fmt: skip
                if args.out:
                    write(args.out, args, (reference, outage), done, time.monotonic() - started)
    print_table(done, reference, outage)
    if args.out:
        write(args.out, args, (reference, outage), done, time.monotonic() - started)


def restore(saved: dict[str, Any]) -> FaultRun:
    """A FaultRun from its JSON summary."""
    fields = dict(saved)
    fields["trials"] = [tuple(t) for t in fields.get("trials", [])]
    if fields.get("where") is not None:
        fields["where"] = tuple(fields["where"])
    return FaultRun(**fields)


def table(done: list[FaultRun], reference: FaultRun, outage: FaultRun) -> list[dict[str, Any]]:
    """Per kind: runs, cycles, completed, identical where expected, problems."""
    rows = []
    for kind in KINDS:
        runs = [r for r in done if r.kind == kind]
        if not runs:
            continue
        expected = outage if kind == "solver-outage" else reference
        same = sum(identical(r, expected) for r in runs)
        rows.append(
            {
                "kind": kind,
                "runs": len(runs),
                "stopped_and_resumed": sum(r.resumed for r in runs),
                "cycles": sum(r.cycles for r in runs),
                "completed": sum(r.status == "completed" for r in runs),
                "identical": same if kind not in ("nan", "exception") else None,
                "verify_failed": sum(r.verify_exit != 0 for r in runs),
                "secrets_found": sum(bool(r.secrets_found) for r in runs),
                "with_problems": sum(bool(r.problems) for r in runs),
            }
        )
    return rows


def print_table(done: list[FaultRun], reference: FaultRun, outage: FaultRun) -> None:
    rows = table(done, reference, outage)
    print(f"\n{machine()}; {len(done)} fault-injected runs")
    header = "kind           runs resumed cycles completed identical verify-fail secrets problems"
    print(header)
    for row in rows:
        same = "-" if row["identical"] is None else row["identical"]
        print(f"{row['kind']:13s} {row['runs']:5d} {row['stopped_and_resumed']:7d} "
              f"{row['cycles']:6d} {row['completed']:9d} {same!s:>9s} "
              f"{row['verify_failed']:11d} {row['secrets_found']:7d} "
              f"{row['with_problems']:8d}")  # fmt: skip
    failed = sum(bool(r.problems) for r in done)
    bound = min(1.0, 3 / len(done)) if done and not failed else None
    print(f"runs with a problem: {failed} of {len(done)}"
          + (f"; 95% upper bound on the failure rate: {bound:.2%}" if bound else ""))  # fmt: skip


def write(
    out: Path, args: Any, references: tuple[FaultRun, FaultRun], done: list[FaultRun], wall: float
) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    failed = sum(bool(r.problems) for r in done)
    payload = {
        "machine": machine(),
        "settings": {
            "cycles": args.cycles,
            "trials": TRIALS,
            "steps": STEPS,
            "workers": args.workers,
            "seed": args.seed,
        },
        "wall_seconds": round(wall, 1),
        "runs": len(done),
        "cycles": sum(r.cycles for r in done),
        "runs_with_problems": failed,
        "failure_rate_upper_bound_95": (3 / len(done)) if done and not failed else None,
        "reference": references[0].summary(),
        "outage": references[1].summary(),
        "faulted": [r.summary() for r in done],
    }
    out.write_text(json.dumps(payload, indent=1) + "\n")


if __name__ == "__main__":
    main()
