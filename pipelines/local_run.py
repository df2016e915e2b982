"""``qtrain run --engine kfp-local``: execute the compiled DAG with kfp.local's subprocess runner.

Every step runs as its own Python process, exactly as the components' code runs in a pod,
and the run directory ends up with the in-process engine's layout (the export step writes
it; this module moves it into ``<output_dir>/<run_id>``). On failure the run directory
still gets the history, the events and a report with ``status: failed``.
"""

import contextlib
import functools
import io
import json
import logging
import os
import re
import shutil
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from kfp import local

from qtrain.config.schema import RunConfig
from qtrain.control.boundary import HALTS, take_commands
from qtrain.control.decision import review_pending
from qtrain.control.folder import ControlFolder
from qtrain.control.lock import RunLock
from qtrain.control.status import RunStatus, read_status, write_status
from qtrain.errors import QtrainError, one_line
from qtrain.failpoints import ENV as FAILPOINTS_ENV
from qtrain.rundir import (
    KFP_LOCAL_LOG,
    KFP_LOCAL_ROOT,
    RunDirectory,
    new_run_id,
    write_json_atomic,
)
from qtrain.steps.resume import resume_point
from qtrain.steps.run_control import adopt_run, finish_status, start_live_run
from qtrain_kfp.pipelines.local_outputs import find_exported_run, latest_state, restore_export
from qtrain_kfp.pipelines.training_pipeline import build_pipeline

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class _Tee(io.TextIOBase):
    """kfp.local prints to stdout: keep all of it in a log file, show task status live.

    Live, unless quiet: kfp.local's own status lines (a task starts, ends, fails; the
    pipeline's outcome) and a step's qtrain error line; every step's full output stays in
    the log.
    """

    _LIVE = re.compile(r" - (INFO|WARNING|ERROR) - (Executing task|Task .* finished|Pipeline)")

    def __init__(self, log: IO[str], live: IO[str] | None) -> None:
        self.log, self.live, self._line = log, live, ""

    def write(self, text: str) -> int:
        plain = _ANSI.sub("", text)
        self.log.write(plain)
        if self.live is not None:
            self._line += plain
            *lines, self._line = self._line.split("\n")
            for line in lines:
                if self._LIVE.search(line) or line.lstrip().startswith("qtrain.errors."):
                    self.live.write(line.strip() + "\n")
        return len(text)

    def flush(self) -> None:
        self.log.flush()
        if self.live is not None:
            self.live.flush()


@contextlib.contextmanager
def _teed_stdout(tee: _Tee) -> Iterator[None]:
    """stdout goes to ``tee`` for the run. kfp.local's loggers keep the stream they found (the
    tee): after the run they write to the real stdout again, not to a closed log file."""
    real = sys.stdout
    try:
        with contextlib.redirect_stdout(tee):
            yield
    finally:
        loggers = [logging.getLogger(), *(
            item for item in logging.Logger.manager.loggerDict.values()
            if isinstance(item, logging.Logger)
        )]  # fmt: skip
        for logger in loggers:
            for handler in logger.handlers:
                if isinstance(handler, logging.StreamHandler) and handler.stream is tee:
                    handler.setStream(real)


def run_kfp_local(
    config: RunConfig,
    keep_outputs: bool = False,
    quiet: bool = False,
    resume: Path | None = None,
    containers: bool = False,
) -> dict[str, Any]:
    """Run ``config``'s pipeline locally; returns report.json's content.

    Task outputs go to ``<output_dir>/.kfp-local/<run_id>`` and are removed after a
    successful run unless ``keep_outputs``; after a failure they are kept for inspection.
    kfp.local's log (task status and every step's output) goes to ``kfp-local.log`` in
    the run directory and, unless ``quiet``, to stderr as it happens. The run directory
    exists from the start with its ``control/`` folder: ``qtrain stop/pause RUN`` end the
    run at the next cycle boundary. ``resume``: a run directory that a stop or pause ended,
    continued by this new pipeline run (``config`` is its own).

    ``containers``: each step runs in its component's image (kfp.local's DockerRunner, the
    images built or pulled beforehand), with no network, as the image's user. The steps then
    see only the pipeline root: the run takes no commands (no control channel), and guided
    mode and ``resume`` are refused.
    """
    if containers and (config.runtime.mode == "guided" or resume is not None):
        what = "runtime.mode=guided" if resume is None else "--resume"
        raise QtrainError(
            f"{what} needs the run directory, which the steps' containers cannot reach: "
            "use --engine kfp-local"
        )
    run_id = resume.name if resume is not None else config.runtime.run_id or new_run_id()
    runtime = config.runtime.model_copy(update={"run_id": run_id})
    kubeflow = config.kubeflow.model_copy(update={"control": not containers})
    config = config.model_copy(update={"runtime": runtime, "kubeflow": kubeflow})
    run_dir = RunDirectory(resume if resume is not None else config.output_path() / run_id)
    if resume is not None:
        resume_point(run_dir)  # one line, before any step, if it cannot be resumed
    elif run_dir.root.exists():
        raise QtrainError(
            f"run directory {run_dir.root} already exists: choose another runtime.run_id "
            "(qtrain never overwrites a run)"
        )
    outputs = config.output_path() / KFP_LOCAL_ROOT / run_id
    if resume is not None:
        shutil.rmtree(outputs, ignore_errors=True)  # a failed attempt's, kept for inspection
    outputs.mkdir(parents=True, exist_ok=False)
    if containers:
        with _shared_with_containers(outputs):
            return _run(config, run_dir, outputs, keep_outputs, quiet, resume, containers)
    with _live(run_dir, config):
        return _run(config, run_dir, outputs, keep_outputs, quiet, resume)


