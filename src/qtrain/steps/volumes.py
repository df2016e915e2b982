"""Make root-owned volumes writable by the pipeline's steps (``kubeflow.volume_init``).

A ReadWriteMany volume (NFS, CephFS, some CSI drivers) often comes up owned by root with mode
0755, and Kubernetes' ``fsGroup`` does not change the ownership of most such volumes; the
steps run as the images' user (uid and gid 1000), so they could not write there. This step
runs first, as uid 0 with the steps' group as its own group, with no capabilities (KFP drops
them all): as the owner of those folders it may still give them to a group it belongs to and
set their mode, so it makes each folder group-writable and setgid (new files and folders
inherit the group).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from qtrain.errors import QtrainError
from qtrain.steps.state import parse_config_json

STEPS_GID = 1000  #: the group of the images' user (images/*/Dockerfile)
_GROUP_RWX_SETGID = stat.S_IRWXG | stat.S_ISGID


def volume_folders(config_json: str) -> list[Path]:
    """The folders the steps write on volumes: the runs folder and the model cache."""
    config = parse_config_json(config_json)
    kubeflow = config.kubeflow
    folders = []
    if kubeflow.runs_pvc:
        folders += [Path(kubeflow.runs_mount_path), config.output_path()]
    if kubeflow.model_cache_pvc:
        folders.append(Path(kubeflow.model_cache_path))
    return list(dict.fromkeys(folders))


def prepare_volumes(config_json: str, gid: int = STEPS_GID) -> list[str]:
    """Create the steps' folders and make them writable by group ``gid``; returns one line per
    folder saying what was done. A folder this process cannot change is refused in one line
    naming it (a volume whose root squashes uid 0 needs its permissions set by its owner)."""
    done = []
    for folder in volume_folders(config_json):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            info = folder.stat()
            if info.st_gid != gid or (info.st_mode & _GROUP_RWX_SETGID) != _GROUP_RWX_SETGID:
                if info.st_gid != gid:
                    os.chown(folder, -1, gid)
                os.chmod(folder, stat.S_IMODE(info.st_mode) | _GROUP_RWX_SETGID)
                done.append(f"{folder}: group {gid}, group-writable, setgid")
            else:
                done.append(f"{folder}: already writable by group {gid}")
        except OSError as exc:
            raise QtrainError(
                f"cannot make {folder} writable by the steps' group {gid}: {exc.strerror}; "
                "set the volume's owner or group on the storage side (for example the "
                "StorageClass's mount options), or turn kubeflow.volume_init off"
            ) from None
    return done
