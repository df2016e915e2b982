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
    APPLICATION_ROOTS,
    ENVIRONMENTS,
    GITOPS_ROOTS,
    KUBERNETES_VERSION,
    MANIFESTS,
    MODES,
    OVERLAYS,
    ROOTS,
    RUN_CONFIG,
    RUN_ROOTS,
    build,
    kustomize,
    of_kind,
    one,
    pod_specs,
    pod_templates,
    run_config_map,
    submit_hooks,
    submit_settings,
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
                assert ref["name"].startswith("qtrain-azure"), ref
                assert ref.get("optional") is True, ref


@pytest.mark.parametrize("root", RUN_ROOTS)
def test_run_config_map_is_a_valid_run_config(root: str, tmp_path: Path) -> None:
    config_map = run_config_map(build(root))
    assert config_map["metadata"]["name"] != RUN_CONFIG, "the hash suffix names the config"
    path = tmp_path / "run.yaml"
    path.write_text(config_map["data"]["run.yaml"], encoding="utf-8")
    config = load_config(path)
    assert config.runtime.output_dir.startswith("/mnt/checkpoints")
    assert config.data.path.startswith("/mnt/data/")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_submit_names_the_volumes_and_secret_the_build_deploys(
    overlay: str, tmp_path: Path
) -> None:
    """The pipeline mounts the PVCs and reads the Secret that `qtrain submit` is told about
    (kubeflow.* overrides from the submit ConfigMap): they must be what the overlay deploys."""
    objects = build(overlay)
    settings = submit_settings(objects)
    claims = {pvc["metadata"]["name"] for pvc in of_kind(objects, "PersistentVolumeClaim")}
    names = {settings[key] for key in ("QTRAIN_DATA_PVC", "QTRAIN_RUNS_PVC")}
    assert names | {settings["QTRAIN_MODEL_CACHE_PVC"]} == claims
    assert settings["QTRAIN_AZURE_SECRET"].startswith("qtrain-azure")
    path = tmp_path / "run.yaml"
    path.write_text(run_config_map(objects)["data"]["run.yaml"], encoding="utf-8")
    kubeflow = load_config(path).kubeflow
    assert kubeflow.model_cache_path == "/models/cache"  # HF_HOME in images/*/Dockerfile
    assert kubeflow.gpu.count >= 1, "phi-4 QLoRA trains on a GPU"


@pytest.mark.parametrize("mode", MODES)
def test_dev_runs_fewer_cycles_than_prod(mode: str, tmp_path: Path) -> None:
    configs = {}
    for env in ENVIRONMENTS:
        path = tmp_path / f"{env}.yaml"
        path.write_text(run_config_map(build(f"overlays/{mode}/{env}"))["data"]["run.yaml"])
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
    (env_from,) = container["envFrom"]
    settings = submit_settings(objects)
    assert env_from["configMapRef"]["name"].startswith("qtrain-submit-")
    assert {"KFP_HOST", "KFP_EXPERIMENT", "KFP_NAMESPACE"} <= set(settings)
    for key in ("QTRAIN_DATA_PVC", "QTRAIN_RUNS_PVC", "QTRAIN_MODEL_CACHE_PVC"):
        assert f"$({key})" in "".join(command), f"{key} must reach the submitted config"

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
    kustomization = yaml.safe_load((MANIFESTS / "components/prod/kustomization.yaml").read_text())
    (pin,) = kustomization["images"]
    assert pin["newTag"] == __version__
    assert f"{pin['name']}:{pin['newTag']}" == base_image(registry="ghcr.io/qtrain")


@pytest.mark.parametrize("root", OVERLAYS)
def test_submitter_role_is_least_privilege(root: str) -> None:
    objects = build(root)
    role, binding = one(objects, "Role"), one(objects, "RoleBinding")
    for rule in role["rules"]:
        assert rule["apiGroups"] == ["pipelines.kubeflow.org"]
        assert set(rule["resources"]) <= {"experiments", "pipelines", "runs"}
        assert set(rule["verbs"]) <= {"get", "list", "create"}
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    namespace = binding["metadata"]["namespace"]
    for subject in binding["subjects"]:
        assert subject["kind"] == "ServiceAccount"
        assert subject["namespace"] == namespace


