"""runtime.tensorboard: the event files hold the run's losses, metrics and proposals; the
test decodes the TFRecord framing itself and parses each record with tensorboardX's proto."""

from __future__ import annotations

import os
import struct
import threading
from pathlib import Path

import pytest

pytest.importorskip("tensorboardX")
from tensorboardX.proto import event_pb2

from qtrain.agent.tensorboard import TensorBoardLog, tensorboard_log
from qtrain.config import load_config


def records(folder: Path) -> list[event_pb2.Event]:
    """Every event of the event files under ``folder`` (TFRecord: length, crc, data, crc)."""
    found = []
    for path in sorted(folder.rglob("events.out.tfevents.*")):
        data = path.read_bytes()
        position = 0
        while position < len(data):
            (length,) = struct.unpack("<Q", data[position : position + 8])
            payload = data[position + 12 : position + 12 + length]
            found.append(event_pb2.Event.FromString(payload))
            position += 12 + length + 4
    return found


def test_the_event_files_hold_losses_metrics_and_proposals(tmp_path: Path) -> None:
    log = TensorBoardLog()
    log({"ts": 1.0, "type": "run_start", "run_dir": str(tmp_path)})
    params = {"training.learning_rate": 0.01}
    proposal = {"params": params, "metadata": {"source": "initial_design", "solver": "sa"}}
    log({"ts": 1.5, "type": "proposals", "cycle": 1, "proposals": [proposal]})
    for step, loss in ((4, 3.5), (8, 2.25)):
        log({"ts": 2.0, "type": "step", "cycle": 1, "trial": 0, "step": step,
             "total_steps": 8, "loss": loss, "learning_rate": 0.01})  # fmt: skip
    log({"ts": 3.0, "type": "trial_end", "cycle": 1, "trial": 0, "checkpoint": "c001-t00",
         "metrics": {"eval_loss": 1.25, "exact_match": 0.5, "eval_rows": 16.0}})  # fmt: skip
    log({"ts": 4.0, "type": "selection", "cycle": 1, "incumbent": "c001-t00",
         "metric": "eval_loss", "value": 1.25})  # fmt: skip
    log({"ts": 5.0, "type": "run_end", "status": "completed"})
    scalars = {}
    texts = []
    for event in records(tmp_path / "tensorboard"):
        for value in event.summary.value:
            if value.HasField("simple_value"):
                scalars[(value.tag, event.step)] = value.simple_value
            elif value.tensor.string_val:
                texts.append(value.tensor.string_val[0].decode())
    assert scalars[("c001-t00/loss", 4)] == 3.5 and scalars[("c001-t00/loss", 8)] == 2.25
    assert scalars[("c001-t00/learning_rate", 8)] == pytest.approx(0.01)
    assert scalars[("eval/eval_loss/trial_0", 1)] == 1.25
    assert scalars[("eval/exact_match/trial_0", 1)] == 0.5
    assert scalars[("incumbent/eval_loss", 1)] == 1.25
    assert not any("eval_rows" in tag for tag, _ in scalars)
    assert any("training.learning_rate=0.01 | initial_design | sa" in text for text in texts)


def test_off_by_default() -> None:
    assert tensorboard_log(load_config(None)) == ()
    assert len(tensorboard_log(load_config(None, ["runtime.tensorboard=true"]))) == 1


def test_a_write_error_reaches_the_run_instead_of_hanging_it(tmp_path: Path) -> None:
    """The event file's descriptor is made read-only under the writer (its writes fail as on
    a failing disk): the error reaches the caller. A background writer thread used to die
    there and then block the run forever on its full queue (hence the thread and timeout)."""
    log = TensorBoardLog()
    log({"ts": 1.0, "type": "run_start", "run_dir": str(tmp_path)})
    (path,) = (tmp_path / "tensorboard").glob("events.out.tfevents.*")
    fds = [int(fd) for fd in os.listdir("/proc/self/fd") if _points_to(int(fd), path)]
    assert fds, "the event file is open"
    read_only = os.open(os.devnull, os.O_RDONLY)
    for fd in fds:
        os.dup2(read_only, fd)  # the writer's own close later closes this copy
    os.close(read_only)
    raised: list[BaseException] = []

    def one_trial() -> None:
        try:
            for step in range(1, 40):
                log({"ts": 2.0, "type": "step", "cycle": 1, "trial": 0, "step": step,
                     "total_steps": 40, "loss": 1.0, "learning_rate": 0.01})  # fmt: skip
            log({"ts": 3.0, "type": "trial_end", "cycle": 1, "trial": 0, "metrics": {}})
        except BaseException as exc:
            raised.append(exc)

    worker = threading.Thread(target=one_trial, daemon=True)
    worker.start()
    worker.join(timeout=30)
    assert not worker.is_alive(), "the run hangs on the TensorBoard writer"
    assert raised and isinstance(raised[0], OSError), raised


def _points_to(fd: int, path: Path) -> bool:
    try:
        return Path(os.readlink(f"/proc/self/fd/{fd}")) == path
    except OSError:
        return False