@contextlib.contextmanager
def _shared_with_containers(outputs: Path) -> Iterator[None]:
    """The pipeline root, bind-mounted into every step's container, is writable by the
    images' non-root user (uid 1000): the folders kfp.local makes in it are, too."""
    outputs.chmod(0o777)
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


@contextlib.contextmanager
def _live(run_dir: RunDirectory, config: RunConfig) -> Iterator[None]:
    """The run directory is live while the pipeline runs: the lock (with its heartbeat),
    ``status.json``, and a watcher acknowledging commands every 0.2 s (the gate carries
    them out between cycles; in guided mode the propose step waiting for a decision carries
    out ``approve``/``reject``)."""
    start_live_run(run_dir, config)
    folder = ControlFolder.of(run_dir.root)
    lock = RunLock(folder.lock, f"run {run_dir.run_id}")
    lock.acquire()
    done = threading.Event()

    guided = config.runtime.mode == "guided"
    decide = functools.partial(review_pending, config, folder.decision) if guided else None

    def watch() -> None:
        while not done.wait(0.2):
            found = take_commands(
                folder.commands,
                run_dir.events_file,
                config.early_stopping.max_cycles,
                None,
                decide,
            )
            for command in found.accepted:
                if command.command in HALTS:
                    status = read_status(folder) or RunStatus("running", run_dir.run_id)
                    state = "stopping" if command.command == "stop" else "pausing"
                    reason = f"{command.command} requested by {command.who}: at the next cycle end"
                    write_status(folder, status.but(state=state, reason=reason))

    watcher = threading.Thread(target=watch, name="qtrain-kfp-control", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join(timeout=5)
        lock.release()


def _run(
    config: RunConfig,
    run_dir: RunDirectory,
    outputs: Path,
    keep_outputs: bool,
    quiet: bool,
    resume: Path | None,
    containers: bool = False,
) -> dict[str, Any]:
    environment = {"HF_HUB_OFFLINE": "1"}
    if os.environ.get(FAILPOINTS_ENV):  # failpoints reach the steps in containers too
        environment[FAILPOINTS_ENV] = os.environ[FAILPOINTS_ENV]
    runner = (
        local.DockerRunner(network_mode="none", environment=environment)
        if containers
        else local.SubprocessRunner(use_venv=False)
    )
    local.init(
        runner=runner,
        pipeline_root=str(outputs),
        raise_on_error=True,
    )
    started = time.time()
    log_path = outputs / KFP_LOCAL_LOG
    try:
        with (
            log_path.open("w", encoding="utf-8") as log,
            _teed_stdout(_Tee(log, None if quiet else sys.stderr)),
            warnings.catch_warnings(),
        ):
            # The steps run in this environment, which has what the qtrain images have;
            # resources and display names matter on a cluster and are ignored here.
            warnings.filterwarnings("ignore", "You may be attemping to run", RuntimeWarning)
            warnings.filterwarnings("ignore", ".*have no effect in the current local runner")
            resume_from = str(resume.resolve()) if resume is not None else None
            pipeline = build_pipeline(config, local=True, resume_from=resume_from)
            pipeline(config_json=config.model_dump_json())
    except Exception as exc:
        return _record_failure(config, run_dir, outputs, exc, time.time() - started)
    exported = find_exported_run(outputs)
    restore_export(exported, outputs)
    adopt_run(exported, run_dir)
    shutil.copy2(log_path, run_dir.kfp_local_log)
    report = json.loads(run_dir.report_json.read_text(encoding="utf-8"))
    report["run_dir"] = str(run_dir.root)
    report["engine"] = "kfp-docker" if containers else "kfp-local"
    write_json_atomic(run_dir.report_json, report)
    if not keep_outputs:
        shutil.rmtree(outputs, ignore_errors=True)
    return report


def _record_failure(
    config: RunConfig, run_dir: RunDirectory, outputs: Path, exc: Exception, seconds: float
) -> dict[str, Any]:
    """Write what the failed run got to (latest state) and a failed report, then raise."""
    from qtrain.cycle.closing import RunOutcome, write_report
    from qtrain.steps.state import restore_engine

    reason = _ANSI.sub("", one_line(exc))  # kfp.local colours its messages
    run_dir.root.mkdir(parents=True, exist_ok=True)
    finish_status(config, run_dir.run_id, "failed", reason)
    if (outputs / KFP_LOCAL_LOG).is_file():
        shutil.copy2(outputs / KFP_LOCAL_LOG, run_dir.kfp_local_log)
    extra: dict[str, Any] = {"engine": "kfp-local", "task_outputs": str(outputs)}
    engine, latest = None, latest_state(outputs)
    if latest is not None:  # what the run got to: the newest state a task wrote
        for src, dst in (
            (latest.config_file, run_dir.config_file),
            (latest.history_file, run_dir.history_file),
            (latest.events_file, run_dir.events_file),
        ):
            shutil.copy2(src, dst)
        try:
            engine = restore_engine(config, latest.root)
        except Exception as replay_error:  # the report must be written whatever the state
            extra["report_error"] = one_line(replay_error)
    write_report(engine, config, run_dir, RunOutcome("failed", reason, seconds, extra=extra))
    raise QtrainError(
        f"kfp-local run {run_dir.run_id} failed ({reason}); report in {run_dir.report_json}, "
        f"task outputs kept in {outputs}"
    ) from exc
