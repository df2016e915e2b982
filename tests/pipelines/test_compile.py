"""The compiled pipeline: unrolled cycles under early-stop gates, settings, size, images."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

pytest.importorskip("kfp")

from qtrain.config import load_config
from qtrain.config.schema import RunConfig
from qtrain.errors import QtrainError
from qtrain.images import base_image, train_image
from qtrain_kfp.pipelines.training_pipeline import argo_estimate, compile_pipeline

DEFAULT_MAX_CYCLES = RunConfig().early_stopping.max_cycles
MODEL_STEPS = ("exec-preprocess", "exec-train-trial", "exec-evaluate", "exec-export")


def compiled(tmp_path: Path, *overrides: str) -> tuple[dict[str, Any], dict[str, Any], RunConfig]:
    config = load_config(None, list(overrides))
    path = compile_pipeline(config, tmp_path / "pipeline.yaml")
    spec, platform = yaml.safe_load_all(path.read_text())
    return spec, platform, config


def tasks(spec: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    """Every task of every DAG: name -> (the DAG component holding it, the task)."""
    found = {name: ("root", task) for name, task in spec["root"]["dag"]["tasks"].items()}
    for component, body in spec["components"].items():
        for name, task in body.get("dag", {}).get("tasks", {}).items():
            found[name] = (component, task)
    return found


def parents(spec: dict[str, Any]) -> dict[str, str]:
    """DAG component -> the DAG component whose task runs it."""
    return {
        task["componentRef"]["name"]: holder
        for holder, task in tasks(spec).values()
        if task["componentRef"]["name"] in spec["components"]
        and "dag" in spec["components"][task["componentRef"]["name"]]
    }


def of_kind(spec: dict[str, Any], component: str) -> dict[str, tuple[str, dict[str, Any]]]:
    prefix = f"comp-{component}"
    return {
        n: t for n, t in tasks(spec).items()
        if t[1]["componentRef"]["name"] == prefix
        or (t[1]["componentRef"]["name"].startswith(prefix + "-")
        and t[1]["componentRef"]["name"][len(prefix) + 1:].isdigit())
    }  # fmt: skip


def depth(spec: dict[str, Any], holder: str) -> int:
    """How many `continue` conditions enclose a DAG component."""
    up, n, names = parents(spec), 0, {}
    for _, task in tasks(spec).values():
        names[task["componentRef"]["name"]] = task["taskInfo"]["name"]
    while holder in up:
        if names.get(holder, "").startswith("continue-"):
            n += 1
        holder = up[holder]
    return n


@pytest.mark.parametrize("cycles", sorted({1, 3, DEFAULT_MAX_CYCLES}))
def test_cycles_are_unrolled_under_the_gates(tmp_path: Path, cycles: int) -> None:
    spec, _, config = compiled(tmp_path, f"early_stopping.max_cycles={cycles}")
    k = config.training.trials_per_cycle
    proposes, trains = of_kind(spec, "propose"), of_kind(spec, "train-trial")
    assert len(proposes) == len(trains) == len(of_kind(spec, "select")) == cycles
    assert len(of_kind(spec, "evaluate")) == cycles
    assert len(of_kind(spec, "early-stop-gate")) == cycles - 1
    assert len(of_kind(spec, "export")) == cycles  # one per way the loop can end
    assert len(of_kind(spec, "preprocess")) == 1
    # cycle c runs only if the c-1 gates before it said "continue"
    assert sorted(depth(spec, holder) for holder, _ in proposes.values()) == list(range(cycles))
    conditions = {
        t["taskInfo"]["name"]: t["triggerPolicy"]["condition"]
        for _, t in tasks(spec).values()
        if t["taskInfo"]["name"].startswith(("continue-", "stop-"))
    }
    assert sorted(conditions) == sorted(
        [f"continue-{c}" for c in range(1, cycles)] + [f"stop-{c}" for c in range(1, cycles)]
    )
    for name, condition in conditions.items():
        assert "early-stop-gate" in condition and "== true" in condition, name
        assert condition.startswith("!(") == name.startswith("stop-")
    # trials of a cycle: a ParallelFor over the proposals, k at a time
    for holder, _ in trains.values():
        loop = next(t for h, t in tasks(spec).values() if t["componentRef"]["name"] == holder)
        assert loop["iteratorPolicy"]["parallelismLimit"] == k
        assert loop["parameterIterator"]["itemInput"].endswith("loop-item")


def test_gate_has_one_boolean_output_and_failures_reach_the_exit_handler(
    tmp_path: Path,
) -> None:
    spec, _, config = compiled(tmp_path)
    gate = spec["components"]["comp-early-stop-gate"]
    assert gate["outputDefinitions"] == {"parameters": {"Output": {"parameterType": "BOOLEAN"}}}
    root = spec["root"]["dag"]["tasks"]
    assert set(root) == {"exit-handler-1", "report-failure"}
    assert root["report-failure"]["triggerPolicy"]["strategy"] == "ALL_UPSTREAM_TASKS_COMPLETED"
    parameter = spec["root"]["inputDefinitions"]["parameters"]["config_json"]
    assert parameter["parameterType"] == "STRING"
    assert json.loads(parameter["defaultValue"]) == json.loads(config.model_dump_json())


def test_kfp_ui_artifacts_are_typed(tmp_path: Path) -> None:
    spec, _, _ = compiled(tmp_path)
    outputs = {
        name: {
            key: value["artifactType"]["schemaTitle"]
            for key, value in body["outputDefinitions"].get("artifacts", {}).items()
        }
        for name, body in spec["components"].items()
        if "executorLabel" in body
    }
    assert outputs["comp-preprocess"]["data"] == "system.Dataset"
    assert outputs["comp-train-trial"]["checkpoint"] == "system.Model"
    assert outputs["comp-evaluate"]["metrics"] == "system.Metrics"
    assert outputs["comp-select"]["cycle_metrics"] == "system.Metrics"
    assert outputs["comp-select"]["summary"] == "system.Markdown"
    assert outputs["comp-export"]["report"] == "system.Markdown"
    assert outputs["comp-export"]["model"] == "system.Model"
    select_inputs = spec["components"]["comp-select"]["inputDefinitions"]["artifacts"]
    assert select_inputs["checkpoints"]["isArtifactList"] is True


def test_images_follow_the_package_version(tmp_path: Path) -> None:
    spec, _, _ = compiled(tmp_path)
    images = {n: e["container"]["image"] for n, e in spec["deploymentSpec"]["executors"].items()}
    model_steps = {n for n in images if n.startswith(MODEL_STEPS)}
    assert {images[n] for n in model_steps} == {train_image()}  # CUDA: they load the model
    assert {images[n] for n in images.keys() - model_steps} == {base_image()}
    assert any(n.startswith("exec-propose") for n in images.keys() - model_steps)


def test_gpu_secret_volume_and_retry_come_from_the_config(tmp_path: Path) -> None:
    spec, platform, _ = compiled(
        tmp_path,
        "kubeflow.gpu.count=1",
        "kubeflow.gpu.accelerator_type=nvidia.com/gpu",
        "kubeflow.gpu.node_selector={cloud.google.com/gke-accelerator: nvidia-h100-80gb}",
        "kubeflow.train_retries=3",
        "kubeflow.data_pvc=qtrain-data",
        "kubeflow.runs_pvc=qtrain-checkpoints",
    )
    executors = spec["deploymentSpec"]["executors"]
    k8s = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    for name, executor in executors.items():
        resources = executor["container"].get("resources", {})
        if not name.startswith(MODEL_STEPS):
            assert "accelerator" not in resources, name
            continue
        assert resources["accelerator"]["resourceType"] == "nvidia.com/gpu", name
        assert resources["accelerator"]["resourceCount"] == "1", name
        assert k8s[name]["nodeSelector"]["labels"] == {
            "cloud.google.com/gke-accelerator": "nvidia-h100-80gb"
        }
        assert k8s[name]["tolerations"][0]["key"] == "nvidia.com/gpu"
        assert k8s[name]["pvcMount"][0]["mountPath"] == "/models/cache"
    mounts = {m["mountPath"]: m["constant"] for m in k8s["exec-preprocess"]["pvcMount"]}
    assert mounts == {
        "/models/cache": "qtrain-model-cache",
        "/mnt/data": "qtrain-data",
        "/mnt/checkpoints": "qtrain-checkpoints",  # a taken run id fails before training
    }
    prep = next(t for n, (_, t) in tasks(spec).items() if n == "preprocess")
    assert prep["cachingOptions"].get("enableCache", False) is False  # a new run id every run
    export_mounts = {m["mountPath"]: m["constant"] for m in k8s["exec-export"]["pvcMount"]}
    assert export_mounts["/mnt/checkpoints"] == "qtrain-checkpoints"
    # credentials only where used: the solver (propose) and a blob checkpoint store (export)
    with_secret = {n for n, e in k8s.items() if "secretAsEnv" in e}
    assert {n.rstrip("-0123456789") for n in with_secret} == {"exec-propose", "exec-export"}
    for executor in with_secret:
        secret = k8s[executor]["secretAsEnv"][0]
        assert secret["secretName"] == "qtrain-azure" and secret["optional"] is True
        assert {"AZURE_QUANTUM_API_KEY", "AZURE_STORAGE_CONNECTION_STRING"} <= {
            m["envVar"] for m in secret["keyToEnv"]
        }
    train_task = next(t for n, (_, t) in tasks(spec).items() if n == "train-trial")
    assert train_task["retryPolicy"]["maxRetryCount"] == 3


def test_cpu_pipeline_requests_no_gpu(tmp_path: Path) -> None:
    spec, platform, _ = compiled(tmp_path)
    train = spec["deploymentSpec"]["executors"]["exec-train-trial"]["container"]
    assert "accelerator" not in train.get("resources", {})
    k8s = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert "nodeSelector" not in k8s["exec-train-trial"]
    assert "tolerations" not in k8s["exec-train-trial"]


def test_default_pipeline_fits_the_cluster_limit(tmp_path: Path) -> None:
    warnings: list[str] = []
    config = load_config(None, [])
    path = compile_pipeline(config, tmp_path / "p.yaml", warn=warnings.append)
    estimate = argo_estimate(path, config)
    assert estimate.refusal() is None and estimate.warning() is None and not warnings


def test_oversized_pipeline_is_refused_and_output_untouched(tmp_path: Path) -> None:
    target = tmp_path / "p.yaml"
    target.write_text("keep me")
    with pytest.raises(QtrainError, match="lower early_stopping.max_cycles"):
        compile_pipeline(load_config(None, ["early_stopping.max_cycles=20"]), target)
    assert target.read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.yaml"]


def test_qtrain_compile_cli(tmp_path: Path, repo_root: Path) -> None:
    out = tmp_path / "pipeline.yaml"
    qtrain = Path(sys.executable).with_name("qtrain")
    args = ["compile", "configs/tiny.yaml", "early_stopping.max_cycles=2", "-o", str(out)]
    ok = subprocess.run(
        [str(qtrain), *args],
        cwd=repo_root, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert "2 cycles x 2 trials" in ok.stdout
    assert len(of_kind(next(yaml.safe_load_all(out.read_text())), "propose")) == 2
    bad = subprocess.run(
        [str(qtrain), "compile", "early_stopping.max_cycles=0", "-o", str(out)],
        cwd=repo_root, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert bad.returncode == 2
    assert "max_cycles" in bad.stderr and "Traceback" not in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


def test_core_package_never_imports_kfp(repo_root: Path) -> None:
    code = (
        "import sys, pkgutil, importlib, qtrain\n"
        "for m in pkgutil.walk_packages(qtrain.__path__, 'qtrain.'):\n"
        "    importlib.import_module(m.name)\n"
        "kfp = ('kfp', 'pipelines', 'components')\n"
        "bad = sorted(n for n in sys.modules if n.split('.')[0] in kfp)\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=repo_root, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_secret_in_the_config_is_not_compiled_into_the_pipeline(tmp_path: Path) -> None:
    with pytest.raises(QtrainError, match="AZURE_QUANTUM_STORAGE"):
        compiled(tmp_path, "quantum.azure.storage=DefaultEndpointsProtocol=http;AccountKey=k")
    assert not (tmp_path / "pipeline.yaml").exists()


def test_the_dag_shape_is_passed_to_preprocess(tmp_path: Path) -> None:
    spec, _, _ = compiled(tmp_path, "early_stopping.max_cycles=2")
    prep = next(t for n, (_, t) in tasks(spec).items() if n == "preprocess")
    constants = {k: v["runtimeValue"]["constant"] for k, v in prep["inputs"]["parameters"].items()
                 if "runtimeValue" in v}  # fmt: skip
    assert constants == {"compiled_cycles": 2, "compiled_trials": 2, "compiled_halving": False}


@pytest.mark.parametrize("cycles", [1, 3])
def test_successive_halving_compiles_rungs_halve_and_continue(tmp_path: Path, cycles: int) -> None:
    spec, _, config = compiled(
        tmp_path, f"early_stopping.max_cycles={cycles}", "training.rung_steps=20",
        "training.trials_per_cycle=3", "kubeflow.train_retries=2",
    )  # fmt: skip
    k = config.training.trials_per_cycle
    rungs, found = of_kind(spec, "train-rung"), tasks(spec)
    for kind in ("propose", "train-rung", "halve", "continue-trial", "evaluate", "select-halved"):
        assert len(of_kind(spec, kind)) == cycles, kind
    for kind in ("train-trial", "select"):  # the full-length trials' tasks are not there
        assert of_kind(spec, kind) == {}, kind
    assert len(of_kind(spec, "early-stop-gate")) == cycles - 1
    assert len(of_kind(spec, "export")) == cycles
    for holder, _ in rungs.values():  # the rungs: a ParallelFor over the proposals, k at a time
        loop = next(t for h, t in found.values() if t["componentRef"]["name"] == holder)
        assert loop["taskInfo"]["name"].startswith("rungs-")
        assert loop["iteratorPolicy"]["parallelismLimit"] == k
    outside = {n: h for n, (h, _) in found.items() if not h.startswith("comp-for-loop")}
    for kind in ("halve", "continue-trial", "evaluate", "select-halved"):  # one per cycle
        assert set(of_kind(spec, kind)) <= set(outside), kind
    # the chain: rungs -> halve -> continue (the winner, from every rung's state) -> evaluate
    for name, (_, task) in of_kind(spec, "continue-trial").items():
        inputs = task["inputs"]
        assert inputs["parameters"]["winner"]["taskOutputParameter"]["producerTask"].startswith(
            "halve"
        )
        assert inputs["artifacts"]["rungs"]["taskOutputArtifact"]["outputArtifactKey"] == (
            "pipelinechannel--train-rung" + name.removeprefix("continue-trial") + "-rung"
        )
        assert task["retryPolicy"]["maxRetryCount"] == 2
    for _, task in of_kind(spec, "select-halved").values():
        state = task["inputs"]["artifacts"]["state"]["taskOutputArtifact"]
        assert state["producerTask"].startswith("halve") and state["outputArtifactKey"] == (
            "new_state"
        )
    prep = next(t for n, (_, t) in found.items() if n == "preprocess")
    assert prep["inputs"]["parameters"]["compiled_halving"]["runtimeValue"]["constant"] is True
    images = {n: e["container"]["image"] for n, e in spec["deploymentSpec"]["executors"].items()}
    for name, image in images.items():
        gpu_step = name.startswith(("exec-train-rung", "exec-continue-trial", *MODEL_STEPS))
        assert image == (train_image() if gpu_step else base_image()), name
    assert "successive halving after 20-step rungs" in spec["pipelineInfo"]["description"]


def test_an_oversized_halving_pipeline_names_the_rungs(tmp_path: Path) -> None:
    target = tmp_path / "p.yaml"
    overrides = [
        "early_stopping.max_cycles=10",
        "training.trials_per_cycle=6",
        "training.rung_steps=20",
    ]
    config = load_config(None, overrides)
    with pytest.raises(QtrainError, match=r"with successive halving .* unset training.rung_steps"):
        compile_pipeline(config, target)
    assert not target.exists()


def test_the_default_lineage_is_refused_by_the_pipeline_for_now(tmp_path: Path) -> None:
    config = load_config(None, ["quantum.default_lineage=true"])
    with pytest.raises(QtrainError, match=r"quantum\.default_lineage runs in-process only"):
        compile_pipeline(config, tmp_path / "p.yaml")


def test_a_controllable_pipeline_needs_a_store_and_its_gate_is_never_cached(
    tmp_path: Path,
) -> None:
    with pytest.raises(QtrainError, match="kubeflow.control needs a store") as error:
        compiled(tmp_path, "kubeflow.control=true")
    assert "\n" not in str(error.value) and not (tmp_path / "pipeline.yaml").exists()
    spec, platform, _ = compiled(
        tmp_path, "kubeflow.control=true", "kubeflow.runs_pvc=runs", "kubeflow.caching=true"
    )
    gates = [t for n, (_, t) in tasks(spec).items() if n.startswith("early-stop-gate")]
    assert gates and all(t["cachingOptions"].get("enableCache", False) is False for t in gates)
    k8s = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert k8s["exec-early-stop-gate"]["pvcMount"][0]["mountPath"] == "/mnt/checkpoints"


def _container_tasks(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every task that runs a container (not a sub-DAG): name -> task."""
    return {
        name: task
        for name, (_, task) in tasks(spec).items()
        if "dag" not in spec["components"][task["componentRef"]["name"]]
    }


