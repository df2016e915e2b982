"""``report.json`` and ``report.md``: what a run did, and what it selected."""

from __future__ import annotations

from typing import Any

from qtrain.history import History, TrialRecord


def build_report(
    run_id: str,
    status: str,
    stopped_because: str | None,
    history: History,
    best: TrialRecord | None,
    wall_seconds: float,
    selection_metric: str,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The run report as a JSON-able dict (metrics as plain numbers)."""
    cycles: dict[int, list[dict[str, Any]]] = {}
    for record in history.records:
        cycles.setdefault(record.cycle, []).append(
            {
                "trial": record.trial,
                "status": record.status,
                "error": record.error,
                "params": record.params,
                "start_checkpoint": record.start_checkpoint,
                "checkpoint": record.checkpoint,
                "steps": record.steps,
                "metrics": record.metrics,
                "train": record.train,
                "proposal": record.proposal,
                "rung": record.rung,
            }
        )
    return {
        "run_id": run_id,
        "status": status,
        "stopped_because": stopped_because,
        "selection_metric": selection_metric,
        "total_train_steps": sum(r.steps for r in history.records),
        "wall_seconds": round(wall_seconds, 2),
        "cycles": [{"cycle": c, "trials": trials} for c, trials in sorted(cycles.items())],
        "solver_fallbacks": solver_fallbacks(history),
        "best": None
        if best is None
        else {
            "cycle": best.cycle,
            "trial": best.trial,
            "params": best.params,
            "metrics": best.metrics,
            "checkpoint": best.checkpoint,
        },
        **(extra or {}),
    }


def solver_fallbacks(history: History) -> list[dict[str, Any]]:
    """Cycles whose QUBO was solved by a fallback: who answered, and why the others failed."""
    found: dict[int, dict[str, Any]] = {}
    for record in history.records:
        proposal = record.proposal or {}
        reasons = proposal.get("fallback_reasons") or []
        if reasons and not proposal.get("reused") and record.cycle not in found:
            found[record.cycle] = {
                "cycle": record.cycle,
                "solver": proposal.get("solver"),
                "failed": reasons,
            }
    return [found[cycle] for cycle in sorted(found)]


def render_markdown(report: dict[str, Any]) -> str:
    """A readable summary of the report: outcome, best trial, then every trial."""
    lines = [
        f"# qtrain run {report['run_id']}",
        "",
        f"- status: **{report['status']}** ({report['stopped_because']})",
        f"- total training steps: {report['total_train_steps']}",
        f"- wall time: {report['wall_seconds']:.1f} s",
    ]
    best = report.get("best")
    if best:
        metrics = ", ".join(f"{k} {v:.4g}" for k, v in best["metrics"].items())
        lines += [
            f"- best: cycle {best['cycle']} trial {best['trial']} "
            f"(`{best['checkpoint']}`): {metrics}"
        ]
    for item in report.get("solver_fallbacks") or []:
        failed = "; ".join(f"{f['solver']}: {f['reason']}" for f in item["failed"])
        lines.append(f"- cycle {item['cycle']}: solved by {item['solver']} after {failed}")
    lines += [
        "",
        "| cycle | trial | params | steps | eval_loss | exact_match | status |",
        "|---|---|---|---|---|---|---|",
    ]
    for cycle in report["cycles"]:
        for t in cycle["trials"]:
            params = ", ".join(f"{k}={v}" for k, v in t["params"].items())
            m = t["metrics"]
            loss = f"{m['eval_loss']:.4f}" if "eval_loss" in m else "-"
            em = f"{m['exact_match']:.3f}" if "exact_match" in m else "-"
            lines.append(
                f"| {cycle['cycle']} | {t['trial']} | {params} | {t['steps']} | "
                f"{loss} | {em} | {t['status']} |"
            )
    return "\n".join(lines) + "\n"
