"""Submit and schedule the qtrain pipeline on a Kubeflow Pipelines API with the real ``kfp.Client``.

Everything a user can get wrong (``--host``, credentials, ``--cron``, ``--experiment``) or a
server can refuse ends as one :class:`KfpApiError` line. The stock client's habits that hurt a
CLI are contained here: its health check retries 5 times with 5 s sleeps, it prints links to
stdout and warns on every construction, it silently turns a host without a scheme into
``https://``, and its wait loop never ends on CANCELED and reaches for GCP credentials on a 401.

This module connects and holds the two entry points; the work is in ``kfp_calls`` (errors,
filters, links), ``kfp_runs`` (one run, waiting for it) and ``kfp_schedules`` (pipeline
versions, recurring runs).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kfp
import kfp_server_api
from kfp.client.set_volume_credentials import ServiceAccountTokenVolumeCredentials
from kfp.client.token_credentials_base import TokenCredentialsBase

from qtrain import RunConfig
from qtrain_kfp.pipelines.cron import kfp_cron
from qtrain_kfp.pipelines.errors import (
    KfpApiError,
    KfpArgumentError,
    KfpAuthError,
    KfpRequestError,
    KfpServerTooOldError,
    KfpUnreachableError,
    RunNotSucceededError,
)
from qtrain_kfp.pipelines.kfp_calls import REQUEST_TIMEOUT_S, SA_TOKEN_ENV, NotKfpError, calling
from qtrain_kfp.pipelines.kfp_runs import SubmittedRun, config_run_name, start_run, wait_for_run
from qtrain_kfp.pipelines.kfp_schedules import ScheduledRun, create_schedule, pipeline_version_name

DEFAULT_EXPERIMENT = "qtrain"
DEFAULT_TIMEOUT_S = 24 * 3600.0
DEFAULT_POLL_S = 5.0
SA_TOKEN_PATH = "/var/run/secrets/kubeflow/pipelines/token"

__all__ = [
    "KfpApiError",
    "KfpArgumentError",
    "KfpAuthError",
    "KfpRequestError",
    "KfpUnreachableError",
    "RunNotSucceededError",
    "ScheduledRun",
    "SubmittedRun",
    "check_host",
    "config_run_name",
    "connect",
    "kfp_cron",
    "pipeline_version_name",
    "schedule_run",
    "submit_run",
]


class _OneShotHealthzClient(kfp.Client):
    """``kfp.Client`` whose health check fails at once (the stock one sleeps 5x5 s on a 401)
    and insists on JSON: a login page in front of KFP answers 200 with HTML, which the
    generated client would quietly read as an empty health response."""

    healthz: Any = None
    tag_name = "unknown"

    def get_kfp_healthz(self, sleep_duration: int = 5) -> Any:
        if self.healthz is None:
            raw = self.healthzs.healthz_service_get_healthz(
                _preload_content=False, _request_timeout=REQUEST_TIMEOUT_S
            )
            try:
                data = json.loads(raw.data or b"{}")
            except ValueError:
                data = None
            if not isinstance(data, dict):
                raise NotKfpError(raw.headers.get("Content-Type") or "no content type")
            self.healthz = kfp_server_api.V2beta1GetHealthzResponse(
                multi_user=data.get("multi_user"), pipeline_store=data.get("pipeline_store")
            )
            # the generated model drops it; the server's JSON has its release (TAG_NAME)
            self.tag_name = str(data.get("tag_name") or "unknown")
        return self.healthz


#: The oldest KFP backend the compiled pipeline runs on: final task status and dsl.Collected
#: fan-in need 2.14, optional secrets 2.15, a correct exit handler state 2.17.
MIN_BACKEND = (2, 17, 0)


def check_backend_version(tag_name: str, url: str) -> None:
    """One line (KfpServerTooOldError) if the server's release is older than MIN_BACKEND.

    A tag that names no release (``unknown``, a dev build) is let through: it cannot be told.
    """
    found = re.match(r"v?(\d+)\.(\d+)\.(\d+)", tag_name.strip())
    if found is None:
        return
    version = tuple(int(part) for part in found.groups())
    if version < MIN_BACKEND:
        need = ".".join(map(str, MIN_BACKEND))
        raise KfpServerTooOldError(
            f"the KFP API at {url} runs Kubeflow Pipelines {tag_name}; qtrain's pipeline needs "
            f"backend {need} or newer (exit handler state, optional secrets, fan-in): "
            "upgrade the backend"
        )


def check_host(host: str) -> str:
    """The ``--host`` URL without a trailing slash, or a KfpArgumentError naming the option."""
    text = host.strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise KfpArgumentError(
            f"--host {host!r} must be an http:// or https:// URL of the KFP API, "
            "e.g. http://localhost:8888 (kubectl port-forward svc/ml-pipeline 8888)"
        )
    if parts.query or parts.fragment:
        raise KfpArgumentError(f"--host {host!r} must not have a ?query or #fragment")
    return text.rstrip("/")


def connect(
    host: str,
    *,
    namespace: str | None = None,
    token: str | None = None,
    credentials: TokenCredentialsBase | None = None,
) -> tuple[kfp.Client, str]:
    """A ``kfp.Client`` on ``host`` that answered its health check, and the host URL.

    Credentials: ``token``, else ``credentials``, else the service-account token file named
    by ``$KF_PIPELINES_SA_TOKEN_PATH`` (or Kubeflow's in-cluster default), else none. A host
    is always given, so the client never reads a kube config.
    """
    url = check_host(host)
    if not token and credentials is None:
        credentials = _service_account_credentials()
    with calling(url, "checking its health"):
        client = _OneShotHealthzClient(
            host=url,
            namespace=namespace or "kubeflow",  # kfp's "not given" sentinel
            existing_token=token or None,
            credentials=credentials,
        )
        health = client.get_kfp_healthz()
    check_backend_version(client.tag_name, url)
    if health.multi_user and not (namespace or client.get_user_namespace()):
        raise KfpArgumentError(
            f"the KFP API at {url} is multi-user: pass --namespace (your profile namespace)"
        )
    return client, url


def submit_run(
    config: RunConfig,
    host: str,
    *,
    experiment: str = DEFAULT_EXPERIMENT,
    run_name: str | None = None,
    wait: bool = False,
    timeout: float = DEFAULT_TIMEOUT_S,
    poll_interval: float = DEFAULT_POLL_S,
    namespace: str | None = None,
    token: str | None = None,
    credentials: TokenCredentialsBase | None = None,
    progress: Callable[[str], None] | None = None,
    once: bool = False,
    resume_from: str | None = None,
) -> SubmittedRun:
    """Compile ``config`` into the pipeline and start one run of it in ``experiment``.

    With ``wait`` the run is polled every ``poll_interval`` seconds until it reaches a final
    state (returned in ``state``) or ``timeout`` seconds pass (RunNotSucceededError).
    ``progress`` receives one line on submission and on every state change. With ``once``
    the run is named after the config's digest and nothing is submitted when the experiment
    already has a run of that name (``skipped``): a GitOps hook that fires on every sync
    then starts a run only when the config changed. ``resume_from``: a stopped or paused
    pipeline run's directory on ``kubeflow.runs_pvc`` (relative: under
    ``runtime.output_dir``), which the new run's preprocess step resumes.
    """
    if resume_from is not None:
        _check_resume(config, resume_from, once)
    experiment = _check_experiment(experiment)
    if wait and not (timeout > 0 and poll_interval > 0):
        raise KfpArgumentError("--timeout and --poll-interval must be positive seconds")
    client, url = connect(host, namespace=namespace, token=token, credentials=credentials)
    report = progress or (lambda line: None)
    run = start_run(
        client,
        url,
        config,
        experiment=experiment,
        run_name=run_name,
        once=once,
        namespace=namespace,
        report=report,
        resume_from=resume_from,
    )
    if not wait or run.skipped:
        return run
    return wait_for_run(client, url, run, timeout, poll_interval, report)


def schedule_run(
    config: RunConfig,
    host: str,
    cron: str,
    *,
    experiment: str = DEFAULT_EXPERIMENT,
    name: str | None = None,
    namespace: str | None = None,
    token: str | None = None,
    credentials: TokenCredentialsBase | None = None,
    max_concurrency: int = 1,
) -> ScheduledRun:
    """Upload the compiled pipeline (a new version when it exists) and run it on ``cron``.

    ``cron`` is a 5-field Unix cron (a seconds field of 0 is prepended, as KFP reads 6
    fields), a 6-field KFP cron, ``@daily``-style or ``@every 6h``. Versions are named
    ``qtrain-training-<qtrain version>-<sha256 of the compiled pipeline, which embeds the
    config>``: scheduling the same config twice reuses its version.
    """
    kfp_schedule = kfp_cron(cron)
    experiment = _check_experiment(experiment)
    if name is not None and not name.strip():
        raise KfpArgumentError("--name must not be empty")
    client, url = connect(host, namespace=namespace, token=token, credentials=credentials)
    return create_schedule(
        client,
        url,
        config,
        kfp_schedule,
        experiment=experiment,
        name=name,
        namespace=namespace,
        max_concurrency=max_concurrency,
    )


def _check_resume(config: RunConfig, resume_from: str, once: bool) -> None:
    """One line unless the pipeline can read the stopped run ``resume_from`` on its volume."""
    if once:
        raise KfpArgumentError("--once and --resume do not go together: a resume runs once")
    if not resume_from.strip() or ".." in Path(resume_from).parts:
        raise KfpArgumentError(f"--resume {resume_from!r} is not a run directory")
    if not config.kubeflow.runs_pvc:
        blob = config.storage.kind == "azure_blob"
        raise KfpArgumentError(
            "--resume reads the stopped run's directory (data, history, events) from the runs "
            "volume, and this config has no kubeflow.runs_pvc"
            + (" (its azure_blob store keeps checkpoints and control files only)" if blob else "")
        )
    if not config.kubeflow.control:
        raise KfpArgumentError(
            "--resume continues a run that `qtrain stop`/`pause` ended through its control "
            "channel: the config needs kubeflow.control=true"
        )


def _check_experiment(experiment: str) -> str:
    if not experiment or not experiment.strip():
        raise KfpArgumentError("--experiment must not be empty")
    return experiment.strip()


def _service_account_credentials() -> TokenCredentialsBase | None:
    path = os.environ.get(SA_TOKEN_ENV) or (SA_TOKEN_PATH if Path(SA_TOKEN_PATH).is_file() else "")
    if not path:
        return None
    try:
        Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise KfpAuthError(
            f"{SA_TOKEN_ENV}={path}: cannot read the token file ({exc.strerror or exc})"
        ) from None
    return ServiceAccountTokenVolumeCredentials(path)
