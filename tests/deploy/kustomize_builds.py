"""Build the manifests/ kustomize roots with ``kubectl kustomize`` (shared by tests/deploy)."""

from __future__ import annotations

import functools
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

MANIFESTS = Path(__file__).resolve().parents[2] / "manifests"
KUBERNETES_VERSION = "1.32"  # the kubectl CI uses; kubernetes-validate ships its schemas
MODES = ("multi-user", "standalone")  # the two ways Kubeflow Pipelines is installed
ENVIRONMENTS = ("dev", "prod")
OVERLAYS = tuple(f"overlays/{mode}/{env}" for mode in MODES for env in ENVIRONMENTS)
APP_ROOTS = tuple(f"{overlay}/app" for overlay in OVERLAYS)
VOLUME_ROOTS = tuple(f"{overlay}/volumes" for overlay in OVERLAYS)
GITOPS_ROOTS = tuple(f"gitops/{mode}/{env}" for mode in MODES for env in ENVIRONMENTS)
APPLICATION_ROOTS = tuple(f"gitops/applications/{mode}" for mode in MODES)
ROOTS = (
    "base",
    "volumes",
    *OVERLAYS,
    *APP_ROOTS,
    *VOLUME_ROOTS,
    *GITOPS_ROOTS,
    *APPLICATION_ROOTS,
)
RUN_ROOTS = ("base", *OVERLAYS, *GITOPS_ROOTS)  # the roots that hold a run config
RUN_CONFIG = "qtrain-run-config"
SUBMIT_SETTINGS = "qtrain-submit"

Obj = dict[str, Any]


def kustomize(root: Path) -> list[Obj]:
    """``kubectl kustomize ROOT`` as a list of objects; fails (not skips) without kubectl."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail(
            "kubectl not found: install kubectl (Debian package kubectl); "
            "these tests build every kustomize overlay with `kubectl kustomize`"
        )
    done = subprocess.run(
        [kubectl, "kustomize", str(root)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"kubectl kustomize {root} failed:\n{done.stderr}"
    return [obj for obj in yaml.safe_load_all(done.stdout) if obj]


@functools.cache
def build(root: str) -> tuple[Obj, ...]:
    """The (cached) build of a root under manifests/."""
    return tuple(kustomize(MANIFESTS / root))


def of_kind(objects: tuple[Obj, ...] | list[Obj], kind: str) -> list[Obj]:
    """The objects of one kind."""
    return [obj for obj in objects if obj["kind"] == kind]


def one(objects: tuple[Obj, ...] | list[Obj], kind: str) -> Obj:
    """The single object of a kind (asserts there is exactly one)."""
    found = of_kind(objects, kind)
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def run_config_map(objects: tuple[Obj, ...] | list[Obj]) -> Obj:
    """The generated run-config ConfigMap (``qtrain-run-config-<hash>``)."""
    maps = [
        m for m in of_kind(objects, "ConfigMap") if m["metadata"]["name"].startswith(RUN_CONFIG)
    ]
    assert len(maps) == 1, f"expected one {RUN_CONFIG}-<hash> ConfigMap, found {len(maps)}"
    return maps[0]


def submit_settings(objects: tuple[Obj, ...] | list[Obj]) -> dict[str, str]:
    """The data of the generated ``qtrain-submit-<hash>`` ConfigMap (the submit pod's env)."""
    maps = [
        m
        for m in of_kind(objects, "ConfigMap")
        if m["metadata"]["name"].startswith(SUBMIT_SETTINGS)
    ]
    assert len(maps) == 1, f"expected one {SUBMIT_SETTINGS}-<hash> ConfigMap, found {len(maps)}"
    return maps[0]["data"]


def pod_templates(objects: tuple[Obj, ...] | list[Obj]) -> list[Obj]:
    """The pod templates (metadata and spec) of every CronJob and Job."""
    templates = []
    for obj in objects:
        if obj["kind"] == "CronJob":
            templates.append(obj["spec"]["jobTemplate"]["spec"]["template"])
        elif obj["kind"] == "Job":
            templates.append(obj["spec"]["template"])
    return templates


def pod_specs(objects: tuple[Obj, ...] | list[Obj]) -> list[Obj]:
    """The pod specs of every CronJob and Job."""
    return [template["spec"] for template in pod_templates(objects)]


def submit_hooks(objects: tuple[Obj, ...] | list[Obj]) -> list[Obj]:
    """The Jobs that carry an Argo CD hook annotation."""
    return [
        job
        for job in of_kind(objects, "Job")
        if job["metadata"].get("annotations", {}).get("argocd.argoproj.io/hook")
    ]
