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
ENVIRONMENTS = ("dev", "prod")
OVERLAYS = ("overlays/dev", "overlays/prod")
GITOPS_ROOTS = ("gitops/dev", "gitops/prod")
ROOTS = ("base", *OVERLAYS, *GITOPS_ROOTS, "gitops")
RUN_ROOTS = ("base", *OVERLAYS, *GITOPS_ROOTS)  # the roots that deploy a namespace
RUN_CONFIG = "qtrain-run-config"

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


def pod_specs(objects: tuple[Obj, ...] | list[Obj]) -> list[Obj]:
    """The pod specs of every CronJob and Job."""
    specs = []
    for obj in objects:
        if obj["kind"] == "CronJob":
            specs.append(obj["spec"]["jobTemplate"]["spec"]["template"]["spec"])
        elif obj["kind"] == "Job":
            specs.append(obj["spec"]["template"]["spec"])
    return specs


def submit_hooks(objects: tuple[Obj, ...] | list[Obj]) -> list[Obj]:
    """The Jobs that carry an Argo CD hook annotation."""
    return [
        job
        for job in of_kind(objects, "Job")
        if job["metadata"].get("annotations", {}).get("argocd.argoproj.io/hook")
    ]
