"""Import the kfp-backed ``qtrain_kfp`` package only when a command needs it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from qtrain.errors import MissingExtraError

_KFP_PACKAGES = ("kfp", "kfp_server_api", "kubernetes")


@contextlib.contextmanager
def kfp_extra(command: str) -> Iterator[None]:
    """Imports inside fail, without the kfp extra, as a one-line error naming the command.

    >>> with kfp_extra("compile"):
    ...     from qtrain_kfp.pipelines import training_pipeline
    """
    try:
        yield
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] in _KFP_PACKAGES:
            raise MissingExtraError("kfp", "kfp", f"`qtrain {command}`") from None
        raise
