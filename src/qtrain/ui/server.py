"""Serving the dashboard: a socket bound first (a port in use is one line, not a traceback),
a fresh token per start, the URL printed once; blocking (``qtrain ui``) or beside a run in
a thread (``qtrain run --ui``)."""

from __future__ import annotations

import getpass
import secrets
import socket
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from qtrain.errors import QtrainError
from qtrain.ui.runs import RunsRoot


@dataclass
class Dashboard:
    """A bound dashboard: its URL (with the token) and the server, not yet serving."""

    url: str
    server: object
    sock: socket.socket
    thread: threading.Thread | None = None

    def serve(self) -> None:
        """Serve until Ctrl-C (``qtrain ui``)."""
        self.server.run(sockets=[self.sock])  # type: ignore[attr-defined]

    def start(self) -> Dashboard:
        """Serve in a daemon thread (beside an in-process run); returns self."""
        self.thread = threading.Thread(target=self.serve, name="qtrain-ui", daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        """Stop serving (open event streams end) and wait for the thread."""
        self.server.should_exit = True  # type: ignore[attr-defined]
        if self.thread is not None:
            self.thread.join(timeout=10)


def bind(
    root: RunsRoot,
    host: str = "127.0.0.1",
    port: int = 8765,
    user: str | None = None,
    allowed_hosts: Iterable[str] = (),
) -> Dashboard:
    """Bind ``host:port`` (0: a free port) and build the app; one line if the port is taken."""
    try:
        import uvicorn

        from qtrain.ui.app import create_app
    except ImportError as exc:
        raise QtrainError(
            f"qtrain ui needs the ui extra ({exc.name} is missing): pip install 'qtrain[ui]'"
        ) from None
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise QtrainError(
            f"cannot listen on {host}:{port} ({exc.strerror}): choose another --port "
            "(0 picks a free one)"
        ) from None
    sock.listen(64)
    sock.set_inheritable(True)
    bound_port = sock.getsockname()[1]
    token = secrets.token_urlsafe(24)
    name = user or _os_user()
    app = create_app(root, token, [host, *allowed_hosts], name)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    shown = f"[{host}]" if ":" in host else host
    return Dashboard(f"http://{shown}:{bound_port}/?token={token}", uvicorn.Server(config), sock)


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
