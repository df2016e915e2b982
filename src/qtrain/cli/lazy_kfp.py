"""Import the kfp-backed ``pipelines`` package only when a command needs it."""

from __future__ import annotations

import importlib
from types import ModuleType

from qtrain.errors import MissingExtraError

_KFP_PACKAGES = ("kfp", "kfp_server_api", "kubernetes")


def import_pipelines(module: str, command: str) -> ModuleType:
    """``pipelines.<module>``; without the kfp extra, a one-line error naming it."""
    try:
        return importlib.import_module(f"pipelines.{module}")
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] in _KFP_PACKAGES:
            raise MissingExtraError("kfp", "kfp", f"`qtrain {command}`") from None
        raise
