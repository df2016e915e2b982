"""An estimate of the Argo Workflow object that a compiled pipeline becomes on a KFP backend.

The limit that matters on a cluster is not the size of the pipeline's IR: since backend 2.3
the Argo compiler stores each component's spec and implementation once (workflow
annotations), but it still writes each task's spec and Kubernetes config inline in the DAG
template that runs it, and while the run goes on Argo records every node it ran in
``status.nodes``, each with its resolved inputs: a container task's driver node carries its
component, task, implementation and Kubernetes config, and its pod-spec patch is carried by
three nodes. The status therefore grows with every task that runs, so with ``max_cycles``,
``trials_per_cycle`` (each trial is a ParallelFor iteration) and the rungs of successive
halving.

Argo refuses a workflow over ``MAX_WORKFLOW_SIZE`` (1 MiB by default) after it has tried to
gzip ``status.nodes``; etcd refuses any object over 1.5 MiB. The spec cannot be compressed.

This is an **estimate**, not a measurement of a cluster: the per-object constants below were
read off the Argo compiler's golden workflows (``backend/src/v2/compiler/argocompiler/
testdata/hello_world_with_retry.yaml``, KFP 2.x) and a typical node status; the status assumes
the worst case, every cycle run and every branch taken.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

ARGO_MAX_WORKFLOW_BYTES = 1024 * 1024  #: Argo's MAX_WORKFLOW_SIZE default
ETCD_MAX_OBJECT_BYTES = 1536 * 1024  #: etcd's default --max-request-bytes
#: Assumed gzip ratio of ``status.nodes`` (repeated JSON specs; DEFLATE's 32 KB window
#: limits it). Conservative: similar KFP workflows compress 5-10x.
ASSUMED_STATUS_GZIP_RATIO = 4.0

FIXED_TEMPLATES_BYTES = 3_600  #: system-container-driver, system-dag-driver, entrypoint
EXECUTOR_TEMPLATES_BYTES = 2_200  #: per container component: executor DAG + containerSet
DAG_TEMPLATE_BYTES = 250  #: per DAG component, besides its tasks
CONTAINER_TASK_BYTES = 700  #: the driver and executor DAG tasks, besides the task JSON
DAG_TASK_BYTES = 450  #: a DAG driver task and its DAG task, besides the task JSON
NODE_BYTES = 900  #: one status.nodes entry: ids, names, phase, times, log artifact, children
POD_SPEC_PATCH_BYTES = 1_500  #: the driver's pod-spec patch for one container task


@dataclass(frozen=True)
class ArgoSizeEstimate:
    """Estimated bytes of the Argo Workflow: its spec, and its status once every task ran."""

    spec_bytes: int
    status_bytes: int
    container_runs: int  #: container tasks run when every cycle runs (loop iterations counted)

    @property
    def total_bytes(self) -> int:
        """Spec plus uncompressed status."""
        return self.spec_bytes + self.status_bytes

    @property
    def stored_bytes(self) -> int:
        """What Argo stores once it gzips ``status.nodes`` (at the assumed ratio)."""
        return self.spec_bytes + round(self.status_bytes / ASSUMED_STATUS_GZIP_RATIO)

    def refusal(self) -> str | None:
        """Why a cluster would refuse this workflow, or None."""
        if self.spec_bytes > ARGO_MAX_WORKFLOW_BYTES:
            return (
                f"its Argo Workflow spec alone would be about {_kb(self.spec_bytes)} "
                f"(estimate), over Argo's {_kb(ARGO_MAX_WORKFLOW_BYTES)}"
            )
        if self.stored_bytes > ARGO_MAX_WORKFLOW_BYTES:
            return (
                f"once every cycle ran, its Argo Workflow would be about "
                f"{_kb(self.stored_bytes)} even with Argo's status compression (estimate), "
                f"over Argo's {_kb(ARGO_MAX_WORKFLOW_BYTES)}"
            )
        return None

    def warning(self) -> str | None:
        """A size that works but costs: Argo must compress the status to keep the run."""
        if self.refusal() is None and self.total_bytes > ARGO_MAX_WORKFLOW_BYTES:
            return (
                f"once every cycle ran, the Argo Workflow would be about "
                f"{_kb(self.total_bytes)} uncompressed (estimate): Argo keeps it by "
                "compressing its node status, and the KFP UI and API get slower"
            )
        return None

    def summary(self) -> str:
        """One line: the estimate and the limit."""
        return (
            f"Argo Workflow estimate: spec {_kb(self.spec_bytes)}, status up to "
            f"{_kb(self.status_bytes)} uncompressed after {self.container_runs} container "
            f"tasks (limit {_kb(ARGO_MAX_WORKFLOW_BYTES)})"
        )


def estimate_workflow(
    pipeline_spec: Mapping[str, Any], platform_spec: Mapping[str, Any] | None, iterations: int
) -> ArgoSizeEstimate:
    """Estimate the Argo Workflow of a compiled pipeline (its two IR documents);
    ``iterations``: how many items each ParallelFor runs (the trials of a cycle)."""
    components = pipeline_spec["components"]
    executors = pipeline_spec["deploymentSpec"]["executors"]
    k8s = _kubernetes_executors(platform_spec)
    spec = FIXED_TEMPLATES_BYTES + _json_bytes(pipeline_spec["root"]) + DAG_TEMPLATE_BYTES
    for component in components.values():
        if "dag" in component:
            spec += _json_bytes(component) + DAG_TEMPLATE_BYTES
        else:
            executor = component["executorLabel"]
            spec += _json_bytes(component) + _json_bytes(executors[executor])
            spec += EXECUTOR_TEMPLATES_BYTES
    for tasks in _dag_tasks(pipeline_spec):
        for task in tasks.values():
            component = components[task["componentRef"]["name"]]
            inline = _json_bytes(task)
            if "dag" in component:
                spec += inline + DAG_TASK_BYTES
            else:
                spec += inline + _json_bytes(k8s.get(component["executorLabel"], {}))
                spec += CONTAINER_TASK_BYTES
    status, runs = _status(pipeline_spec, k8s, iterations)
    return ArgoSizeEstimate(spec_bytes=spec, status_bytes=status, container_runs=runs)


def _status(
    pipeline_spec: Mapping[str, Any], k8s: Mapping[str, Any], iterations: int
) -> tuple[int, int]:
    """Bytes of ``status.nodes`` when every task ran, and how many container tasks ran."""
    components = pipeline_spec["components"]
    executors = pipeline_spec["deploymentSpec"]["executors"]
    status = 2 * NODE_BYTES + _json_bytes(pipeline_spec["root"])  # the root driver and DAG
    runs = 0
    pending = [(pipeline_spec["root"]["dag"]["tasks"], 1)]
    while pending:
        tasks, times = pending.pop()
        for task in tasks.values():
            component = components[task["componentRef"]["name"]]
            if "dag" in component:
                loop = "parameterIterator" in task or "artifactIterator" in task
                inner = times * (iterations if loop else 1)
                # the DAG's driver (inputs: its spec and task) and its DAG node, plus a driver
                # and a DAG node per iteration of a loop
                per_run = 2 * NODE_BYTES + _json_bytes(component) + _json_bytes(task)
                status += times * per_run + (inner * 2 * NODE_BYTES if loop else 0)
                pending.append((component["dag"]["tasks"], inner))
                continue
            executor = component["executorLabel"]
            driver_inputs = (
                _json_bytes(component)
                + _json_bytes(task)
                + _json_bytes(executors[executor])
                + _json_bytes(k8s.get(executor, {}))
            )
            # driver pod (its inputs, the patch it outputs), executor DAG, retry node, pod:
            # the last three each carry the pod-spec patch as an input
            per_run = 4 * NODE_BYTES + driver_inputs + 4 * POD_SPEC_PATCH_BYTES
            status += times * per_run
            runs += times
    return status, runs


def _dag_tasks(pipeline_spec: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Every DAG's tasks, the root's first."""
    dags = [pipeline_spec["root"], *pipeline_spec["components"].values()]
    return [dag["dag"]["tasks"] for dag in dags if "dag" in dag]


def _kubernetes_executors(platform_spec: Mapping[str, Any] | None) -> Mapping[str, Any]:
    if not platform_spec:
        return {}
    kubernetes = platform_spec.get("platforms", {}).get("kubernetes", {})
    return kubernetes.get("deploymentSpec", {}).get("executors", {})


def _json_bytes(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":")).encode())


def _kb(size: int) -> str:
    return f"{size / 1024:.0f} KB"
