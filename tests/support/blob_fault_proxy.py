"""A fault-injecting HTTP proxy on 127.0.0.1 in front of Azurite: storage that fails.

Requests are counted from 1 as they arrive. From request ``start`` on, ``count`` requests
(None: every one until :meth:`BlobFaultProxy.heal`) get the plan's fault:

- ``5xx``: answered ``503 ServerBusy`` by the proxy (Azurite never sees them);
- ``reset``: the connection is reset (TCP RST) before the request is forwarded;
- ``stall``: forwarded, and the answer held back ``delay_s`` seconds (a slow service);
- ``lost``: forwarded and carried out by Azurite, then the connection is reset before the
  answer comes back: the write happened, the client cannot know.

Messages are framed by ``Content-Length`` or chunked encoding and relayed byte for byte, so
the shared-key signatures the SDK computes still hold.
"""

from __future__ import annotations

import socket
import socketserver
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO

from support.azurite import ACCOUNT_KEY, ACCOUNT_NAME, Azurite
from support.serving import served

MODES = ("5xx", "reset", "stall", "lost")
_BUSY_BODY = (
    b'<?xml version="1.0" encoding="utf-8"?><Error><Code>ServerBusy</Code>'
    b"<Message>The server is busy (injected by the test proxy).</Message></Error>"
)
_BUSY = (
    b"HTTP/1.1 503 The server is busy.\r\nContent-Type: application/xml\r\n"
    b"x-ms-error-code: ServerBusy\r\nx-ms-request-id: 00000000-0000-0000-0000-000000000000\r\n"
    b"Content-Length: " + str(len(_BUSY_BODY)).encode() + b"\r\n\r\n" + _BUSY_BODY
)


@dataclass(frozen=True)
class FaultPlan:
    """Which requests fail, and how."""

    mode: str
    start: int  #: the first faulted request (1-based)
    count: int | None = None  #: how many; None: all of them until healed (an outage)
    delay_s: float = 2.0  #: how long a ``stall`` holds each answer

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown fault mode {self.mode!r}; one of {MODES}")


def _read_message(stream: BinaryIO, *, no_body: bool = False) -> bytes | None:
    """One HTTP message (head and body) as sent, or None at end of stream."""
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        line = stream.readline(65537)
        if not line:
            return head or None
        if head == b"" and line in (b"\r\n", b"\n"):
            continue  # a stray CRLF between messages
        head += line
    headers = {}
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    status_line = head.split(b"\r\n", 1)[0]
    if status_line.startswith(b"HTTP/"):
        status = int(status_line.split()[1])
        no_body = no_body or status in (204, 304) or 100 <= status < 200
    if no_body:
        return head
    if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
        body = b""
        while True:
            size_line = stream.readline()
            body += size_line
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while (trailer := stream.readline()) not in (b"\r\n", b""):
                    body += trailer
                return head + body + b"\r\n"
            body += stream.read(size + 2)
    length = int(headers.get(b"content-length", b"0") or 0)
    return head + (stream.read(length) if length else b"")


def _reset(connection: socket.socket) -> None:
    """Close with a TCP RST, as a crashed peer or a dropped route does."""
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    connection.close()


class BlobFaultProxy(socketserver.ThreadingTCPServer):
    """The proxy; :func:`running_proxy` starts and stops it."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, upstream: Azurite, plan: FaultPlan | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _Relay)
        self.upstream = upstream
        self.plan = plan
        self.requests = 0  #: requests seen
        self.faulted = 0  #: requests given the plan's fault
        self._lock = threading.Lock()

    @property
    def port(self) -> int:
        """The port it listens on."""
        return int(self.server_address[1])

    @property
    def connection_string(self) -> str:
        """A connection string that sends Azurite's account through the proxy."""
        endpoint = f"http://127.0.0.1:{self.port}/{ACCOUNT_NAME}"
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT_NAME};"
            f"AccountKey={ACCOUNT_KEY};BlobEndpoint={endpoint};"
        )

    def heal(self) -> None:
        """End the faults: every later request is relayed untouched."""
        with self._lock:
            self.plan = None

    def fault_for_next(self) -> FaultPlan | None:
        """Count a request; the plan when it is to be faulted."""
        with self._lock:
            self.requests += 1
            plan = self.plan
            if plan is None or self.requests < plan.start:
                return None
            if plan.count is not None and self.requests >= plan.start + plan.count:
                return None
            self.faulted += 1
            return plan


class _Relay(socketserver.StreamRequestHandler):
    server: BlobFaultProxy

    def handle(self) -> None:
        while True:
            request = _read_message(self.rfile)
            if request is None:
                return
            plan = self.server.fault_for_next()
            mode = plan.mode if plan else None
            if mode == "5xx":
                self.wfile.write(_BUSY)
                self.wfile.flush()
                continue
            if mode == "reset":
                _reset(self.connection)
                return
            head_only = request.startswith(b"HEAD ")
            try:
                answer = self._forward(request, head_only)
            except OSError:
                _reset(self.connection)
                return
            if mode == "lost":
                _reset(self.connection)
                return
            if mode == "stall":
                assert plan is not None
                time.sleep(plan.delay_s)
            self.wfile.write(answer)
            self.wfile.flush()

    def _forward(self, request: bytes, head_only: bool) -> bytes:
        upstream = self.server.upstream
        with socket.create_connection((upstream.host, upstream.port), timeout=60) as sock:
            sock.sendall(request)
            with sock.makefile("rb") as stream:
                answer = _read_message(stream, no_body=head_only)
        if answer is None:
            raise ConnectionError("Azurite closed the connection without answering")
        return answer


@contextmanager
def running_proxy(upstream: Azurite, plan: FaultPlan | None = None) -> Iterator[BlobFaultProxy]:
    """Serve the proxy on a free 127.0.0.1 port for the duration of the block."""
    with served(BlobFaultProxy(upstream, plan), "blob-fault-proxy") as proxy:
        yield proxy
