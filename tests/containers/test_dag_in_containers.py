"""The tiny 2-cycle DAG in the real images (kfp.local's DockerRunner), with the network off,
as the images' uid 1000; one trial diverges and must end as a failed trial with only strict
JSON in the executor outputs. Run by `make test-containers` (scripts/test_containers.sh),
which builds the images and starts the engine; elsewhere these tests skip (under CI=true with
QTRAIN_CONTAINERS set, a missing engine or image fails instead)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest.importorskip("kfp")
docker = pytest.importorskip("docker")

from support.strict_json import DIVERGES, DIVERGING, check_diverged_run  # noqa: E402

from qtrain.config import load_config  # noqa: E402
from qtrain.images import base_image, train_image  # noqa: E402

pytestmark = pytest.mark.containers


@pytest.fixture(scope="module")
def engine():
    """The Docker engine `make test-containers` started, with both images built."""
    try:
        client = docker.from_env()
        client.ping()
        missing = [i for i in (base_image(), train_image()) if not client.images.list(name=i)]
    except docker.errors.DockerException as exc:
        missing = [f"a Docker engine ({exc})"]
    if missing:
        message = f"make test-containers builds what these need: {', '.join(missing)}"
        if os.environ.get("QTRAIN_CONTAINERS"):
            pytest.fail(message)
        pytest.skip(message)
    yield client
    client.close()


def test_the_images_run_as_uid_1000_without_a_network(engine) -> None:
    for image in (base_image(), train_image()):
        out = engine.containers.run(image, ["sh", "-c", "id -u; python3 -c 'import qtrain'"],
                                    network_mode="none", remove=True)  # fmt: skip
        assert out.decode().split() == ["1000"]


def test_the_tiny_dag_runs_in_containers(
    engine, tmp_path: Path, repo_root: Path, monkeypatch
) -> None:
    from qtrain_kfp.pipelines.local_run import run_kfp_local

    monkeypatch.setenv("QTRAIN_FAILPOINTS", DIVERGES)  # passed into the step containers

    overrides = [f"runtime.output_dir={tmp_path}", "runtime.run_id=ctr", *DIVERGING]
    config = load_config(repo_root / "configs/tiny.yaml", overrides)
    report = run_kfp_local(config, keep_outputs=True, quiet=True, containers=True)
    assert report["engine"] == "kfp-docker"
    log = (tmp_path / "ctr" / "kfp-local.log").read_text()
    assert f"Found image '{train_image()}'" in log and f"Found image '{base_image()}'" in log
    check_diverged_run(tmp_path / "ctr", tmp_path / ".kfp-local" / "ctr")
