"""The dashboard's routes (Starlette): pages, the JSON API, the live event stream, and the
POST endpoints that send commands. Everything goes through :class:`~qtrain.ui.security.Guard`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from qtrain.control.folder import ControlFolder
from qtrain.ui import controls, runs
from qtrain.ui.event_stream import format_sse, read_lines, resume_offset
from qtrain.ui.security import Guard

STATIC = Path(__file__).with_name("static")
POLL_S = 0.1  # how often the stream looks for new lines and a changed status
KEEPALIVE_S = 15.0


def create_app(
    root: runs.RunsRoot, token: str, hosts: Iterable[str] = (), user: str = "unknown"
) -> Guard:
    """The guarded ASGI app serving the runs of ``root``; decisions are ``ui:<user>``'s."""

    def run_of(request: Request) -> Any:
        return root.run(request.path_params["run_id"])

    async def index(request: Request) -> Response:
        if root.single is not None:
            return RedirectResponse(f"/runs/{root.single}", status_code=303)
        return FileResponse(STATIC / "index.html")

    async def run_page(request: Request) -> Response:
        run_of(request)
        return FileResponse(STATIC / "run.html")

    async def api_runs(request: Request) -> Response:
        rows = await run_in_threadpool(lambda: [runs.summary(root.run(n)) for n in root.names()])
        return JSONResponse({"root": str(root.folder), "runs": rows})

    async def api_run(request: Request) -> Response:
        run_dir = run_of(request)
        return JSONResponse(await run_in_threadpool(runs.detail, run_dir))

    async def api_checkpoints(request: Request) -> Response:
        run_dir = run_of(request)
        verify = request.method == "POST"
        rows = await run_in_threadpool(runs.checkpoints, run_dir, verify)
        return JSONResponse({"checkpoints": rows})

    async def api_command(request: Request) -> Response:
        run_dir = run_of(request)
        body = await _json_body(request)
        command, args = body.get("command"), body.get("args") or {}
        if not isinstance(command, str) or not isinstance(args, dict):
            return JSONResponse({"error": "send {command, args}"}, status_code=400)
        try:
            ack = await run_in_threadpool(controls.send, run_dir, f"ui:{user}", command, args)
        except controls.Refused as exc:
            return JSONResponse({"error": str(exc)}, status_code=409)
        return JSONResponse({"ack": ack})

    async def api_events(request: Request) -> Response:
        run_dir = run_of(request)
        start = resume_offset(run_dir.events_file, request.headers.get("last-event-id"))
        stream = _stream(request, run_dir, start)
        headers = {"cache-control": "no-store", "x-accel-buffering": "no"}
        return StreamingResponse(stream, media_type="text/event-stream", headers=headers)

    routes = [
        Route("/", index),
        Route("/runs/{run_id}", run_page),
        Route("/api/runs", api_runs),
        Route("/api/runs/{run_id}", api_run),
        Route("/api/runs/{run_id}/events", api_events),
        Route("/api/runs/{run_id}/checkpoints", api_checkpoints, methods=["GET", "POST"]),
        Route("/api/runs/{run_id}/command", api_command, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={runs.UnknownRun: _unknown_run})
    return Guard(app, token, hosts)


async def _unknown_run(request: Request, exc: Exception) -> Response:
    return JSONResponse({"error": f"no run {exc.args[0]!r} here"}, status_code=404)


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


async def _stream(request: Request, run_dir: Any, offset: int) -> AsyncIterator[str]:
    """The run's events from ``offset`` on, then live; ``status`` messages (no id) whenever
    ``control/status.json`` changes; a comment now and then keeps proxies from closing it."""
    status_file = ControlFolder.of(run_dir.root).status
    status_seen: float | None = None
    idle = 0.0
    yield "retry: 1000\n\n"
    while not await request.is_disconnected():
        lines, offset = await run_in_threadpool(read_lines, run_dir.events_file, offset)
        for line in lines:
            yield format_sse(line)
        changed = _mtime(status_file)
        if changed != status_seen:
            status_seen = changed
            status = await run_in_threadpool(runs.detail_status, run_dir)
            yield f"event: status\ndata: {json.dumps(status)}\n\n"
        idle = 0.0 if lines else idle + POLL_S
        if idle >= KEEPALIVE_S:
            idle = 0.0
            yield ": keep-alive\n\n"
        await asyncio.sleep(POLL_S)


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime_ns / 1e9
    except OSError:
        return None
