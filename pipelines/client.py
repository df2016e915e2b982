"""Submit and schedule the qtrain pipeline on a Kubeflow Pipelines API with the real ``kfp.Client``.

Everything a user can get wrong (``--host``, credentials, ``--cron``, ``--experiment``) or a
server can refuse ends as one :class:`KfpApiError` line. The stock client's habits that hurt a
CLI are contained here: its health check retries 5 times with 5 s sleeps, it prints links to
stdout and warns on every construction, it silently turns a host without a scheme into
``https://``, and its wait loop never ends on CANCELED and reaches for GCP credentials on a 401.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import hashlib
import io
import json
import os
import re
import ssl
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kfp
import kfp_server_api
import urllib3
from kfp.client.set_volume_credentials import ServiceAccountTokenVolumeCredentials
from kfp.client.token_credentials_base import TokenCredentialsBase

from qtrain import RunConfig, __version__
from qtrain_kfp.pipelines.cron import kfp_cron
from qtrain_kfp.pipelines.errors import (
    KfpApiError,
    KfpArgumentError,
    KfpAuthError,
    KfpRequestError,
    KfpUnreachableError,
    RunNotSucceededError,
)
from qtrain_kfp.pipelines.training_pipeline import PARAMETER, PIPELINE_NAME, compile_pipeline

DEFAULT_EXPERIMENT = "qtrain"
DEFAULT_TIMEOUT_S = 24 * 3600.0
DEFAULT_POLL_S = 5.0
REQUEST_TIMEOUT_S = 30
SA_TOKEN_ENV = "KF_PIPELINES_SA_TOKEN_PATH"
SA_TOKEN_PATH = "/var/run/secrets/kubeflow/pipelines/token"
UI_ENV = "KF_PIPELINES_UI_ENDPOINT"
SUCCEEDED = "SUCCEEDED"
FINAL_STATES = frozenset({"SUCCEEDED", "SKIPPED", "FAILED", "CANCELED", "ERROR"})

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


@dataclasses.dataclass(frozen=True)
class SubmittedRun:
    """A run created on the KFP API; ``state`` is its final state when it was waited for."""

    run_id: str
    url: str
    experiment_id: str
    state: str | None = None
    error: str | None = None
    skipped: bool = False  # with ``once``: this config had run already, nothing was submitted

    def raise_unless_succeeded(self) -> None:
        """Raise :class:`RunNotSucceededError` unless the run ended SUCCEEDED."""
        if self.state != SUCCEEDED:
            why = f": {self.error}" if self.error else ""
            raise RunNotSucceededError(f"run {self.run_id} ended {self.state}{why}; see {self.url}")


@dataclasses.dataclass(frozen=True)
class ScheduledRun:
    """A recurring run and the pipeline version it starts; ``cron`` is the 6-field form sent."""

    recurring_run_id: str
    url: str
    cron: str
    pipeline_id: str
    version_id: str
    version_name: str
    new_pipeline: bool
    new_version: bool


class _NotKfpError(Exception):
    """The health check answered 2xx with something that is not KFP's JSON."""


