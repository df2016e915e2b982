"""Fixtures of the dashboard tests: a run folder made from events, and a served dashboard."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("starlette")
httpx = pytest.importorskip("httpx")

from qtrain.ui.runs import RunsRoot  # noqa: E402
from qtrain.ui.server import Dashboard, bind  # noqa: E402


def write_run(root: Path, run_id: str, events: list[dict[str, Any]]) -> Path:
    """A run folder with a config and ``events`` as its log (as a finished run leaves it)."""
    run = root / run_id
    run.mkdir(parents=True)
    (run / "config.yaml").write_text(
        "runtime:\n  mode: automated\nquantum:\n  solver_type: sa\nsearch_space:\n"
        "  training.learning_rate:\n    values: [0.001, 0.01]\n",
        encoding="utf-8",
    )
    with (run / "events.jsonl").open("w", encoding="utf-8") as handle:
        for event in events:
            handle.write(json.dumps(event) + "\n")
    return run


def step(n: int, ts: float = 1.0) -> dict[str, Any]:
    """A ``step`` event of cycle 1, trial 0."""
    return {"ts": ts, "type": "step", "cycle": 1, "trial": 0, "step": n, "total_steps": 100,
            "loss": 5.0 / n, "learning_rate": 0.01}  # fmt: skip


@pytest.fixture
def runs_dir(tmp_path: Path) -> Path:
    """A folder with one finished run ``r1``."""
    folder = tmp_path / "runs"
    write_run(folder, "r1", [
        {"ts": 1.0, "type": "run_start", "run_id": "r1"},
        *[step(n) for n in (10, 20, 30)],
        {"ts": 2.0, "type": "selection", "cycle": 1, "cycle_best": "c001-t00",
         "incumbent": "c001-t00", "metric": "eval_loss", "value": 0.5},
        {"ts": 3.0, "type": "run_end", "status": "completed"},
    ])  # fmt: skip
    return folder


@pytest.fixture
def served(runs_dir: Path) -> Iterator[tuple[Dashboard, httpx.Client]]:
    """The dashboard of ``runs_dir`` on a free port, and a client holding its session."""
    dashboard = bind(RunsRoot.of(runs_dir), port=0, user="tester").start()
    base = dashboard.url.split("/?")[0]
    client = httpx.Client(base_url=base, timeout=10)
    login = client.get(dashboard.url.removeprefix(base))
    assert login.status_code == 303 and "qtrain_ui" in client.cookies
    try:
        yield dashboard, client
    finally:
        client.close()
        dashboard.stop()
