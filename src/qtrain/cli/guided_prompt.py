"""The interactive prompt of ``qtrain run`` in guided mode (when it has a terminal).

It is one more client of the control channel: at each ``decision_pending`` event it shows
the proposals, asks approve / edit / reject on a side thread, and sends the same commands
as ``qtrain approve`` and ``qtrain reject``; the run acknowledges them as it does any client's.
Deciding from another terminal at the same time is fine: the slower decider is refused by
the decision's version.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from qtrain.cli.progress import format_params
from qtrain.errors import one_line

Ask = Callable[[str], str]


class GuidedPrompt:
    """An event listener that asks the person at the terminal to decide each cycle."""

    def __init__(self, console: Console, run_root: Callable[[], Path | None], ask: Ask = input):
        self.console = console
        self.run_root = run_root
        self.ask = ask
        self.before: Callable[[], None] = lambda: None  # e.g. stop the live bars
        self._sent: set[str] = set()
        self._pending: dict[str, Any] | None = None

    def __call__(self, event: dict[str, Any]) -> None:
        """On ``decision_pending``: show the proposals and ask, on a side thread; when the run
        rejects what was answered (a bad edit), say why and ask again."""
        kind = event.get("type")
        if kind == "decision_pending":
            self._pending = event
            self.before()
            self.console.print(self._table(event))
        elif kind == "control" and event.get("id") in self._sent and event["outcome"] == "rejected":
            self.console.print(f"[red]not taken:[/] {event.get('reason')}", highlight=False)
        else:
            return
        if self._pending is not None:
            threading.Thread(target=self._decide, args=(self._pending,), daemon=True).start()

    def _table(self, event: dict[str, Any]) -> Table:
        title = f"cycle {event['cycle']}: decision {event['id']} (version {event['version']})"
        table = Table(title=title)
        for col in ("trial", "from", "solver", "params"):
            table.add_column(col)
        for p in event["proposals"]:
            meta = p["metadata"]
            source, solver = str(meta.get("source", "")), str(meta.get("solver") or "")
            table.add_row(str(p["trial"]), source, solver, format_params(p["params"]))
        return table

    def _decide(self, event: dict[str, Any]) -> None:
        from qtrain.control import ControlChannel
        from qtrain.control.folder import ControlFolder

        root = self.run_root()
        if root is None:
            return
        answer = self.ask("approve [a], edit [e] or reject [r]? ").strip().lower()[:1]
        args: dict[str, Any] = {"version": event["version"], "trials": []}
        trial = ""
        if answer in ("e", "r"):
            trial = self.ask("which trial (number; empty: all)? ").strip()
            args["trials"] = [int(trial)] if trial.isdigit() else []
        if answer == "e":
            text = self.ask("key=value: ").strip()
            key, _, value = text.partition("=")
            args["set"] = {key.strip(): value.strip()}
            command = "approve"
        elif answer == "r":
            args["reason"] = self.ask("why? ").strip() or None
            command = "reject"
        else:
            command = "approve"
        channel = ControlChannel(ControlFolder.of(root).commands)
        try:
            self._sent.add(channel.send(command, **args).id)
        except OSError as exc:  # a full disk: say so and ask again, nothing was sent
            self.console.print(f"[red]not sent:[/] {one_line(exc)}", highlight=False)
            self._decide(event)
