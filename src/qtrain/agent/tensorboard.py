"""``runtime.tensorboard: true``: the run's events as TensorBoard event files (tensorboardX,
no TensorFlow), in ``<run dir>/tensorboard``. A listener of the event log, so what
TensorBoard shows is exactly what ``events.jsonl`` holds:

- per trial (``c001-t00/...``): training loss and learning rate by step, eval metrics;
- across cycles: ``eval/<metric>/trial_<k>`` and ``incumbent/<metric>`` by cycle;
- the proposals of each cycle as a text table (``proposals``).
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
            from tensorboardX import SummaryWriter
        except ImportError:
            raise QtrainError(
                "runtime.tensorboard needs the tensorboard extra: pip install "
                "'qtrain[tensorboard]' (or set runtime.tensorboard=false)"
            ) from None
        self._writer_class = SummaryWriter
        self.writer: Any = None

    def __call__(self, event: dict[str, Any]) -> None:
        """Record one event (the event log calls this for each)."""
        kind = event.get("type")
        if self.writer is None:
            if kind != "run_start" or not event.get("run_dir"):
                return
            logdir = Path(str(event["run_dir"])) / FOLDER
            self.writer = self._writer_class(logdir=str(logdir), flush_secs=5)
        handler = getattr(self, f"_{kind}", None)
        if handler is not None:
            handler(event)

    def _step(self, e: dict[str, Any]) -> None:
        tag = checkpoint_name(e["cycle"], e["trial"])
        self.writer.add_scalar(f"{tag}/loss", e["loss"], e["step"], walltime=e["ts"])
        self.writer.add_scalar(f"{tag}/learning_rate", e["learning_rate"], e["step"],
                               walltime=e["ts"])  # fmt: skip

    def _trial_end(self, e: dict[str, Any]) -> None:
        tag = checkpoint_name(e["cycle"], e["trial"])
        for name, value in (e.get("metrics") or {}).items():
            if name.endswith("_rows") or not isinstance(value, int | float):
                continue
            self.writer.add_scalar(f"{tag}/{name}", value, e["cycle"], walltime=e["ts"])
            self.writer.add_scalar(f"eval/{name}/trial_{e['trial']}", value, e["cycle"],
                                   walltime=e["ts"])  # fmt: skip

    def _selection(self, e: dict[str, Any]) -> None:
        self.writer.add_scalar(f"incumbent/{e['metric']}", e["value"], e["cycle"], walltime=e["ts"])

    def _proposals(self, e: dict[str, Any]) -> None:
        rows = ["| trial | params | source | solver |", "|---|---|---|---|"]
        for index, proposal in enumerate(e["proposals"]):
            meta = proposal.get("metadata") or {}
            params = ", ".join(f"{k}={v}" for k, v in proposal["params"].items())
            source = meta.get("source") or meta.get("proposer") or ""
            rows.append(f"| {index} | {params} | {source} | {meta.get('solver') or ''} |")
        self.writer.add_text("proposals", "\n".join(rows), e["cycle"], walltime=e["ts"])

    def _run_end(self, e: dict[str, Any]) -> None:
        self.writer.flush()
        self.writer.close()
        self.writer = None


def tensorboard_log(config: Any) -> tuple[TensorBoardLog, ...]:
    """The listener ``runtime.tensorboard`` asks for (none when it is off)."""
    return (TensorBoardLog(),) if config.runtime.tensorboard else ()