def test_every_step_retries_and_has_a_deadline(tmp_path: Path) -> None:
    spec, platform, config = compiled(tmp_path, "kubeflow.step_retries=4")
    k8s = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    found = _container_tasks(spec)
    assert len(found) > 10
    for name, task in found.items():
        expected = 2 if name.startswith("train-trial") else 4  # train: kubeflow.train_retries
        assert task["retryPolicy"]["maxRetryCount"] == expected, name
    for executor in spec["deploymentSpec"]["executors"]:
        deadline = int(k8s[executor]["activeDeadlineSeconds"])
        model = executor.startswith(MODEL_STEPS)
        kf = config.kubeflow
        assert deadline == (kf.model_step_timeout_s if model else kf.step_timeout_s), executor


def test_a_guided_propose_step_outlives_its_decision_deadline(tmp_path: Path) -> None:
    _, platform, _ = compiled(
        tmp_path, "runtime.mode=guided", "kubeflow.control=true", "kubeflow.runs_pvc=runs",
        "guided.deadline_s=30000",
    )  # fmt: skip
    k8s = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    proposes = [e for name, e in k8s.items() if name.startswith("exec-propose")]
    assert proposes and all(int(e["activeDeadlineSeconds"]) == 30600 for e in proposes)


def test_the_image_registry_tag_and_pull_secrets_come_from_the_config(tmp_path: Path) -> None:
    spec, platform, _ = compiled(
        tmp_path, "kubeflow.image_registry=myacr.azurecr.io/team/", "kubeflow.image_tag=1.2.3",
        "kubeflow.image_pull_secrets=[acr-pull]",
    )  # fmt: skip
    images = {n: e["container"]["image"] for n, e in spec["deploymentSpec"]["executors"].items()}
    model_steps = {n for n in images if n.startswith(MODEL_STEPS)}
    assert {images[n] for n in model_steps} == {"myacr.azurecr.io/team/qtrain-train:1.2.3"}
    assert {images[n] for n in images.keys() - model_steps} == {
        "myacr.azurecr.io/team/qtrain-base:1.2.3"
    }
    k8s = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert all(
        [s["secretName"] for s in e["imagePullSecret"]] == ["acr-pull"] for e in k8s.values()
    )


