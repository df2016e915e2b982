"""The KFP pipeline: per-task overhead under kfp.local and compiled YAML size vs max_cycles.

    python benchmarks/pipeline.py [--tasks 20] [--repeats 3] [--max-cycles 1 2 3 5 8 9]
                                  [--out benchmarks/results/pipeline.json]

Overhead: a chain of ``--tasks`` no-op lightweight components (install_kfp_package=False,
as qtrain's are) runs under kfp.local's SubprocessRunner; the time per task is all overhead
(process start, executor, artifact bookkeeping). The same chain of qtrain's own
``early_stop_gate`` component adds the cost of importing ``qtrain.steps`` in each process.
The goal is <= 0.2 s per task. Size: the tiny config compiled at each max_cycles (the size
guard refuses > 256 KB, so refused sizes are measured with the guard bypassed).
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
from qtrain_kfp.pipelines.training_pipeline import MAX_PIPELINE_BYTES, build_pipeline


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


def yaml_sizes(max_cycles: list[int]) -> dict[int, int]:
    sizes = {}
    with tempfile.TemporaryDirectory() as folder:
        for n in max_cycles:
            config = load_config(None, [f"early_stopping.max_cycles={n}"])
            path = Path(folder) / f"p{n}.yaml"
            compiler.Compiler().compile(build_pipeline(config), package_path=str(path))
            sizes[n] = path.stat().st_size
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-cycles", type=int, nargs="+", default=[1, 2, 3, 5, 8, 9])
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    noop_times = time_pipeline(noop_chain(args.tasks), args.repeats)
    gate_times = time_pipeline(gate_chain(args.tasks // 2), args.repeats)
    per_noop = statistics.median(noop_times) / args.tasks
    per_gate_pair = statistics.median(gate_times) / (1 + 2 * (args.tasks // 2))
    sizes = yaml_sizes(args.max_cycles)

    print(f"kfp.local SubprocessRunner, {args.tasks} tasks in a chain, median of {args.repeats}")
    print(f"  no-op component:             {per_noop:.3f} s/task (goal <= 0.2 s)")
    print(f"  qtrain gate (+ qtrain.steps): {per_gate_pair:.3f} s/task")
    print("compiled pipeline YAML (tiny config, 2 trials per cycle)")
    for n, size in sizes.items():
        mark = "" if size <= MAX_PIPELINE_BYTES else "  (> 256 KB: qtrain compile refuses)"
        print(f"  max_cycles {n:2d}: {size / 1024:6.1f} KB{mark}")
    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cpus",
        "python": platform.python_version(),
        "tasks": args.tasks,
        "repeats": args.repeats,
        "noop_seconds_per_task": round(per_noop, 4),
        "gate_seconds_per_task": round(per_gate_pair, 4),
        "noop_chain_seconds": [round(t, 3) for t in noop_times],
        "gate_chain_seconds": [round(t, 3) for t in gate_times],
        "yaml_bytes_by_max_cycles": sizes,
        "limit_bytes": MAX_PIPELINE_BYTES,
    }
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
