"""Run a ``socketserver`` server on a background thread for the duration of a block."""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar

Server = TypeVar("Server", bound=socketserver.BaseServer)


@contextmanager
def served(server: Server, name: str, poll_s: float = 0.5) -> Iterator[Server]:
    """Serve ``server`` on a daemon thread; on exit stop it, close its socket, join the thread.

    ``poll_s`` is how often ``serve_forever`` checks for shutdown (a shorter one makes the
    block end sooner).
    """
    thread = threading.Thread(target=server.serve_forever, args=(poll_s,), name=name, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