def test_an_adapter_only_export_holds_no_gpu(tmp_path: Path) -> None:
    for merged, gpu in (("true", True), ("false", False)):
        spec, _, _ = compiled(tmp_path, "kubeflow.gpu.count=1", f"runtime.export_merged={merged}")
        export = spec["deploymentSpec"]["executors"]["exec-export"]["container"]
        assert ("accelerator" in export.get("resources", {})) is gpu
        train = spec["deploymentSpec"]["executors"]["exec-train-trial"]["container"]
        assert "accelerator" in train["resources"]


def test_export_has_a_final_metrics_artifact(tmp_path: Path) -> None:
    spec, _, _ = compiled(tmp_path)
    outputs = spec["components"]["comp-export"]["outputDefinitions"]["artifacts"]
    assert outputs["best_metrics"]["artifactType"]["schemaTitle"] == "system.Metrics"


def test_a_gated_model_token_reaches_every_step_that_loads_the_model(tmp_path: Path) -> None:
    _, platform, _ = compiled(tmp_path, "kubeflow.hf_secret=hf-token", "kubeflow.hf_secret_key=t")
    executors = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    for name, executor in executors.items():
        hf = [s for s in executor.get("secretAsEnv", []) if s["secretName"] == "hf-token"]
        if name.startswith(MODEL_STEPS):
            (secret,) = hf
            assert secret["keyToEnv"] == [{"envVar": "HF_TOKEN", "secretKey": "t"}]
            assert secret["optional"] is False, "a missing token fails the pod, visibly"
        else:
            assert not hf, name


def test_volume_init_runs_first_as_root_with_the_steps_group(tmp_path: Path) -> None:
    spec, platform, _ = compiled(
        tmp_path, "kubeflow.volume_init=true", "kubeflow.runs_pvc=qtrain-checkpoints"
    )
    executors = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    init = executors["exec-prepare-volumes"]
    assert init["securityContext"] == {
        "runAsUser": "0",
        "runAsGroup": "1000",
        "runAsNonRoot": False,
    }
    assert {m["mountPath"] for m in init["pvcMount"]} == {"/mnt/checkpoints", "/models/cache"}
    found = tasks(spec)
    assert found["preprocess"][1]["dependentTasks"] == ["prepare-volumes"]
    _, _, without = compiled(tmp_path / "off")
    assert "prepare-volumes" not in tasks(compiled(tmp_path / "off")[0])
    assert without.kubeflow.volume_init is False