@pytest.mark.parametrize("mode", MODES)
def test_environments_run_on_their_own_schedule(mode: str) -> None:
    schedules = {
        one(build(f"overlays/{mode}/{env}"), "CronJob")["spec"]["schedule"] for env in ENVIRONMENTS
    }
    assert len(schedules) == len(ENVIRONMENTS)


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
    template = copy.deepcopy(job["spec"]["template"])
    cron_template = one(objects, "CronJob")["spec"]["jobTemplate"]["spec"]["template"]
    # the hook fires on every sync: --once submits only a config that has not run yet
    command = template["spec"]["containers"][0]["command"]
    assert command[:2] == ["qtrain", "submit"] and command[-1] == "--once"
    assert "--once" not in cron_template["spec"]["containers"][0]["command"]  # always retrain
    command.pop()
    # the same pod, sidecar annotations and labels included (the NetworkPolicy selects them)
    assert template == cron_template, "otherwise the hook runs exactly the CronJob's pod"
    volumes = template["spec"]["volumes"]
    assert any(v.get("configMap", {}).get("name") == config_name for v in volumes)


@pytest.mark.parametrize("root", GITOPS_ROOTS)
def test_postsync_hook_waits_on_no_volume(root: str) -> None:
    """PostSync waits for the app to be healthy; a PVC of a WaitForFirstConsumer class stays
    Pending (Argo CD: Progressing) until a pod uses it, so the app must hold none."""
    objects = build(root)
    assert not of_kind(objects, "PersistentVolumeClaim")
    for template in pod_templates(objects):
        assert all("persistentVolumeClaim" not in v for v in template["spec"]["volumes"])


def test_a_config_change_renames_the_config_the_hook_submits(tmp_path: Path) -> None:
    copy = tmp_path / "manifests"
    shutil.copytree(MANIFESTS, copy)
    run_yaml = copy / "components/dev/run.yaml"
    run_yaml.write_text(
        run_yaml.read_text().replace("max_cycles: 2", "max_cycles: 3"), encoding="utf-8"
    )
    root = "gitops/multi-user/dev"
    before = submit_hooks(build(root))[0]["metadata"]["annotations"]
    after = submit_hooks(kustomize(copy / root))[0]["metadata"]["annotations"]
    assert before["qtrain.dev/run-config"] != after["qtrain.dev/run-config"]


@pytest.mark.parametrize("applications", APPLICATION_ROOTS)
def test_two_argocd_applications_per_environment(applications: str) -> None:
    """Per environment: the app (pruned, with the submit hook) and its volumes (never pruned,
    no hook); each path builds into the Application's destination namespace."""
    mode = applications.rsplit("/", 1)[-1]
    built = build(applications)
    assert {a["kind"] for a in built} == {"Application"}
    paths = {}
    for app in built:
        assert app["apiVersion"] == "argoproj.io/v1alpha1"
        assert app["metadata"]["namespace"] == "argocd"
        spec = app["spec"]
        assert spec["project"] and spec["source"]["repoURL"] and spec["source"]["targetRevision"]
        root = spec["source"]["path"].removeprefix("manifests/")
        objects = build(root)  # the path exists and builds
        volumes = root.endswith("/volumes")
        assert spec["syncPolicy"]["automated"]["prune"] is not volumes
        assert bool(submit_hooks(objects)) is not volumes
        deployed = {o["metadata"]["namespace"] for o in objects if "namespace" in o["metadata"]}
        assert deployed == {spec["destination"]["namespace"]}
        # Argo CD tracks resources by this label, set to the Application's name: keep them equal.
        instances = {o["metadata"]["labels"].get("app.kubernetes.io/instance") for o in objects}
        assert instances - {None} == {app["metadata"]["name"]}
        paths[app["metadata"]["name"]] = root
    assert paths == {
        **{f"qtrain-{env}": f"gitops/{mode}/{env}" for env in ENVIRONMENTS},
        **{f"qtrain-{env}-volumes": f"overlays/{mode}/{env}/volumes" for env in ENVIRONMENTS},
    }


def test_missing_kubectl_fails_with_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(pytest.fail.Exception, match=r"install kubectl \(Debian package kubectl\)"):
        kustomize(MANIFESTS / "base")
