"""kubeflow.volume_init: a root-owned folder becomes writable by the steps' user."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from qtrain.config import load_config
from qtrain.errors import QtrainError
from qtrain.steps.volumes import STEPS_GID, prepare_volumes, volume_folders

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="changing a folder's group and running as uid 1000 needs root"
)


@pytest.fixture
def volumes_root() -> Iterator[Path]:
    """A folder uid 1000 can reach (pytest's own tmp folders are 0700 root)."""
    root = Path(tempfile.mkdtemp(prefix="qtrain-volumes-"))
    root.chmod(0o755)
    try:
        yield root
    finally:
        shutil.rmtree(root)


def config_json(tmp_path: Path) -> str:
    config = load_config(
        None,
        [
            "kubeflow.runs_pvc=qtrain-checkpoints",
            f"kubeflow.runs_mount_path={tmp_path / 'runs-volume'}",
            f"runtime.output_dir={tmp_path / 'runs-volume' / 'runs'}",
            f"kubeflow.model_cache_path={tmp_path / 'cache-volume'}",
        ],
    )
    return config.model_dump_json()


def writes_as_steps_user(folder: Path) -> bool:
    """Whether uid/gid 1000 (the images' user) can create a file in ``folder``."""
    code = (
        "import os, sys; os.setgroups([]); os.setgid(1000); os.setuid(1000); "
        "open(os.path.join(sys.argv[1], 'probe'), 'w').close()"
    )
    return subprocess.run([sys.executable, "-c", code, str(folder)], check=False).returncode == 0


def test_root_owned_volumes_become_writable_by_the_steps(volumes_root: Path) -> None:
    tmp_path = volumes_root
    text = config_json(tmp_path)
    for volume in ("runs-volume", "cache-volume"):
        (tmp_path / volume).mkdir(mode=0o755)  # as a fresh RWX volume: root:root 0755
        assert not writes_as_steps_user(tmp_path / volume)
    lines = prepare_volumes(text)
    assert len(lines) == 3 and all(f"group {STEPS_GID}" in line for line in lines)
    for folder in volume_folders(text):
        assert folder.stat().st_gid == STEPS_GID
        assert writes_as_steps_user(folder), folder
    assert prepare_volumes(text) == [
        f"{f}: already writable by group 1000" for f in volume_folders(text)
    ]


def test_a_folder_it_cannot_change_is_one_line(tmp_path: Path) -> None:
    text = config_json(tmp_path)
    (tmp_path / "runs-volume").write_text("a file where the volume's folder should be")
    with pytest.raises(QtrainError, match=r"^cannot make .*runs-volume.* writable by the steps"):
        prepare_volumes(text)