class _OneShotHealthzClient(kfp.Client):
    """``kfp.Client`` whose health check fails at once (the stock one sleeps 5x5 s on a 401)
    and insists on JSON: a login page in front of KFP answers 200 with HTML, which the
    generated client would quietly read as an empty health response."""

    healthz: Any = None

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
                raise _NotKfpError(raw.headers.get("Content-Type") or "no content type")
            self.healthz = kfp_server_api.V2beta1GetHealthzResponse(
                multi_user=data.get("multi_user"), pipeline_store=data.get("pipeline_store")
            )
        return self.healthz


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
    with _calling(url, "checking its health"):
        client = _OneShotHealthzClient(
            host=url,
            namespace=namespace or "kubeflow",  # kfp's "not given" sentinel
            existing_token=token or None,
            credentials=credentials,
        )
        health = client.get_kfp_healthz()
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
) -> SubmittedRun:
    """Compile ``config`` into the pipeline and start one run of it in ``experiment``.

    With ``wait`` the run is polled every ``poll_interval`` seconds until it reaches a final
    state (returned in ``state``) or ``timeout`` seconds pass (RunNotSucceededError).
    ``progress`` receives one line on submission and on every state change. With ``once``
    the run is named after the config's digest and nothing is submitted when the experiment
    already has a run of that name (``skipped``): a GitOps hook that fires on every sync
    then starts a run only when the config changed.
    """
    experiment = _check_experiment(experiment)
    if wait and not (timeout > 0 and poll_interval > 0):
        raise KfpArgumentError("--timeout and --poll-interval must be positive seconds")
    if once:
        run_name = run_name or config_run_name(config)
    client, url = connect(host, namespace=namespace, token=token, credentials=credentials)
    report = progress or (lambda line: None)
    with tempfile.TemporaryDirectory(prefix="qtrain-kfp-") as folder:
        package = compile_pipeline(config, Path(folder) / f"{PIPELINE_NAME}.yaml")
        with _calling(url, f"creating experiment {experiment!r}"):
            experiment_id = client.create_experiment(experiment, namespace=namespace).experiment_id
        if once:
            assert run_name is not None
            with _calling(url, f"looking for run {run_name!r}"):
                found = client.list_runs(
                    experiment_id=experiment_id, namespace=namespace,
                    filter=_name_filter(run_name),
                )  # fmt: skip
            existing = [r for r in found.runs or () if r.display_name == run_name]
            if existing:
                done = existing[0]
                report(f"run {done.run_id} already ran this config ({run_name}): not submitted")
                return SubmittedRun(
                    done.run_id, f"{_ui_url(url)}/#/runs/details/{done.run_id}",
                    experiment_id, state=done.state, skipped=True,
                )  # fmt: skip
        with _calling(url, "creating the run"):
            result = client.create_run_from_pipeline_package(
                str(package),
                arguments={PARAMETER: config.model_dump_json()},
                run_name=run_name or _timestamped(PIPELINE_NAME),
                experiment_id=experiment_id,
            )
    run = SubmittedRun(
        result.run_id, f"{_ui_url(url)}/#/runs/details/{result.run_id}", experiment_id
    )
    report(f"submitted run {run.run_id} to experiment {experiment!r}: {run.url}")
    if not wait:
        return run
    return _wait_for_run(client, url, run, timeout, poll_interval, report)


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
    with tempfile.TemporaryDirectory(prefix="qtrain-kfp-") as folder:
        package = compile_pipeline(config, Path(folder) / f"{PIPELINE_NAME}.yaml")
        version_name = pipeline_version_name(package)
        description = f"qtrain {__version__}, compiled pipeline {version_name}"
        with _calling(url, f"uploading pipeline {PIPELINE_NAME!r}"):
            pipeline_id = _find_pipeline(client, namespace)
            new_pipeline = pipeline_id is None
            if pipeline_id is None:
                pipeline_id = client.upload_pipeline(
                    str(package), PIPELINE_NAME, description, namespace=namespace
                ).pipeline_id
                # The server stores the upload as the pipeline's first version.
                version = _find_version(client, pipeline_id, None)
            else:
                version = _find_version(client, pipeline_id, version_name)
            new_version = version is None
            if version is None:
                version = client.upload_pipeline_version(
                    str(package), version_name, pipeline_id=pipeline_id, description=description
                )
    with _calling(url, f"creating experiment {experiment!r}"):
        experiment_id = client.create_experiment(experiment, namespace=namespace).experiment_id
    with _calling(url, "creating the recurring run"):
        recurring = client.create_recurring_run(
            experiment_id,
            name.strip() if name else f"{PIPELINE_NAME} [{kfp_schedule}]",
            cron_expression=kfp_schedule,
            pipeline_id=pipeline_id,
            version_id=version.pipeline_version_id,
            params={PARAMETER: config.model_dump_json()},
            max_concurrency=max_concurrency,
            no_catchup=True,
        )
    rid = recurring.recurring_run_id
    return ScheduledRun(
        recurring_run_id=rid,
        url=f"{_ui_url(url)}/#/recurringrun/details/{rid}",
        cron=kfp_schedule,
        pipeline_id=pipeline_id,
        version_id=version.pipeline_version_id,
        version_name=version.display_name or version_name,
        new_pipeline=new_pipeline,
        new_version=new_pipeline or new_version,
    )


def config_run_name(config: RunConfig) -> str:
    """``qtrain-training-<12 hex of the config's sha256>``: one name per distinct config."""
    digest = hashlib.sha256(config.model_dump_json().encode()).hexdigest()[:12]
    return f"{PIPELINE_NAME}-{digest}"


def pipeline_version_name(package: Path) -> str:
    """``qtrain-training-<version>-<12 hex of the package's sha256>``, a valid Kubernetes name."""
    digest = hashlib.sha256(package.read_bytes()).hexdigest()[:12]
    version = re.sub(r"[^a-z0-9]+", "-", __version__.lower()).strip("-")
    return f"{PIPELINE_NAME}-{version}-{digest}"


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


def _find_pipeline(client: kfp.Client, namespace: str | None) -> str | None:
    found = client.list_pipelines(filter=_name_filter(PIPELINE_NAME), namespace=namespace)
    matches = [p for p in found.pipelines or () if p.display_name == PIPELINE_NAME]
    return matches[0].pipeline_id if matches else None


