"""JSON as a cluster's launcher reads it: Go's protojson refuses NaN and Infinity."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def _refuse(constant: str) -> Any:
    raise ValueError(f"non-finite constant {constant} (a cluster's launcher refuses it)")


def load_strict(path: Path) -> Any:
    """Parse ``path`` refusing ``NaN``, ``Infinity`` and ``-Infinity``."""
    return json.loads(path.read_text(encoding="utf-8"), parse_constant=_refuse)


def executor_outputs(pipeline_root: Path) -> list[Path]:
    """Every executor output kfp.local's tasks wrote under ``pipeline_root``."""
    return sorted(pipeline_root.rglob("executor_output.json"))


#: A tiny 2-cycle run in which cycle 1's second trial diverges and is recorded as a failed
#: trial: with $QTRAIN_FAILPOINTS set to :data:`DIVERGES` its weights become NaN after step 5
#: (a learning rate of 0.99 stopped diverging reliably with transformers 5.17).
DIVERGING = [
    "training.steps_per_cycle=30", "training.logging_steps=10", "data.eval_size=16",
    "data.max_rows=400", "evaluation.max_new_tokens=8", "early_stopping.max_cycles=2",
    "runtime.export_merged=false",
]  # fmt: skip
DIVERGES = "nan@1.1.5"


def check_diverged_run(run_dir: Path, pipeline_root: Path) -> None:
    """The run completed with a report, the diverged trial failed, and every executor output
    is strict JSON."""
    report = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    assert report["status"] == "completed", report.get("stopped_because")
    history = [json.loads(x) for x in (run_dir / "history.jsonl").read_text().splitlines()]
    diverged = [r for r in history if (r["cycle"], r["trial"]) == (1, 1)]
    assert [r["status"] for r in diverged] == ["failed"], diverged
    assert diverged[0]["error"].startswith("diverged: eval_loss nan"), diverged
    assert all(r["status"] == "completed" for r in history if r not in diverged), history
    outputs = executor_outputs(pipeline_root)
    assert len(outputs) >= 10, outputs
    for path in outputs:
        load_strict(path)
