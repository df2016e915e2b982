"""``runtime.tensorboard: true``: the run's events as TensorBoard event files (tensorboardX,
no TensorFlow), in ``<run dir>/tensorboard``. A listener of the event log, so what
TensorBoard shows is exactly what ``events.jsonl`` holds:

- per trial (``c001-t00/...``): training loss and learning rate by step, eval metrics;
- across cycles: ``eval/<metric>/trial_<k>`` and ``incumbent/<metric>`` by cycle;
- the proposals of each cycle as a text table (``proposals``).

Events are written on the run's own thread (tensorboardX's ``EventsWriter``, flushed at
each trial's end and the run's), not by ``SummaryWriter``'s background thread: a full disk
there killed that thread and then blocked the run forever on its queue. Here the error
reaches the run, which stops as for any full disk.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qtrain.errors import QtrainError
from qtrain.rundir import checkpoint_name

FOLDER = "tensorboard"


class TensorBoardLog:
    """Writes events to TensorBoard files once the run says where it is (``run_start``)."""

    def __init__(self) -> None:
        try:
            from tensorboardX.event_file_writer import EventsWriter
            from tensorboardX.proto.event_pb2 import Event
            from tensorboardX.summary import scalar, text
        except ImportError:
            raise QtrainError(
                "runtime.tensorboard needs the tensorboard extra: pip install "
                "'qtrain[tensorboard]' (or set runtime.tensorboard=false)"
            ) from None
        self._open = EventsWriter
        self._event, self._scalar, self._text = Event, scalar, text
        self.writer: Any = None

    def __call__(self, event: dict[str, Any]) -> None:
        """Record one event (the event log calls this for each)."""
        kind = event.get("type")
        if self.writer is None:
            if kind != "run_start" or not event.get("run_dir"):
                return
            logdir = Path(str(event["run_dir"])) / FOLDER
            logdir.mkdir(parents=True, exist_ok=True)
            self.writer = self._open(str(logdir / "events"))
        handler = getattr(self, f"_{kind}", None)
        if handler is not None:
            handler(event)

    def _add(self, summary: Any, step: int, walltime: float) -> None:
        self.writer.write_event(self._event(summary=summary, step=int(step), wall_time=walltime))

    def add_scalar(self, tag: str, value: float, step: int, walltime: float) -> None:
        """One scalar point of the curve ``tag``."""
        self._add(self._scalar(tag, value), step, walltime)

    def _step(self, e: dict[str, Any]) -> None:
        tag = checkpoint_name(e["cycle"], e["trial"])
        self.add_scalar(f"{tag}/loss", e["loss"], e["step"], walltime=e["ts"])
        self.add_scalar(f"{tag}/learning_rate", e["learning_rate"], e["step"], walltime=e["ts"])

    def _trial_end(self, e: dict[str, Any]) -> None:
        tag = checkpoint_name(e["cycle"], e["trial"])
        for name, value in (e.get("metrics") or {}).items():
            if name.endswith("_rows") or not isinstance(value, int | float):
                continue
            self.add_scalar(f"{tag}/{name}", value, e["cycle"], walltime=e["ts"])
            self.add_scalar(f"eval/{name}/trial_{e['trial']}", value, e["cycle"], e["ts"])
        self.writer.flush()

    def _selection(self, e: dict[str, Any]) -> None:
        self.add_scalar(f"incumbent/{e['metric']}", e["value"], e["cycle"], walltime=e["ts"])

    def _proposals(self, e: dict[str, Any]) -> None:
        rows = ["| trial | params | source | solver |", "|---|---|---|---|"]
        for index, proposal in enumerate(e["proposals"]):
            meta = proposal.get("metadata") or {}
            params = ", ".join(f"{k}={v}" for k, v in proposal["params"].items())
            source = meta.get("source") or meta.get("proposer") or ""
            rows.append(f"| {index} | {params} | {source} | {meta.get('solver') or ''} |")
        self._add(self._text("proposals", "\n".join(rows)), e["cycle"], e["ts"])

    def _run_end(self, e: dict[str, Any]) -> None:
        writer, self.writer = self.writer, None
        writer.close()  # flushes


def tensorboard_log(config: Any) -> tuple[TensorBoardLog, ...]:
    """The listener ``runtime.tensorboard`` asks for (none when it is off)."""
    return (TensorBoardLog(),) if config.runtime.tensorboard else ()
