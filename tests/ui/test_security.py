"""The dashboard is secure by default: token -> cookie, Host and Origin checked, changes only
by POST, a strict Content-Security-Policy."""

from __future__ import annotations

import httpx

from qtrain.ui.security import host_name


def test_without_the_session_cookie_everything_is_401(served) -> None:
    _, client = served
    base = str(client.base_url)
    for path in ("/", "/api/runs", "/runs/r1", "/static/run.js", "/api/runs/r1/events"):
        assert httpx.get(base + path).status_code == 401, path
    assert httpx.get(base + "/?token=wrong").status_code == 401


def test_the_token_is_exchanged_for_a_strict_httponly_cookie(served) -> None:
    dashboard, _ = served
    answer = httpx.get(dashboard.url)
    assert answer.status_code == 303 and answer.headers["location"] == "/"
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert "token" not in answer.headers["location"]


def test_headers_say_default_src_self(served) -> None:
    _, client = served
    answer = client.get("/runs/r1")
    assert answer.status_code == 200
    assert answer.headers["content-security-policy"].startswith("default-src 'self'")
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert '<script src="/static/run.js"' in answer.text and "<script>" not in answer.text


def test_a_foreign_host_is_refused_dns_rebinding(served) -> None:
    _, client = served
    assert client.get("/api/runs", headers={"host": "evil.example"}).status_code == 403
    assert client.get("/api/runs", headers={"host": "localhost:1"}).status_code == 200


def test_posts_need_an_allowed_origin(served) -> None:
    _, client = served
    url = "/api/runs/r1/command"
    body = {"command": "stop", "args": {}}
    assert client.post(url, json=body).status_code == 403  # no Origin
    evil = client.post(url, json=body, headers={"origin": "http://evil.example"})
    assert evil.status_code == 403
    own = client.post(url, json=body, headers={"origin": str(client.base_url)})
    assert own.status_code == 409 and "not running" in own.json()["error"]


def test_get_never_changes_anything(served) -> None:
    _, client = served
    assert client.get("/api/runs/r1/command").status_code == 405


def test_unknown_runs_and_paths_are_404(served) -> None:
    _, client = served
    for path in ("/api/runs/nope", "/api/runs/..%2f..%2fetc", "/runs/nope"):
        assert client.get(path).status_code == 404, path


def test_host_names() -> None:
    assert host_name("127.0.0.1:8765") == "127.0.0.1"
    assert host_name("[::1]:80") == "::1"
    assert host_name("http://LocalHost:9") == "localhost"
