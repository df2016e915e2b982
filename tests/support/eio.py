"""EIO on writes, injected from outside a real process: an ``LD_PRELOAD`` shim
(``native/eio_shim.c``, built here with the system C compiler) armed by a trigger file."""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

SOURCE = Path(__file__).parent / "native" / "eio_shim.c"


@functools.cache
def shim() -> Path:
    """The built shim (once per process). Without a C compiler a test is skipped, except
    under CI=true, where it fails."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        why = "no C compiler (cc) to build the EIO shim: install gcc"
        if os.environ.get("CI") == "true":
            raise RuntimeError(why)
        import pytest

        pytest.skip(why)
    digest = hashlib.sha256(SOURCE.read_bytes()).hexdigest()[:12]
    built = Path(tempfile.gettempdir()) / f"qtrain-eio-shim-{digest}.so"
    if not built.is_file():
        partial = built.with_suffix(f".{digest}.tmp")
        subprocess.run([compiler, "-shared", "-fPIC", "-O2", "-o", str(partial), str(SOURCE),
                        "-ldl"], check=True, capture_output=True)  # fmt: skip
        partial.replace(built)
    return built


def eio_env(trigger: Path, under: Path, fails: int = 1) -> dict[str, str]:
    """Environment for a process whose next ``fails`` writes under ``under`` fail with EIO
    once ``trigger`` exists."""
    return {
        "LD_PRELOAD": str(shim()),
        "QTRAIN_EIO_TRIGGER": str(trigger),
        "QTRAIN_EIO_UNDER": f"{under}/",
        "QTRAIN_EIO_FAILS": str(fails),
    }
