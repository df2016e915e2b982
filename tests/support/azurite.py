"""Start Azurite (the Azure Storage emulator, installed by ``make setup-azurite``) on 127.0.0.1.

Azurite 3.35.0 is the last release that runs on Node 20. It is installed under
``.tools/azurite`` in the repository; ``QTRAIN_AZURITE`` may point at another ``azurite-blob``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
LOCAL_INSTALL = REPO_ROOT / ".tools" / "azurite" / "node_modules" / ".bin" / "azurite-blob"

# Azurite's well-known development account (public, documented by Microsoft; not a secret).
ACCOUNT_NAME = "devstoreaccount1"
ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


@dataclass(frozen=True)
class Azurite:
    """A running Azurite blob endpoint."""

    host: str
    port: int

    @property
    def blob_endpoint(self) -> str:
        """``http://127.0.0.1:PORT/devstoreaccount1``."""
        return f"http://{self.host}:{self.port}/{ACCOUNT_NAME}"

    @property
    def connection_string(self) -> str:
        """A connection string for azure-storage-blob and the azure-quantum Workspace."""
        return (
            "DefaultEndpointsProtocol=http;"
            f"AccountName={ACCOUNT_NAME};AccountKey={ACCOUNT_KEY};"
            f"BlobEndpoint={self.blob_endpoint};"
        )


def azurite_executable() -> str | None:
    """The ``azurite-blob`` launcher: $QTRAIN_AZURITE, the repo-local install, or PATH."""
    override = os.environ.get("QTRAIN_AZURITE")
    if override:
        return override
    if LOCAL_INSTALL.exists():
        return str(LOCAL_INSTALL)
    return shutil.which("azurite-blob")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_listening(port: int, process: subprocess.Popen, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Azurite exited with code {process.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"Azurite did not listen on 127.0.0.1:{port} within {timeout_s:.0f} s")


@contextmanager
def running_azurite(timeout_s: float = 30.0) -> Iterator[Azurite]:
    """Run Azurite's blob service (in-memory) on a free 127.0.0.1 port; stop it on exit."""
    executable = azurite_executable()
    if executable is None:
        raise RuntimeError("Azurite is not installed: run `make setup-azurite`")
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="azurite-") as workdir:
        # --inMemoryPersistence keeps blobs off disk; the working directory holds its debug files.
        process = subprocess.Popen(
            [
                executable,
                "--blobHost", "127.0.0.1",
                "--blobPort", str(port),
                "--inMemoryPersistence",
                "--skipApiVersionCheck",
                "--loose",
                "--silent",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=workdir,
        )  # fmt: skip
        try:
            _wait_listening(port, process, timeout_s)
            yield Azurite("127.0.0.1", port)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
