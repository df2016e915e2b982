"""One run of the qtrain pipeline on a connected KFP API: create it (once per config), wait."""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import kfp

from qtrain import RunConfig
from qtrain.rundir import new_run_id
from qtrain_kfp.pipelines.errors import RunNotSucceededError
from qtrain_kfp.pipelines.kfp_calls import REQUEST_TIMEOUT_S, calling, name_filter, ui_url
from qtrain_kfp.pipelines.kfp_schedules import pipeline_version_name, upload_package
from qtrain_kfp.pipelines.training_pipeline import PARAMETER, PIPELINE_NAME, compile_pipeline

SUCCEEDED = "SUCCEEDED"
FINAL_STATES = frozenset({"SUCCEEDED", "SKIPPED", "FAILED", "CANCELED", "ERROR"})


@dataclasses.dataclass(frozen=True)
class SubmittedRun:
    """A run created on the KFP API; ``state`` is its final state when it was waited for."""

    run_id: str
    url: str
    experiment_id: str
    state: str | None = None
    error: str | None = None
    skipped: bool = False  # with ``once``: this config had run already, nothing was submitted
    qtrain_run_id: str | None = None  #: the run directory's id (``runtime.run_id``)

    def raise_unless_succeeded(self) -> None:
        """Raise :class:`RunNotSucceededError` unless the run ended SUCCEEDED."""
        if self.state != SUCCEEDED:
            why = f": {self.error}" if self.error else ""
            raise RunNotSucceededError(f"run {self.run_id} ended {self.state}{why}; see {self.url}")


def config_run_name(config: RunConfig) -> str:
    """``qtrain-training-<12 hex of the config's sha256>``: one name per distinct config."""
    digest = hashlib.sha256(config.model_dump_json().encode()).hexdigest()[:12]
    return f"{PIPELINE_NAME}-{digest}"


#: Run states that leave no result: ``--once`` submits the config again after them.
ENDED_WITHOUT_RESULT = ("FAILED", "CANCELED", "CANCELING", "SKIPPED")


def start_run(
    client: kfp.Client,
    url: str,
    config: RunConfig,
    *,
    experiment: str,
    run_name: str | None,
    once: bool,
    namespace: str | None,
    report: Callable[[str], None],
    resume_from: str | None = None,
) -> SubmittedRun:
    """Compile ``config`` and start a run of it in ``experiment`` (see ``client.submit_run``);
    ``resume_from``: the stopped run it continues.

    With ``once`` the run is named after the config's digest, and an existing run of that
    name is returned (``skipped``) instead of starting another, unless every such run ended
    without a result (failed, canceled): then it is submitted again.
    """
    if once:
        run_name = run_name or config_run_name(config)
    # the package is compiled from the config as given (one pipeline version per config);
    # the run's parameter carries the run id, drawn here so that the KFP run shows it
    run_config = with_run_id(config)
    qtrain_run_id = run_config.runtime.run_id
    with tempfile.TemporaryDirectory(prefix="qtrain-kfp-") as folder:
        package = compile_pipeline(
            config,
            Path(folder) / f"{PIPELINE_NAME}.yaml",
            resume_from=resume_from,
            warn=lambda line: report(f"warning: {line}"),
        )
        with calling(url, f"creating experiment {experiment!r}"):
            experiment_id = client.create_experiment(experiment, namespace=namespace).experiment_id
        if once:
            assert run_name is not None
            with calling(url, f"looking for run {run_name!r}"):
                found = client.list_runs(
                    experiment_id=experiment_id, namespace=namespace,
                    filter=name_filter(run_name),
                )  # fmt: skip
            existing = [r for r in found.runs or () if r.display_name == run_name]
            counted = [r for r in existing if str(r.state) not in ENDED_WITHOUT_RESULT]
            if counted:
                done = counted[0]
                report(f"run {done.run_id} already ran this config ({run_name}): not submitted")
                return SubmittedRun(
                    done.run_id, f"{ui_url(url)}/#/runs/details/{done.run_id}",
                    experiment_id, state=done.state, skipped=True,
                )  # fmt: skip
            for failed in existing:  # a failed or canceled run does not count: submit again
                report(f"run {failed.run_id} of this config ended {failed.state}: submitting again")
        version_name = pipeline_version_name(package)
        with calling(url, f"uploading pipeline {PIPELINE_NAME!r}"):
            pipeline_id, version, _, _ = upload_package(client, package, version_name, namespace)
        with calling(url, "creating the run"):  # from the uploaded version: linked in the UI
            result = client.run_pipeline(
                experiment_id,
                run_name or _display_name(qtrain_run_id, resume_from),
                params={PARAMETER: run_config.model_dump_json()},
                pipeline_id=pipeline_id,
                version_id=version.pipeline_version_id,
            )
    run = SubmittedRun(
        result.run_id,
        f"{ui_url(url)}/#/runs/details/{result.run_id}",
        experiment_id,
        qtrain_run_id=qtrain_run_id,
    )
    report(
        f"submitted run {run.run_id} (qtrain run {qtrain_run_id}) to experiment "
        f"{experiment!r}: {run.url}"
    )
    return run


def wait_for_run(
    client: kfp.Client,
    url: str,
    run: SubmittedRun,
    timeout: float,
    poll_interval: float,
    report: Callable[[str], None],
) -> SubmittedRun:
    """Poll ``run`` until it reaches a final state (returned) or ``timeout`` seconds pass."""
    # Not kfp's wait_for_run_completion: it never returns on CANCELED, and on a 401 mid-wait
    # it fetches Google application-default credentials.
    deadline = time.monotonic() + timeout
    last = None
    while True:
        with calling(url, f"reading run {run.run_id}"):
            # kfp's get_run has no timeout: a hung server would outlive --timeout.
            current = client.runs.run_service_get_run(
                run_id=run.run_id, _request_timeout=REQUEST_TIMEOUT_S
            )
        state = str(current.state or "PENDING")
        if state != last:
            report(f"run {run.run_id}: {state}")
            last = state
        if state in FINAL_STATES:
            error = current.error.message if current.error is not None else None
            return dataclasses.replace(run, state=state, error=error or None)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise RunNotSucceededError(
                f"run {run.run_id} is still {state} after {timeout:g} s (it keeps running on "
                f"the cluster); see {run.url}"
            )
        time.sleep(min(poll_interval, remaining))


def with_run_id(config: RunConfig) -> RunConfig:
    """``config`` with ``runtime.run_id`` set: its own, or a new one."""
    if config.runtime.run_id:
        return config
    runtime = config.runtime.model_copy(update={"run_id": new_run_id()})
    return config.model_copy(update={"runtime": runtime})


def _display_name(qtrain_run_id: str | None, resume_from: str | None) -> str:
    """The KFP run's name: the pipeline and the qtrain run id (the run directory's name)."""
    if resume_from:
        stamp = f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H-%M-%S}"
        return f"{PIPELINE_NAME} resume {resume_from} {stamp}"
    return f"{PIPELINE_NAME} {qtrain_run_id}"
