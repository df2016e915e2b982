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
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from kustomize_builds import APP_ROOTS, RUN_CONFIG, build, one
from support.cli import run_cli
from support.serving import served

pytest.importorskip("kfp", reason="the kfp extra is not installed")

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # `pipelines/` and `components/` sit at the repository root
    sys.path.insert(0, str(REPO))

VARIABLE = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


def container_env(objects: tuple[dict[str, Any], ...], container: dict[str, Any]) -> dict:
    """The container's env vars: whole ConfigMaps (envFrom), literal values and
    configMapKeyRefs into the build."""
    maps = {m["metadata"]["name"]: m.get("data", {}) for m in objects if m["kind"] == "ConfigMap"}
    env = {}
    for source in container.get("envFrom", []):
        env.update(maps[source["configMapRef"]["name"]])
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
    """``argv`` (``qtrain ...``) run in-process: (exit code, stdout and stderr together)."""
    assert argv[0] == "qtrain"
    code, out, err = run_cli(monkeypatch, capsys, *argv[1:])
    return code, out + err


@pytest.mark.parametrize("overlay", APP_ROOTS)
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
    # the volumes and the Secret the overlay deploys, whatever the mounted file says
    assert submitted["kubeflow"]["runs_pvc"] == env["QTRAIN_RUNS_PVC"]
    assert submitted["kubeflow"]["data_pvc"] == env["QTRAIN_DATA_PVC"]
    assert submitted["kubeflow"]["model_cache_pvc"] == env["QTRAIN_MODEL_CACHE_PVC"]
    assert submitted["kubeflow"]["azure_secret"] == env["QTRAIN_AZURE_SECRET"]
    if "/standalone/" in overlay:
        assert submitted["kubeflow"]["runs_pvc"] != mounted["kubeflow"]["runs_pvc"]


def test_multi_user_kfp_gets_the_namespace_from_the_config_map(
    kfp_api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    kfp_api.multi_user = True
    root = "overlays/standalone/dev/app"  # standalone settings: no namespace
    argv, _ = cronjob_argv(root, tmp_path, KFP_HOST=kfp_api.url)
    code, output = run_qtrain(argv, monkeypatch, capsys)
    assert code != 0 and "--namespace" in output, "multi-user KFP needs KFP_NAMESPACE"

    argv, env = cronjob_argv("overlays/multi-user/dev/app", tmp_path / "mu", KFP_HOST=kfp_api.url)
    argv = _without_sidecar_quit(argv)
    code, output = run_qtrain(argv, monkeypatch, capsys)
    assert code == 0, output
    [experiment] = kfp_api.calls("POST", "/experiments")
    assert experiment.body["namespace"] == env["KFP_NAMESPACE"] == "qtrain-dev"


def _without_sidecar_quit(argv: list[str]) -> list[str]:
    at = argv.index("--quit-sidecar")
    return argv[:at] + argv[at + 2 :]


@pytest.mark.parametrize("fails", [False, True], ids=["submitted", "submit-failed"])
def test_multi_user_submit_ends_its_sidecar_however_it_ends(
    fails: bool, kfp_api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """The Job's pod finishes only when the Istio proxy exits: the command asks it to, at the
    end of a submit that worked and of one that failed."""
    kfp_api.multi_user = True
    host = "http://127.0.0.1:9" if fails else kfp_api.url  # nothing listens on port 9
    argv, _ = cronjob_argv("overlays/multi-user/prod/app", tmp_path, KFP_HOST=host)
    with _quit_endpoint() as (url, posts):
        at = argv.index("--quit-sidecar")
        argv[at + 1] = url
        code, output = run_qtrain(argv, monkeypatch, capsys)
    assert (code != 0) is fails, output
    assert posts == ["/quitquitquit"]


@contextmanager
def _quit_endpoint() -> Iterator[tuple[str, list[str]]]:
    """An HTTP server on 127.0.0.1 standing in for the proxy's admin port; records POSTs."""
    posts: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            posts.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    with served(ThreadingHTTPServer(("127.0.0.1", 0), Handler), "quit-endpoint") as server:
        yield f"http://127.0.0.1:{server.server_port}/quitquitquit", posts
