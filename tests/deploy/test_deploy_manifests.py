"""The kustomize manifests: every root builds, validates against Kubernetes 1.32, and wires
the run config, the image and the submit command the way the README says."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from kustomize_builds import (
    ENVIRONMENTS,
    GITOPS_ROOTS,
    KUBERNETES_VERSION,
    MANIFESTS,
    OVERLAYS,
    ROOTS,
    RUN_CONFIG,
    RUN_ROOTS,
    build,
    kustomize,
    of_kind,
    one,
    pod_specs,
    run_config_map,
    submit_hooks,
)

from qtrain import __version__
from qtrain.config import load_config
from qtrain.images import base_image


@pytest.mark.parametrize("root", ROOTS)
def test_every_object_validates_against_the_kubernetes_schema(root: str) -> None:
    objects = build(root)
    assert objects, f"{root} built nothing"
    for obj in objects:
        if obj["apiVersion"].startswith("argoproj.io/"):
            continue  # a CRD: checked structurally below
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("root", ROOTS)
def test_no_secret_values_in_git(root: str) -> None:
    objects = build(root)
    assert not of_kind(objects, "Secret"), "Secrets are created out of band, never from git"
    for spec in pod_specs(objects):
        for container in spec["containers"]:
            refs = [e["secretRef"] for e in container.get("envFrom", []) if "secretRef" in e]
            refs += [
                e["valueFrom"]["secretKeyRef"]
                for e in container.get("env", [])
                if "secretKeyRef" in e.get("valueFrom", {})
            ]
            for ref in refs:
                assert ref["name"] == "qtrain-azure" and ref.get("optional") is True, ref


@pytest.mark.parametrize("root", RUN_ROOTS)
def test_run_config_map_is_a_valid_run_config(root: str, tmp_path: Path) -> None:
    config_map = run_config_map(build(root))
    assert config_map["metadata"]["name"] != RUN_CONFIG, "the hash suffix names the config"
    path = tmp_path / "run.yaml"
    path.write_text(config_map["data"]["run.yaml"], encoding="utf-8")
    config = load_config(path)
    assert config.runtime.output_dir.startswith("/mnt/checkpoints")
    assert config.data.path.startswith("/mnt/data/")


@pytest.mark.parametrize("root", RUN_ROOTS)
def test_run_config_names_what_the_build_deploys(root: str, tmp_path: Path) -> None:
    """The pipeline mounts the PVC and reads the Secret the config names: they must match."""
    objects = build(root)
    path = tmp_path / "run.yaml"
    path.write_text(run_config_map(objects)["data"]["run.yaml"], encoding="utf-8")
    kubeflow = load_config(path).kubeflow
    claims = {pvc["metadata"]["name"] for pvc in of_kind(objects, "PersistentVolumeClaim")}
    assert kubeflow.model_cache_pvc in claims
    assert kubeflow.model_cache_path == "/models/cache"  # HF_HOME in images/*/Dockerfile
    assert kubeflow.azure_secret == "qtrain-azure"
    assert kubeflow.gpu.count >= 1, "phi-4 QLoRA trains on a GPU"


def test_dev_runs_fewer_cycles_than_prod(tmp_path: Path) -> None:
    configs = {}
    for env in ENVIRONMENTS:
        path = tmp_path / f"{env}.yaml"
        path.write_text(run_config_map(build(f"overlays/{env}"))["data"]["run.yaml"])
        configs[env] = load_config(path)
    assert configs["dev"].early_stopping.max_cycles < configs["prod"].early_stopping.max_cycles
    assert configs["dev"].training.steps_per_cycle < configs["prod"].training.steps_per_cycle


@pytest.mark.parametrize("root", RUN_ROOTS)
def test_cronjob_submits_the_mounted_run_config(root: str) -> None:
    objects = build(root)
    cronjob = one(objects, "CronJob")
    spec = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    command = [*container.get("command", []), *container.get("args", [])]
    assert command[:3] == ["qtrain", "submit", "/config/run.yaml"]
    assert command[command.index("--host") + 1] == "$(KFP_HOST)"
    assert "--experiment" in command
    env = {e["name"] for e in container["env"]}
    assert {"KFP_HOST", "KFP_EXPERIMENT"} <= env

    mount = next(m for m in container["volumeMounts"] if m["mountPath"] == "/config")
    volume = next(v for v in spec["volumes"] if v["name"] == mount["name"])
    assert volume["configMap"]["name"] == run_config_map(objects)["metadata"]["name"]
    token = next(v for v in spec["volumes"] if "projected" in v)
    (source,) = token["projected"]["sources"]
    assert source["serviceAccountToken"]["audience"] == "pipelines.kubeflow.org"

    accounts = {sa["metadata"]["name"] for sa in of_kind(objects, "ServiceAccount")}
    assert spec["serviceAccountName"] in accounts
    assert spec["automountServiceAccountToken"] is False
    assert spec["securityContext"]["runAsNonRoot"] is True


@pytest.mark.parametrize("root", ROOTS)
def test_every_image_is_the_base_image(root: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QTRAIN_IMAGE_REGISTRY", raising=False)
    for spec in pod_specs(build(root)):
        for container in spec["containers"]:
            assert container["image"] == base_image()


def test_prod_pins_the_image_tag_to_the_package_version() -> None:
    kustomization = yaml.safe_load((MANIFESTS / "overlays/prod/kustomization.yaml").read_text())
    (pin,) = kustomization["images"]
    assert pin["newTag"] == __version__
    assert f"{pin['name']}:{pin['newTag']}" == base_image(registry="ghcr.io/qtrain")


@pytest.mark.parametrize("root", RUN_ROOTS)
def test_submitter_role_is_least_privilege(root: str) -> None:
    objects = build(root)
    role, binding = one(objects, "Role"), one(objects, "RoleBinding")
    for rule in role["rules"]:
        assert rule["apiGroups"] == ["pipelines.kubeflow.org"]
        assert set(rule["resources"]) <= {"experiments", "runs"}
        assert set(rule["verbs"]) <= {"get", "list", "create"}
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    namespace = binding["metadata"]["namespace"]
    for subject in binding["subjects"]:
        assert subject["kind"] == "ServiceAccount"
        assert subject["namespace"] == namespace


def test_overlays_deploy_to_their_own_namespace_on_their_own_schedule() -> None:
    namespaces, schedules = set(), set()
    for overlay in OVERLAYS:
        objects = build(overlay)
        (namespace,) = {o["metadata"]["namespace"] for o in objects if o["kind"] != "Namespace"}
        assert one(objects, "Namespace")["metadata"]["name"] == namespace
        namespaces.add(namespace)
        schedules.add(one(objects, "CronJob")["spec"]["schedule"])
    assert len(namespaces) == len(schedules) == len(OVERLAYS)


@pytest.mark.parametrize("root", ("base", *OVERLAYS))
def test_plain_overlays_have_no_argocd_hook(root: str) -> None:
    assert not submit_hooks(build(root)), "`kubectl apply -k` must not submit runs"


@pytest.mark.parametrize("root", GITOPS_ROOTS)
def test_postsync_job_submits_the_current_config(root: str) -> None:
    objects = build(root)
    (job,) = submit_hooks(objects)
    annotations = job["metadata"]["annotations"]
    assert annotations["argocd.argoproj.io/hook"] == "PostSync"
    assert annotations["argocd.argoproj.io/hook-delete-policy"] == "BeforeHookCreation"
    config_name = run_config_map(objects)["metadata"]["name"]
    assert annotations["qtrain.dev/run-config"] == config_name
    spec = copy.deepcopy(job["spec"]["template"]["spec"])
    cron_spec = one(objects, "CronJob")["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    # the hook fires on every sync: --once submits only a config that has not run yet
    command = spec["containers"][0]["command"]
    assert command[:2] == ["qtrain", "submit"] and command[-1] == "--once"
    assert "--once" not in cron_spec["containers"][0]["command"]  # schedules always retrain
    command.pop()
    assert spec == cron_spec, "otherwise the hook runs exactly the CronJob's pod"
    assert any(v.get("configMap", {}).get("name") == config_name for v in spec["volumes"])


def test_a_config_change_renames_the_config_the_hook_submits(tmp_path: Path) -> None:
    copy = tmp_path / "manifests"
    shutil.copytree(MANIFESTS, copy)
    run_yaml = copy / "overlays/dev/run.yaml"
    run_yaml.write_text(
        run_yaml.read_text().replace("max_cycles: 2", "max_cycles: 3"), encoding="utf-8"
    )
    before = submit_hooks(build("gitops/dev"))[0]["metadata"]["annotations"]
    after = submit_hooks(kustomize(copy / "gitops/dev"))[0]["metadata"]["annotations"]
    assert before["qtrain.dev/run-config"] != after["qtrain.dev/run-config"]


def test_one_automated_argocd_application_per_environment() -> None:
    applications = build("gitops")
    assert {a["kind"] for a in applications} == {"Application"}
    assert len(applications) == len(ENVIRONMENTS)
    paths = set()
    for app in applications:
        assert app["apiVersion"] == "argoproj.io/v1alpha1"
        assert app["metadata"]["namespace"] == "argocd"
        spec = app["spec"]
        assert spec["project"] and spec["source"]["repoURL"] and spec["source"]["targetRevision"]
        assert spec["syncPolicy"]["automated"]["prune"] is True
        path = spec["source"]["path"]
        assert path.startswith("manifests/gitops/")
        root = path.removeprefix("manifests/")
        objects = build(root)  # the path exists and builds
        deployed = {o["metadata"]["namespace"] for o in objects if "namespace" in o["metadata"]}
        assert deployed == {spec["destination"]["namespace"]}
        # Argo CD tracks resources by this label, set to the Application's name: keep them equal.
        instances = {o["metadata"]["labels"].get("app.kubernetes.io/instance") for o in objects}
        assert instances - {None} == {app["metadata"]["name"]}
        paths.add(root)
    assert paths == set(GITOPS_ROOTS)


def test_missing_kubectl_fails_with_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(pytest.fail.Exception, match=r"install kubectl \(Debian package kubectl\)"):
        kustomize(MANIFESTS / "base")
