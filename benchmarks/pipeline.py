"""The KFP pipeline: per-task overhead under kfp.local, and its size on a cluster.

    python benchmarks/pipeline.py [--tasks 20] [--repeats 3] [--max-cycles 3 5 8 10 15]
                                  [--trials 2 4 8] [--out benchmarks/results/pipeline.json]

Overhead: a chain of ``--tasks`` no-op lightweight components (install_kfp_package=False,
as qtrain's are) runs under kfp.local's SubprocessRunner; the time per task is all overhead
(process start, executor, artifact bookkeeping). The same chain of qtrain's own
``early_stop_gate`` component adds the cost of importing ``qtrain.steps`` in each process.
The goal is <= 0.2 s per task. Size: the tiny config compiled at each max_cycles and
trials_per_cycle: the IR's bytes, and the *estimated* Argo Workflow (``pipelines/argo_size.py``:
spec, uncompressed status once every cycle ran, and what Argo stores after compressing the
status) against Argo's 1 MiB; the guard bypassed, so refused sizes are shown too.
"""

import argparse
import contextlib
import json
import os
import platform
import statistics
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from kfp import compiler, dsl, local
from kfp.dsl import Artifact, Input, Output

from qtrain.config import load_config
from qtrain_kfp.components import early_stop_gate
from qtrain_kfp.pipelines.argo_size import ARGO_MAX_WORKFLOW_BYTES
from qtrain_kfp.pipelines.training_pipeline import argo_estimate, build_pipeline


@dsl.component(install_kfp_package=False)
def noop(previous: str) -> str:
    """Does nothing: its cost is kfp.local's per-task cost."""
    return previous


@dsl.component(install_kfp_package=False)
def write_state(state: Output[Artifact]):
    """A run state whose early-stopping decision is 'continue'."""
    import json
    import os

    os.makedirs(state.path, exist_ok=True)
    with open(os.path.join(state.path, "state.json"), "w") as f:
        json.dump({"run_id": "bench", "baseline": {}}, f)


@dsl.component(install_kfp_package=False)
def pass_state(state: Input[Artifact], flag: bool, out: Output[Artifact]):
    """Copies the state forward so the next gate has an input."""
    import shutil

    shutil.copytree(state.path, out.path)


def noop_chain(n: int) -> Any:
    @dsl.pipeline(name="noop-chain")
    def chain() -> None:
        task = noop(previous="x")
        for _ in range(n - 1):
            task = noop(previous=task.output)

    return chain


def gate_chain(n: int) -> Any:
    @dsl.pipeline(name="gate-chain")
    def chain() -> None:
        state = write_state().outputs["state"]
        for _ in range(n):
            gate = early_stop_gate(state=state)
            state = pass_state(state=state, flag=gate.output).outputs["out"]

    return chain


def time_pipeline(pipeline: Any, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as root:
            local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=root)
            start = time.perf_counter()
            # kfp.local prints every task's log to stdout; keep the figures readable
            with (
                open(os.devnull, "w") as sink,
                contextlib.redirect_stdout(sink),
                warnings.catch_warnings(),
            ):
                warnings.simplefilter("ignore", RuntimeWarning)  # "custom base image"
                pipeline()
            times.append(time.perf_counter() - start)
    return times


def sizes(max_cycles: list[int], trials: list[int]) -> list[dict[str, Any]]:
    """IR bytes and the Argo Workflow estimate for each (max_cycles, trials_per_cycle)."""
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for n in max_cycles:
            for k in trials:
                overrides = [f"early_stopping.max_cycles={n}", f"training.trials_per_cycle={k}"]
                config = load_config(None, overrides)
                path = Path(folder) / f"p{n}-{k}.yaml"
                compiler.Compiler().compile(build_pipeline(config), package_path=str(path))
                estimate = argo_estimate(path, config)
                verdict = "refused" if estimate.refusal() else "ok"
                if verdict == "ok" and estimate.warning():
                    verdict = "warns (status compressed)"
                rows.append(
                    {
                        "max_cycles": n,
                        "trials_per_cycle": k,
                        "ir_bytes": path.stat().st_size,
                        "spec_bytes": estimate.spec_bytes,
                        "status_bytes": estimate.status_bytes,
                        "stored_bytes": estimate.stored_bytes,
                        "verdict": verdict,
                    }
                )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-cycles", type=int, nargs="+", default=[3, 5, 8, 10, 15])
    parser.add_argument("--trials", type=int, nargs="+", default=[2, 4, 8])
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    noop_times = time_pipeline(noop_chain(args.tasks), args.repeats)
    gate_times = time_pipeline(gate_chain(args.tasks // 2), args.repeats)
    per_noop = statistics.median(noop_times) / args.tasks
    per_gate_pair = statistics.median(gate_times) / (1 + 2 * (args.tasks // 2))
    rows = sizes(args.max_cycles, args.trials)

    print(f"kfp.local SubprocessRunner, {args.tasks} tasks in a chain, median of {args.repeats}")
    print(f"  no-op component:             {per_noop:.3f} s/task (goal <= 0.2 s)")
    print(f"  qtrain gate (+ qtrain.steps): {per_gate_pair:.3f} s/task")
    print(f"compiled pipeline (tiny config); Argo Workflow sizes are ESTIMATES, in KB; limit "
          f"{ARGO_MAX_WORKFLOW_BYTES // 1024} KB")  # fmt: skip
    print("  max_cycles trials     IR  spec  status  stored  verdict")
    for row in rows:
        print(
            f"  {row['max_cycles']:10d} {row['trials_per_cycle']:6d} {row['ir_bytes'] // 1024:6d}"
            f" {row['spec_bytes'] // 1024:5d} {row['status_bytes'] // 1024:7d}"
            f" {row['stored_bytes'] // 1024:7d}  {row['verdict']}"
        )
    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cpus",
        "python": platform.python_version(),
        "tasks": args.tasks,
        "repeats": args.repeats,
        "noop_seconds_per_task": round(per_noop, 4),
        "gate_seconds_per_task": round(per_gate_pair, 4),
        "noop_chain_seconds": [round(t, 3) for t in noop_times],
        "gate_chain_seconds": [round(t, 3) for t in gate_times],
        "sizes": rows,
        "argo_limit_bytes": ARGO_MAX_WORKFLOW_BYTES,
    }
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
