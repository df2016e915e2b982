"""Container images for the Kubeflow components, named in one place.

Both images are tagged with the package version, so a pipeline compiled by qtrain X.Y.Z runs
the steps of qtrain X.Y.Z. ``QTRAIN_IMAGE_REGISTRY`` moves them to a private registry where
the pipeline is compiled; ``kubeflow.image_registry`` and ``kubeflow.image_tag`` in the config
do it wherever it is compiled (the submit pod of a CronJob, say).
"""

from __future__ import annotations

import os

from qtrain.version import __version__

DEFAULT_REGISTRY = "ghcr.io/qtrain"
BASE_IMAGE_NAME = "qtrain-base"
TRAIN_IMAGE_NAME = "qtrain-train"


def image_registry() -> str:
    """The registry prefix: ``$QTRAIN_IMAGE_REGISTRY`` or ``ghcr.io/qtrain``."""
    return os.environ.get("QTRAIN_IMAGE_REGISTRY", DEFAULT_REGISTRY).rstrip("/")


def base_image(registry: str | None = None, tag: str | None = None) -> str:
    """CPU image (qtrain + kfp + azure extras): steps that never load the model, and submit."""
    return f"{(registry or image_registry()).rstrip('/')}/{BASE_IMAGE_NAME}:{tag or __version__}"


def train_image(registry: str | None = None, tag: str | None = None) -> str:
    """CUDA image (qtrain + unsloth + bitsandbytes): every step that loads the model."""
    return f"{(registry or image_registry()).rstrip('/')}/{TRAIN_IMAGE_NAME}:{tag or __version__}"
