"""A recurring run of the qtrain pipeline: upload it as a named version, then schedule it."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import re
import tempfile
from pathlib import Path
from typing import Any

import kfp

from qtrain import RunConfig, __version__
from qtrain_kfp.pipelines.kfp_calls import calling, name_filter, ui_url
from qtrain_kfp.pipelines.training_pipeline import PARAMETER, PIPELINE_NAME, compile_pipeline


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
    reused: bool = False
    replaced: tuple[str, ...] = ()
    size_warnings: tuple[str, ...] = ()  #: the Argo size estimate's warning, if any


def pipeline_version_name(package: Path) -> str:
    """``qtrain-training-<version>-<12 hex of the package's sha256>``, a valid Kubernetes name."""
    digest = hashlib.sha256(package.read_bytes()).hexdigest()[:12]
    version = re.sub(r"[^a-z0-9]+", "-", __version__.lower()).strip("-")
    return f"{PIPELINE_NAME}-{version}-{digest}"


def create_schedule(
    client: kfp.Client,
    url: str,
    config: RunConfig,
    kfp_schedule: str,
    *,
    experiment: str,
    name: str | None,
    namespace: str | None,
    max_concurrency: int,
) -> ScheduledRun:
    """Upload ``config``'s pipeline (see ``client.schedule_run``), run it on ``kfp_schedule``."""
    size_warnings: list[str] = []
    with tempfile.TemporaryDirectory(prefix="qtrain-kfp-") as folder:
        package = compile_pipeline(
            config, Path(folder) / f"{PIPELINE_NAME}.yaml", warn=size_warnings.append
        )
        version_name = pipeline_version_name(package)
        with calling(url, f"uploading pipeline {PIPELINE_NAME!r}"):
            pipeline_id, version, new_pipeline, new_version = upload_package(
                client, package, version_name, namespace
            )
    with calling(url, f"creating experiment {experiment!r}"):
        experiment_id = client.create_experiment(experiment, namespace=namespace).experiment_id
    display = name.strip() if name else f"{PIPELINE_NAME} [{kfp_schedule}]"
    with calling(url, "listing the recurring runs"):
        same_name = _recurring_runs(client, experiment_id, namespace, display)
    scheduled = functools.partial(
        ScheduledRun, cron=kfp_schedule, pipeline_id=pipeline_id,
        version_id=version.pipeline_version_id,
        version_name=version.display_name or version_name,
        new_pipeline=new_pipeline, new_version=new_pipeline or new_version,
        size_warnings=tuple(size_warnings),
    )  # fmt: skip
    params = {PARAMETER: config.model_dump_json()}
    for existing in same_name:  # idempotent: the same schedule again is the one there
        if _same_schedule(existing, version.pipeline_version_id, kfp_schedule, params):
            rid = existing.recurring_run_id
            return scheduled(rid, f"{ui_url(url)}/#/recurringrun/details/{rid}", reused=True)
    replaced = []
    for existing in same_name:  # one recurring run per name: a changed one replaces it
        with calling(url, f"replacing recurring run {existing.recurring_run_id}"):
            client.delete_recurring_run(existing.recurring_run_id)
        replaced.append(existing.recurring_run_id)
    with calling(url, "creating the recurring run"):
        recurring = client.create_recurring_run(
            experiment_id,
            display,
            cron_expression=kfp_schedule,
            pipeline_id=pipeline_id,
            version_id=version.pipeline_version_id,
            params={PARAMETER: config.model_dump_json()},
            max_concurrency=max_concurrency,
            no_catchup=True,
        )
    rid = recurring.recurring_run_id
    return scheduled(rid, f"{ui_url(url)}/#/recurringrun/details/{rid}", replaced=tuple(replaced))


def _recurring_runs(
    client: kfp.Client, experiment_id: str, namespace: str | None, display: str
) -> list[Any]:
    """The experiment's recurring runs called ``display``."""
    found = client.list_recurring_runs(
        experiment_id=experiment_id, namespace=namespace, filter=name_filter(display)
    )
    return [r for r in found.recurring_runs or () if r.display_name == display]


def _same_schedule(existing: Any, version_id: str, cron: str, params: dict[str, str]) -> bool:
    """Whether a recurring run already starts this version on this cron with these params."""
    reference = existing.pipeline_version_reference
    trigger = existing.trigger
    existing_cron = trigger.cron_schedule.cron if trigger and trigger.cron_schedule else None
    existing_params = (existing.runtime_config.parameters or {}) if existing.runtime_config else {}
    return (
        reference is not None
        and reference.pipeline_version_id == version_id
        and existing_cron == cron
        and existing_params == params
    )


def upload_package(
    client: kfp.Client, package: Path, version_name: str, namespace: str | None
) -> tuple[str, Any, bool, bool]:
    """The pipeline's id and the version called ``version_name``, each uploaded if absent
    (runs and recurring runs start from it, so the KFP UI links them to the pipeline).

    Also says whether the pipeline and the version are new.
    """
    description = f"qtrain {__version__}, compiled pipeline {version_name}"
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
    return pipeline_id, version, new_pipeline, new_version


def _find_pipeline(client: kfp.Client, namespace: str | None) -> str | None:
    found = client.list_pipelines(filter=name_filter(PIPELINE_NAME), namespace=namespace)
    matches = [p for p in found.pipelines or () if p.display_name == PIPELINE_NAME]
    return matches[0].pipeline_id if matches else None


def _find_version(client: kfp.Client, pipeline_id: str, name: str | None) -> Any:
    """The version called ``name``, or with ``name=None`` the newest one; None if absent."""
    found = client.list_pipeline_versions(
        pipeline_id,
        page_size=1 if name is None else 10,
        sort_by="created_at desc",
        filter=name_filter(name) if name else None,
    )
    versions = [v for v in found.pipeline_versions or () if name in (None, v.display_name)]
    if versions or name is None:
        return versions[0] if versions else None
    # The pipeline's first version is named after the pipeline by the server; its
    # description names the compiled package it holds.
    found = client.list_pipeline_versions(pipeline_id, page_size=50, sort_by="created_at desc")
    described = [
        v for v in found.pipeline_versions or ()
        if (v.description or "").endswith(f"compiled pipeline {name}")
    ]  # fmt: skip
    return described[0] if described else None
