"""Fault injection at scale: real ``qtrain run`` processes, one fault each, resumed as a
user would; prints, per fault kind, what was injected and what came of it.

    python benchmarks/faults.py [--runs 300] [--cycles 10] [--workers 2] [--seed 0]
                                [--kinds K ...] [--out benchmarks/results/faults.json]
                                [--append]

Kinds (round-robin over the runs, the fault's point drawn from the run's seed): SIGKILL,
SIGTERM, SIGINT (then ``qtrain run --resume``); a full disk (a tmpfs filled to its last byte,
then freed and resumed; needs root); EIO on a write (an ``LD_PRELOAD`` shim armed at the
chosen step; needs a C compiler); NaN weights and a raising trial (failpoints); a solver
outage (the chain's first solver fails every call); blob storage answering 503, resetting
connections, answering slowly or losing answers to requests it carried out (the run's
checkpoints in Azurite behind a fault-injecting proxy, from a request drawn among those a
fault-free blob run makes; a blip of 1-3 requests or an outage until the process ends).
Expected: signals, a full disk, EIO, storage faults and the solver outage give the
reference's result (the fault-free run, or the first outage run); a NaN or a raising trial
is one failed trial with every trial before it as in the reference; every run completes,
``qtrain checkpoints verify`` passes, and no planted secret appears in any file, blob or
console line. Prints the table, the 95% upper bound on the failure rate (3/N when none
failed), and the machine; ``--out`` writes every run as JSON (written as runs finish, so
an interrupted benchmark keeps its figures). ``--append`` adds the new runs to those in
``--out``, but only if this code's fault-free reference run is identical to the saved one
(same trials, metrics and adapter bytes); each batch records its commit.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from support.fault_runs import (  # noqa: E402
    BLOB_KINDS,
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
    parser.add_argument("--append", action="store_true", help="Add to the runs in --out")
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
        saved = _saved(args, reference)
        outage = execute(FaultRun("solver-outage", 0), root / "outage", config)
        check(outage, None)
        requests = 100
        if any(kind in BLOB_KINDS for kind in args.kinds):
            on_blob = execute(FaultRun("none", 0), root / "blob-reference", config, blob=True)
            check(on_blob, reference)
            if on_blob.problems:
                raise SystemExit(f"the fault-free blob run differs: {on_blob.problems}")
            requests = on_blob.injected["requests"]
            print(f"a fault-free run on blob storage: {requests} requests, identical to the "
                  "local reference", flush=True)  # fmt: skip
        plans = [
            pick_fault(args.kinds[i % len(args.kinds)], args.seed + i + 1, args.cycles, TRIALS,
                       STEPS, blob_requests=requests)
            for i in range(args.runs)
        ]  # fmt: skip
        done: list[FaultRun] = [restore(r) for r in saved.get("faulted", [])]
        batches = [*saved.get("batches", []), {"commit": _commit(), "kinds": args.kinds,
                                               "runs": args.runs, "seed": args.seed}]  # fmt: skip

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
                    write(args.out, args, (reference, outage), done, wall(saved, started),
                          batches)  # fmt: skip
    print_table(done, reference, outage)
    if args.out:
        write(args.out, args, (reference, outage), done, wall(saved, started), batches)


def _saved(args: Any, reference: FaultRun) -> dict[str, Any]:
    """The results to add to (``--append``), after checking they came from the same run."""
    if not args.append:
        return {}
    if args.out is None or not args.out.is_file():
        raise SystemExit("--append needs --out naming an existing results file")
    saved = json.loads(args.out.read_text())
    if not identical(reference, restore(saved["reference"])):
        raise SystemExit(
            f"this code's fault-free run differs from the one in {args.out}: the runs cannot "
            "be counted together; write a new results file"
        )
    if saved["settings"]["cycles"] != args.cycles:
        raise SystemExit(f"{args.out} was run with --cycles {saved['settings']['cycles']}")
    if "batches" not in saved:  # the first results file, written before batches were kept
        kinds = sorted({run["kind"] for run in saved["faulted"]}, key=KINDS.index)
        saved["batches"] = [{"commit": "5db18d5", "kinds": kinds, "runs": len(saved["faulted"]),
                             "seed": saved["settings"]["seed"]}]  # fmt: skip
    return saved


def _commit() -> str:
    """The commit the runs come from (with ``+changes`` when the tree differs from it)."""
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, text=True,
                          capture_output=True, check=False).stdout.strip()  # fmt: skip
    dirty = subprocess.run(["git", "status", "--porcelain", "src", "tests"], cwd=REPO,
                           text=True, capture_output=True, check=False).stdout.strip()  # fmt: skip
    return head + ("+changes" if dirty else "")


def wall(saved: dict[str, Any], started: float) -> float:
    """Wall seconds of every batch so far."""
    return float(saved.get("wall_seconds", 0.0)) + time.monotonic() - started


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
                "fired": sum(fired(r) for r in runs),
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


def fired(run: FaultRun) -> bool:
    """Whether the fault happened (a signal or a full disk after the run ended does not)."""
    if run.kind in BLOB_KINDS:
        return bool(run.injected.get("faulted"))
    if run.kind == "eio":
        return bool(run.injected.get("fired"))
    if run.kind in ("nan", "exception"):
        return any(t[:2] == tuple(run.where or ())[:2] and t[3] == "failed" for t in run.trials)
    return run.kind == "solver-outage" or run.resumed


def print_table(done: list[FaultRun], reference: FaultRun, outage: FaultRun) -> None:
    """The per-kind table, the failure count and its 95% upper bound."""
    rows = table(done, reference, outage)
    print(f"\n{machine()}; {len(done)} fault-injected runs")
    header = ("kind           runs fired resumed cycles completed identical verify-fail secrets "
              "problems")  # fmt: skip
    print(header)
    for row in rows:
        same = "-" if row["identical"] is None else row["identical"]
        print(f"{row['kind']:13s} {row['runs']:5d} {row['fired']:5d} "
              f"{row['stopped_and_resumed']:7d} "
              f"{row['cycles']:6d} {row['completed']:9d} {same!s:>9s} "
              f"{row['verify_failed']:11d} {row['secrets_found']:7d} "
              f"{row['with_problems']:8d}")  # fmt: skip
    failed = sum(bool(r.problems) for r in done)
    bound = min(1.0, 3 / len(done)) if done and not failed else None
    print(f"runs with a problem: {failed} of {len(done)}"
          + (f"; 95% upper bound on the failure rate: {bound:.2%}" if bound else ""))  # fmt: skip


def write(
    out: Path, args: Any, references: tuple[FaultRun, FaultRun], done: list[FaultRun],
    wall: float, batches: list[dict[str, Any]],
) -> None:  # fmt: skip
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
        "batches": batches,
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
