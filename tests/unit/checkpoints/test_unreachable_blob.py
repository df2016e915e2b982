"""An unreachable blob endpoint is reported in one line within 15 s (storage.connect_timeout_s),
not after the SDK's minutes of retries.

"Unreachable" is real: a listening socket on 127.0.0.1 whose accept queue is full, so the
kernel drops the next connection attempts as a black-holed address would.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from qtrain.checkpoints import open_store
from qtrain.config import load_config
from qtrain.errors import InfrastructureError

pytest.importorskip("azure.storage.blob")

KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


@pytest.fixture
def black_hole() -> Iterator[int]:
    """A port on 127.0.0.1 that never completes a connection."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    for _ in range(3):  # fill the accept queue: later SYNs are dropped
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    time.sleep(0.2)
    try:
        yield port
    finally:
        for s in (*fillers, server):
            s.close()


@pytest.mark.parametrize("timeout_s", [5.0, 2.0])
def test_a_black_holed_endpoint_is_reported_quickly(
    black_hole: int, timeout_s: float, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "AZURE_STORAGE_CONNECTION_STRING",
        f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={KEY};"
        f"BlobEndpoint=http://127.0.0.1:{black_hole}/devstoreaccount1;",
    )
    overrides = ["storage.kind=azure_blob", "storage.container=ckpt",
                 f"storage.connect_timeout_s={timeout_s}"]  # fmt: skip
    storage = load_config(None, overrides).storage
    started = time.monotonic()
    with pytest.raises(InfrastructureError) as failed:  # exit 75: try again later
        open_store(storage, tmp_path, "r1").list()
    elapsed = time.monotonic() - started
    assert elapsed < 2 * timeout_s + 5 <= 15, elapsed
    message = str(failed.value)
    assert "\n" not in message and "timed out" in message and KEY not in message
    assert message.startswith("storage unreachable while ")
