"""End a service-mesh sidecar when a one-shot command is done.

A Kubernetes Job whose pod carries an Istio proxy never completes while the proxy runs: the
submit Job in a multi-user Kubeflow profile keeps the proxy (the KFP API's authorization needs
the mesh) and asks it to exit, through its admin endpoint, once ``qtrain submit`` is done.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager

ISTIO_QUIT_URL = "http://127.0.0.1:15020/quitquitquit"


def quit_sidecar(url: str, report: Callable[[str], None], timeout_s: float = 5.0) -> bool:
    """POST to the sidecar's quit endpoint ``url``; report one line and return False when the
    sidecar did not answer (the command's own outcome stands either way)."""
    try:
        request = urllib.request.Request(url, data=b"", method="POST")
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            response.read()
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        report(f"could not end the sidecar at {url}: {reason}")
        return False
    return True


@contextmanager
def sidecar_ended_after(url: str | None, report: Callable[[str], None]) -> Iterator[None]:
    """Run the block, then end the sidecar at ``url`` (if given), however the block ended."""
    try:
        yield
    finally:
        if url:
            quit_sidecar(url, report)
