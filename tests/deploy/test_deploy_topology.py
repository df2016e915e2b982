"""The two install modes of Kubeflow Pipelines, as the built manifests place things.

Multi-user Kubeflow runs a pipeline's pods in the profile's namespace, behind Istio; standalone
KFP runs them in `kubeflow`, where dev and prod then live side by side. Either way the volumes,
the Secret and the submit pod are in the namespace the pipeline runs in, and no root declares
a Namespace it does not own.
"""

from __future__ import annotations

import pytest
from kustomize_builds import (
    ENVIRONMENTS,
    GITOPS_ROOTS,
    ROOTS,
    Obj,
    build,
    of_kind,
    one,
    pod_templates,
    submit_hooks,
    submit_settings,
)

from qtrain.cli.sidecar import ISTIO_QUIT_URL

HOLD_UNTIL_PROXY = '{"holdApplicationUntilProxyStarts": true}'


def egress_peers(policy: Obj) -> dict[tuple[str, str], set[int]]:
    """(namespace, app label) -> ports, for each egress rule of a NetworkPolicy."""
    peers: dict[tuple[str, str], set[int]] = {}
    for rule in policy["spec"]["egress"]:
        ports = {port["port"] for port in rule["ports"]}
        for peer in rule["to"]:
            namespace = peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
            labels = peer["podSelector"]["matchLabels"]
            app = labels.get("app") or labels.get("k8s-app")
            peers.setdefault((namespace, app), set()).update(ports)
    return peers


def selected_by(policy: Obj, template: Obj) -> bool:
    """Whether the policy's podSelector selects pods of this template."""
    wanted = policy["spec"]["podSelector"]["matchLabels"].items()
    return wanted <= template["metadata"]["labels"].items()


@pytest.mark.parametrize("root", ROOTS)
def test_no_root_declares_a_namespace(root: str) -> None:
    """Profiles own their namespaces (multi-user), KFP owns `kubeflow` (standalone)."""
    assert not of_kind(build(root), "Namespace")


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_multi_user_lives_in_the_profile_namespace(env: str) -> None:
    objects = build(f"overlays/multi-user/{env}")
    (namespace,) = {o["metadata"]["namespace"] for o in objects}
    assert namespace == f"qtrain-{env}"
    assert submit_settings(objects)["KFP_NAMESPACE"] == namespace, "KFP runs it in the profile"
    claims = {c["metadata"]["name"] for c in of_kind(objects, "PersistentVolumeClaim")}
    assert claims == {"qtrain-data", "qtrain-checkpoints", "qtrain-model-cache"}


@pytest.mark.parametrize("root", [f"overlays/multi-user/{env}" for env in ENVIRONMENTS])
def test_multi_user_submit_keeps_its_istio_sidecar_and_ends_it(root: str) -> None:
    objects = build(root)
    (template,) = pod_templates(objects)
    annotations = template["metadata"]["annotations"]
    assert annotations["sidecar.istio.io/inject"] == "true", "the KFP API's policy needs mTLS"
    assert annotations["proxy.istio.io/config"] == HOLD_UNTIL_PROXY, "no call before the proxy"
    command = template["spec"]["containers"][0]["command"]
    assert command[command.index("--quit-sidecar") + 1] == ISTIO_QUIT_URL, "or the Job never ends"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_standalone_lives_in_kubeflow_with_names_of_its_own(env: str) -> None:
    objects = build(f"overlays/standalone/{env}")
    assert {o["metadata"]["namespace"] for o in objects} == {"kubeflow"}
    settings = submit_settings(objects)
    assert settings["KFP_NAMESPACE"] == "", "standalone KFP has no profiles"
    assert settings["QTRAIN_AZURE_SECRET"] == f"qtrain-azure-{env}"
    for obj in objects:
        assert obj["metadata"]["name"].startswith("qtrain-")
        assert f"-{env}" in obj["metadata"]["name"], obj["metadata"]["name"]


def test_standalone_dev_and_prod_share_no_name() -> None:
    """Both live in `kubeflow`: no object of one may replace the other's (hook Jobs included)."""
    names = {}
    for env in ENVIRONMENTS:
        objects = [*build(f"overlays/standalone/{env}"), *build(f"gitops/standalone/{env}")]
        names[env] = {(o["kind"], o["metadata"]["name"]) for o in objects}
    assert not names["dev"] & names["prod"]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_standalone_submit_has_no_sidecar(env: str) -> None:
    (template,) = pod_templates(build(f"overlays/standalone/{env}"))
    assert template["metadata"]["annotations"]["sidecar.istio.io/inject"] == "false"
    assert "--quit-sidecar" not in template["spec"]["containers"][0]["command"]


@pytest.mark.parametrize("root", GITOPS_ROOTS)
def test_network_policy_lets_the_submit_pod_reach_what_its_mode_needs(root: str) -> None:
    objects = build(root)
    policy = one(objects, "NetworkPolicy")
    assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    assert policy["spec"]["ingress"] == [], "nothing connects to the submit pod"
    for template in pod_templates(objects):  # the CronJob's and the PostSync hook's pods
        assert selected_by(policy, template)
    peers = egress_peers(policy)
    expected = {("kube-system", "kube-dns"): {53}, ("kubeflow", "ml-pipeline"): {8888}}
    if "/multi-user/" in root:
        expected[("istio-system", "istiod")] = {15012}  # the sidecar's control plane
    assert peers == expected


@pytest.mark.parametrize("root", GITOPS_ROOTS)
def test_the_hook_runs_in_the_pipeline_namespace(root: str) -> None:
    objects = build(root)
    (hook,) = submit_hooks(objects)
    assert hook["metadata"]["namespace"] == one(objects, "CronJob")["metadata"]["namespace"]
    settings = submit_settings(objects)
    if "/standalone/" in root:
        assert hook["metadata"]["name"].endswith(root.rsplit("/", 1)[-1])
    else:
        assert settings["KFP_NAMESPACE"] == hook["metadata"]["namespace"]
