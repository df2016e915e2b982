"""The dashboard's guard, in front of every request (an ASGI middleware).

- **Token**: a random token per start, printed once in the URL; ``?token=`` is exchanged for
  an HttpOnly, SameSite=Strict session cookie and a redirect that drops it from the address.
  Without the cookie: 401.
- **Host and Origin** (DNS rebinding, cross-site requests): ``Host`` must name an allowed
  host (loopback names, the ``--host`` value, each ``--allowed-host``); a request that may
  change something (not GET/HEAD) must carry an ``Origin`` of an allowed host. GET never
  changes anything: every route that does is POST.
- **Headers**: ``Content-Security-Policy: default-src 'self'`` (no inline script, no CDN),
  no sniffing, no referrer, no framing.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

COOKIE = "qtrain_ui"
LOOPBACK = ("127.0.0.1", "localhost", "::1")
CSP = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
SAFE_METHODS = ("GET", "HEAD")
Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


def host_name(value: str) -> str:
    """The host of a ``Host`` header value or an origin, without port or IPv6 brackets."""
    if "://" in value:
        value = urlsplit(value).netloc
    if value.startswith("["):
        return value[1 : value.find("]")].lower()
    return value.rsplit(":", 1)[0].lower() if value.count(":") == 1 else value.lower()


class Guard:
    """The middleware: check host, origin and session; add the security headers."""

    def __init__(self, app: App, token: str, hosts: Iterable[str]) -> None:
        self.app, self.token = app, token
        self.session = secrets.token_urlsafe(32)
        self.hosts = {host_name(h) for h in (*LOOPBACK, *hosts) if h}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        refused = self.refusal(scope["method"], headers)
        if refused is not None:
            await _plain(send, *refused)
            return
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if "token" in query:
            await self._exchange(scope, send, query)
            return
        if not _same(self._cookie(headers), self.session):
            await _plain(send, 401, "open the dashboard with the URL `qtrain ui` printed")
            return
        await self.app(scope, receive, _secured(send))

    def refusal(self, method: str, headers: dict[str, str]) -> tuple[int, str] | None:
        """Why a request is refused before any route sees it (None: it goes on)."""
        if host_name(headers.get("host", "")) not in self.hosts:
            return 403, "host not allowed (start qtrain ui with --allowed-host NAME)"
        if method not in SAFE_METHODS:
            origin = headers.get("origin")
            if origin is None or host_name(origin) not in self.hosts:
                return 403, "cross-origin request refused"
        return None

    async def _exchange(self, scope: Scope, send: Send, query: dict[str, list[str]]) -> None:
        if not _same(query["token"][0], self.token):
            await _plain(send, 401, "wrong token: use the URL `qtrain ui` printed")
            return
        rest = {k: v for k, v in query.items() if k != "token"}
        location = scope["path"] + (f"?{urlencode(rest, doseq=True)}" if rest else "")
        cookie = f"{COOKIE}={self.session}; HttpOnly; SameSite=Strict; Path=/"
        await send({"type": "http.response.start", "status": 303, "headers": [
            (b"location", location.encode()), (b"set-cookie", cookie.encode()),
            *_security_headers(),
        ]})  # fmt: skip
        await send({"type": "http.response.body", "body": b""})

    @staticmethod
    def _cookie(headers: dict[str, str]) -> str:
        for part in headers.get("cookie", "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == COOKIE:
                return value
        return ""


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def _security_headers() -> list[tuple[bytes, bytes]]:
    return [
        (b"content-security-policy", CSP.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
        (b"x-frame-options", b"DENY"),
        (b"cache-control", b"no-store"),
    ]


def _secured(send: Send) -> Send:
    async def wrapped(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), *_security_headers()]}
        await send(message)

    return wrapped


async def _plain(send: Send, status: int, text: str) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"text/plain; charset=utf-8"), *_security_headers(),
    ]})  # fmt: skip
    await send({"type": "http.response.body", "body": (text + "\n").encode()})
