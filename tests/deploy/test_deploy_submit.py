"""The CronJob's command, run as Kubernetes would run it, submits its mounted run config.

The container's env comes from the built ConfigMaps, ``$(VAR)`` references are expanded the
way the kubelet expands them, ``KFP_HOST`` points at a fake KFP v2beta1 API on 127.0.0.1, and
``/config/run.yaml`` is the ConfigMap's file. The real ``qtrain`` entry point, the real
pipeline compiler and the real ``kfp.Client`` do the rest.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from kustomize_builds import RUN_CONFIG, build, one

pytest.importorskip("kfp", reason="the kfp extra is not installed")

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # `pipelines/` and `components/` sit at the repository root
    sys.path.insert(0, str(REPO))

VARIABLE = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


def container_env(objects: tuple[dict[str, Any], ...], container: dict[str, Any]) -> dict:
    """The container's env vars: literal values and configMapKeyRefs into the build."""
    maps = {m["metadata"]["name"]: m.get("data", {}) for m in objects if m["kind"] == "ConfigMap"}
    env = {}
    for var in container["env"]:
        if "value" in var:
            env[var["name"]] = var["value"]
        else:
            ref = var["valueFrom"]["configMapKeyRef"]
            env[var["name"]] = maps[ref["name"]][ref["key"]]
    return env


def cronjob_argv(root: str, tmp_path: Path, **env_overrides: str) -> tuple[list[str], dict]:
    """The CronJob's command with $(VAR) expanded, /config pointing at the ConfigMap's files."""
    objects = build(root)
    spec = one(objects, "CronJob")["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    env = {**container_env(objects, container), **env_overrides}
    config_map = next(
        m
        for m in objects
        if m["kind"] == "ConfigMap" and m["metadata"]["name"].startswith(RUN_CONFIG)
    )
    config_dir = tmp_path / "config"
    config_dir.mkdir(parents=True)
    for name, text in config_map["data"].items():
        (config_dir / name).write_text(text, encoding="utf-8")
    argv = [VARIABLE.sub(lambda m: env.get(m[1], m[0]), arg) for arg in container["command"]]
    argv = [arg.replace("/config/", f"{config_dir}/") for arg in argv]
    return argv, env


@pytest.fixture
def kfp_api(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """A fake KFP API on 127.0.0.1; no KFP settings leak in from the environment."""
    import kfp
    from support.fake_kfp_api import serving

    for name in ("KF_PIPELINES_ENDPOINT", "KF_PIPELINES_SA_TOKEN_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(kfp.Client, "_LOCAL_KFP_CONTEXT", str(tmp_path / "kfp-context.json"))
    with serving() as api:
        yield api


def run_qtrain(argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys) -> tuple[int, str]:
    from qtrain.cli.app import main

    assert argv[0] == "qtrain"
    monkeypatch.setattr(sys, "argv", argv)
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out + captured.err


@pytest.mark.parametrize("overlay", ["overlays/dev", "overlays/prod"])
def test_cronjob_command_submits_the_mounted_config(
    overlay: str, kfp_api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    argv, env = cronjob_argv(overlay, tmp_path, KFP_HOST=kfp_api.url)
    code, output = run_qtrain(argv, monkeypatch, capsys)
    assert code == 0, output

    [experiment] = kfp_api.calls("POST", "/experiments")
    assert experiment.body["display_name"] == env["KFP_EXPERIMENT"]
    [run] = kfp_api.calls("POST", "/runs")
    submitted = json.loads(run.body["runtime_config"]["parameters"]["config_json"])
    mounted = yaml.safe_load((tmp_path / "config/run.yaml").read_text())
    assert submitted["early_stopping"] == {"target": None, **mounted["early_stopping"]}
    assert submitted["kubeflow"]["model_cache_pvc"] == mounted["kubeflow"]["model_cache_pvc"]


def test_multi_user_kfp_gets_the_namespace_from_the_config_map(
    kfp_api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    kfp_api.multi_user = True
    argv, _ = cronjob_argv("overlays/dev", tmp_path, KFP_HOST=kfp_api.url)
    code, output = run_qtrain(argv, monkeypatch, capsys)
    assert code != 0 and "--namespace" in output, "multi-user KFP needs KFP_NAMESPACE"

    argv, _ = cronjob_argv(
        "overlays/dev", tmp_path / "again", KFP_HOST=kfp_api.url, KFP_NAMESPACE="team-a"
    )
    code, output = run_qtrain(argv, monkeypatch, capsys)
    assert code == 0, output
    [experiment] = kfp_api.calls("POST", "/experiments")
    assert experiment.body["namespace"] == "team-a"