def _find_version(client: kfp.Client, pipeline_id: str, name: str | None) -> Any:
    """The version called ``name``, or with ``name=None`` the newest one; None if absent."""
    found = client.list_pipeline_versions(
        pipeline_id,
        page_size=1 if name is None else 10,
        sort_by="created_at desc",
        filter=_name_filter(name) if name else None,
    )
    versions = [v for v in found.pipeline_versions or () if name in (None, v.display_name)]
    return versions[0] if versions else None


def _name_filter(name: str) -> str:
    return json.dumps(
        {"predicates": [{"operation": "EQUALS", "key": "display_name", "stringValue": name}]}
    )


def _wait_for_run(
    client: kfp.Client,
    url: str,
    run: SubmittedRun,
    timeout: float,
    poll_interval: float,
    report: Callable[[str], None],
) -> SubmittedRun:
    # Not kfp's wait_for_run_completion: it never returns on CANCELED, and on a 401 mid-wait
    # it fetches Google application-default credentials.
    deadline = time.monotonic() + timeout
    last = None
    while True:
        with _calling(url, f"reading run {run.run_id}"):
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


def _ui_url(api_url: str) -> str:
    return os.environ.get(UI_ENV, "").rstrip("/") or api_url


def _timestamped(name: str) -> str:
    return f"{name} {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H-%M-%S}"


@contextlib.contextmanager
def _calling(url: str, action: str) -> Iterator[None]:
    """Silence kfp's stdout links and FutureWarning; turn its failures into one-line errors."""
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore", FutureWarning)
            yield
    except kfp_server_api.ApiException as exc:
        raise _status_error(url, action, exc) from None
    except _NotKfpError as exc:
        raise KfpRequestError(
            f"{url}/apis/v2beta1/healthz answered {exc} rather than KFP's JSON (a login "
            "page?): check --host, and --token for an authenticated install"
        ) from None
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise KfpUnreachableError(
            f"cannot reach the KFP API at {url}: {_network_reason(exc)}; check --host"
        ) from None


def _status_error(url: str, action: str, exc: kfp_server_api.ApiException) -> KfpApiError:
    status = exc.status or 0
    if status == 0:  # kfp_server_api reports TLS failures as status 0
        reason = _one_line(str(exc.reason))
        return KfpUnreachableError(
            f"cannot reach the KFP API at {url}: {reason}; check --host (http or https?)"
        )
    if status in (401, 403):
        return KfpAuthError(
            f"KFP API at {url} refused the credentials (HTTP {status}): "
            f"set {SA_TOKEN_ENV} or --token"
        )
    detail = _server_message(exc.body) or _one_line(str(exc.reason or ""))
    label = f"HTTP {status} {exc.reason or ''}".strip()
    if status == 404:
        return KfpRequestError(
            f"KFP API at {url} answered {label} while {action}: {detail}; does --host point "
            "at the KFP API (it serves /apis/v2beta1)?"
        )
    verb = "failed" if status >= 500 else "rejected the request"
    return KfpRequestError(f"KFP API at {url} {verb} while {action} ({label}): {detail}")


def _server_message(body: Any) -> str:
    """The ``message`` of a google.rpc.Status body; HTML error pages say nothing useful."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if not isinstance(body, str) or not body.strip() or body.lstrip().startswith("<"):
        return ""
    try:
        data = json.loads(body)
    except ValueError:
        return _one_line(body)
    if isinstance(data, dict):
        return _one_line(str(data.get("message") or data.get("error") or body))
    return _one_line(body)


def _network_reason(exc: BaseException) -> str:
    cause = getattr(exc, "reason", None)
    cause = cause if isinstance(cause, BaseException) else exc  # MaxRetryError wraps the cause
    text = str(cause)
    errno = re.search(r"\[Errno -?\d+\] ([^()\]]+)", text)
    if isinstance(cause, urllib3.exceptions.SSLError | ssl.SSLError):
        short = re.sub(r"\s*\(_ssl\.c:\d+\)", "", text)
        return f"TLS handshake failed ({_one_line(short, 120)}), maybe http:// not https://"
    if isinstance(cause, urllib3.exceptions.NameResolutionError):
        return f"cannot resolve the host name ({errno.group(1).strip() if errno else text})"
    if errno:
        return errno.group(1).strip().lower()
    if isinstance(cause, TimeoutError | urllib3.exceptions.TimeoutError):
        return f"no answer within {REQUEST_TIMEOUT_S} s"
    return _one_line(text.split("): ", 1)[-1] or type(cause).__name__)


def _one_line(text: str, limit: int = 300) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."
