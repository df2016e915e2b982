"""Live progress for ``qtrain run``: cycle, trial and step bars fed by run events."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table


class RunProgress:
    """A rich display that listens to a run's events (live, or replayed by ``qtrain watch``).

    The bars appear with the first cycle: a run that fails while checking its input or
    loading its model prints its one-line error without empty bars before it.
    """

    def __init__(self, console: Console, max_cycles: int, trials_per_cycle: int) -> None:
        self.console = console
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self.cycles = self.progress.add_task("cycles", total=max_cycles, info="")
        self.trials = self.progress.add_task("trials", total=trials_per_cycle, info="")
        self.steps = self.progress.add_task("steps", total=1, info="")
        self._live = False

    def __enter__(self) -> RunProgress:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.suspend()

    def suspend(self) -> None:
        """Take the bars off the screen (a prompt needs it); the next event brings them back."""
        if self._live:
            self.progress.stop()
            self._live = False

    def _log(self, event: dict[str, Any], message: str) -> None:
        """One line above the bars, stamped with the event's own time (so that ``qtrain
        watch`` shows what the run's terminal showed)."""
        stamp = time.strftime("%H:%M:%S", time.localtime(event.get("ts", time.time())))
        self.console.print(f"[dim]\\[{stamp}][/] {escape(message)}", highlight=False)

    def __call__(self, event: dict[str, Any]) -> None:
        """Update the bars from one event."""
        kind = event["type"]
        if not self._live and kind not in _SHOWN:
            return  # nothing to show yet (loading, measuring the base model)
        if not self._live:
            self.progress.__enter__()
            self._live = True
        if kind == "cycle_start":
            self.progress.reset(self.trials, info=f"from {event['incumbent'] or 'base model'}")
            self.progress.update(self.cycles, info=f"cycle {event['cycle']}")
        elif kind == "trial_start":
            self.progress.reset(
                self.steps, total=event["steps"], info=format_params(event["params"])
            )
        elif kind == "step":
            self.progress.update(
                self.steps, completed=event["step"], info=f"loss {event['loss']:.4f}"
            )
        elif kind == "trial_end":
            m = event["metrics"]
            self.progress.update(self.steps, completed=self.progress.tasks[self.steps].total)
            self.progress.advance(self.trials)
            self._log(
                event,
                f"cycle {event['cycle']} trial {event['trial']}: "
                + ", ".join(f"{k} {v:.4g}" for k, v in m.items() if not k.endswith("_rows")),
            )
        elif kind == "cycle_end":
            self.progress.advance(self.cycles)
            if event["stop"]:
                self._log(event, f"stopping: {event['reason']}")
        elif kind == "state" and event["state"] in ("paused", "stopping", "stopped"):
            self._log(event, f"{event['state']}: {event.get('reason') or ''}".rstrip(": "))
        elif kind == "settings":
            changes = ", ".join(f"{k} {a} -> {b}" for k, (a, b) in event["diff"].items())
            self._log(event, f"settings from cycle {event['cycle']}: {changes}")


#: The events the view shows; the bars appear with the first of them.
_SHOWN = {"cycle_start", "trial_start", "step", "trial_end", "cycle_end", "settings"}

_SHORT_NAMES = {
    "learning_rate": "lr",
    "lr_scheduler": "sched",
    "warmup_ratio": "warmup",
    "weight_decay": "wd",
    "batch_size": "bs",
    "gradient_accumulation_steps": "accum",
    "max_grad_norm": "clip",
    "target_modules": "targets",
}


def format_params(params: dict[str, Any]) -> str:
    """``lr=0.01 sched=linear r=16``: short names, compact numbers, for one-line display."""
    parts = []
    for key, value in params.items():
        name = key.rsplit(".", 1)[-1]
        shown = f"{value:g}" if isinstance(value, float) else str(value)
        parts.append(f"{_SHORT_NAMES.get(name, name)}={shown}")
    return " ".join(parts)


_SOURCES = {"initial_design": "initial", "incumbent": "exploit"}


def summary_table(report: dict[str, Any]) -> Table:
    """The final table: one row per trial (the selected one starred), params last."""
    table = Table(title=f"qtrain run {report['run_id']} — {report['status']}")
    for col in ("cycle", "trial", "steps", "eval_loss", "EM", "from"):
        table.add_column(col, no_wrap=True)
    table.add_column("params", ratio=1)
    best = report.get("best") or {}
    for cycle in report["cycles"]:
        for t in cycle["trials"]:
            m = t["metrics"]
            star = " ★" if t["checkpoint"] == best.get("checkpoint") else ""
            source = t["proposal"].get("source", t["proposal"].get("proposer", ""))
            table.add_row(
                str(cycle["cycle"]),
                f"{t['trial']}{star}",
                str(t["steps"]),
                f"{m.get('eval_loss', float('nan')):.4f}",
                f"{m.get('exact_match', float('nan')):.3f}",
                _SOURCES.get(source, source),
                _params_cell(t),
            )
    return table


def _params_cell(trial: dict[str, Any]) -> str:
    """A trial's settings; a halved one says so, a failed one shows only its status."""
    if trial["status"] == "failed":
        return "failed"
    suffix = " (halved)" if trial["status"] == "halved" else ""
    return format_params(trial["params"]) + suffix
