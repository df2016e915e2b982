"""The end of a run, the same for both runners: export the incumbent, write the report.

The in-process agent calls these when its loop ends (or fails); the pipeline's export step
calls them on the run directory it assembles; ``--engine kfp-local`` calls
:func:`write_report` for a run that failed half-way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qtrain.config.schema import RunConfig
from qtrain.cycle.engine import CycleEngine
from qtrain.cycle.report import build_report, render_markdown
from qtrain.events import EventLog
from qtrain.history import History
from qtrain.hpo import proposer_name
from qtrain.rundir import RunDirectory


def export_incumbent(
    checkpoint_dir: Path, name: str, layout: RunDirectory, session: Any, events: EventLog
) -> dict[str, str]:
    """Export checkpoint ``name`` (a verified local folder) into ``layout``'s ``export/``.

    Returns what was written (``adapter``, ``merged`` or ``model``) and emits ``export``.
    """
    from qtrain.export import export_checkpoint

    merged = session.config.runtime.export_merged
    exports = export_checkpoint(checkpoint_dir, layout.export_dir, session, merged=merged)
    events.emit("export", checkpoint=name, paths=exports)
    return exports


@dataclass(frozen=True)
class RunOutcome:
    """How a run ended: ``status`` (completed, failed, interrupted), why, and how long it took.

    ``run_id`` defaults to the run directory's name; ``extra`` adds report fields
    (``exports``, ``data``).
    """

    status: str
    stopped_because: str | None
    wall_seconds: float
    run_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def write_report(
    engine: CycleEngine | None, config: RunConfig, layout: RunDirectory, outcome: RunOutcome
) -> dict[str, Any]:
    """Write ``report.json`` and ``report.md``; returns the report.

    ``engine`` is None when the run failed before it had one (say, the model did not load):
    the report then has no cycles.
    """
    extra = {
        "run_dir": str(layout.root),
        "proposer": engine.proposer_name if engine else proposer_name(config),
        "exports": {},
        "data": None,
        **outcome.extra,
        "baseline": engine.baseline if engine else None,
    }
    report = build_report(
        run_id=outcome.run_id or layout.run_id,
        status=outcome.status,
        stopped_because=outcome.stopped_because,
        history=engine.history if engine else History(),
        best=engine.incumbent if engine else None,
        wall_seconds=outcome.wall_seconds,
        selection_metric=config.evaluation.selection_metric,
        extra=extra,
    )
    layout.write_report(report, render_markdown(report))
    return report


def finish_run(
    engine: CycleEngine | None,
    config: RunConfig,
    layout: RunDirectory,
    events: EventLog,
    outcome: RunOutcome,
) -> dict[str, Any]:
    """Write the report, emit ``run_end`` and close the event log; returns the report."""
    report = write_report(engine, config, layout, outcome)
    events.emit(
        "run_end",
        status=outcome.status,
        stopped_because=outcome.stopped_because,
        run_dir=layout.root,
    )
    events.close()
    return report
