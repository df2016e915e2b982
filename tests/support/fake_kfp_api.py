"""A fake Kubeflow Pipelines v2beta1 REST API on 127.0.0.1 for the real ``kfp.Client``.

It answers the calls that ``kfp.Client`` (kfp 2.17) makes to submit and schedule: healthz,
experiments, pipelines (list, upload, upload_version, versions), runs and recurring runs,
with the JSON field names of ``kfp_server_api`` and google.rpc.Status error bodies. Every
request is recorded so tests can assert what was sent. Knobs: ``token`` (answer 401 without
``Authorization: Bearer <token>``), ``fail`` (path prefix -> HTTP status), ``polls_to_finish``
and ``final_state`` (a run reads RUNNING that many times, then the final state), ``login_page``
(answer everything 200 with HTML, as an auth proxy's login redirect ends).
"""

from __future__ import annotations

import dataclasses
import email.parser
import email.policy
import itertools
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

from support.serving import served

API = "/apis/v2beta1"
_CRON_6 = re.compile(r"(\S+ ){5}\S+|@\w+|@every \S+")


@dataclasses.dataclass
class Request:
    """One request as the fake saw it; ``upload`` is the parsed YAML of an uploaded file."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any = None
    upload: Any = None
    upload_filename: str | None = None


class FakeKfpApi:
    """In-memory KFP API state plus the recorded requests; serve it with :func:`serving`."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.experiments: dict[str, dict[str, Any]] = {}
        self.pipelines: dict[str, dict[str, Any]] = {}
        self.versions: dict[str, list[dict[str, Any]]] = {}
        self.runs: dict[str, dict[str, Any]] = {}
        self.recurring_runs: dict[str, dict[str, Any]] = {}
        self.token: str | None = None
        self.fail: dict[str, int] = {}
        self.multi_user = False
        self.tag_name = "2.17.0"  # what a real server's TAG_NAME says (its release)
        self.login_page = False
        self.polls_to_finish = 2
        self.final_state = "SUCCEEDED"
        self.url = ""
        self._ids = itertools.count(1)
        self._polls: dict[str, int] = {}
        self._lock = threading.Lock()

    def calls(self, method: str, path: str) -> list[Request]:
        """The recorded requests with this method and path (below /apis/v2beta1)."""
        return [r for r in self.requests if r.method == method and r.path == API + path]

    def _new_id(self, kind: str) -> str:
        return f"{kind}-{next(self._ids):04d}"

    # --- routing -------------------------------------------------------------------------
    def handle(self, request: Request) -> tuple[int, Any]:
        with self._lock:
            self.requests.append(request)
            for prefix, status in self.fail.items():
                if request.path.startswith(API + prefix):
                    return status, _status(status, f"injected failure on {prefix}")
            if self.token and request.headers.get("authorization") != f"Bearer {self.token}":
                return 401, _status(401, "Unauthorized: no valid token")
            route = request.path.removeprefix(API)
            for pattern, method, handler in self._routes():
                match = re.fullmatch(pattern, route)
                if match and request.method == method:
                    return handler(request, *match.groups())
            return 404, _status(404, f"no route {request.method} {request.path}")

    def _routes(self) -> list[tuple[str, str, Any]]:
        return [
            ("/healthz", "GET", self._healthz),
            ("/experiments", "GET", self._list_experiments),
            ("/experiments", "POST", self._create_experiment),
            ("/pipelines", "GET", self._list_pipelines),
            ("/pipelines/upload", "POST", self._upload_pipeline),
            ("/pipelines/upload_version", "POST", self._upload_version),
            ("/pipelines/([^/]+)/versions", "GET", self._list_versions),
            ("/runs", "GET", self._list_runs),
            ("/runs", "POST", self._create_run),
            ("/runs/([^/:]+)", "GET", self._get_run),
            ("/recurringruns", "POST", self._create_recurring_run),
            ("/recurringruns", "GET", self._list_recurring_runs),
            ("/recurringruns/([^/:]+)", "DELETE", self._delete_recurring_run),
        ]

    def _healthz(self, request: Request) -> tuple[int, Any]:
        return 200, {"commit_sha": "0" * 40, "tag_name": self.tag_name,
                     "multi_user": self.multi_user, "pipeline_store": "database"}  # fmt: skip

    def _list_experiments(self, request: Request) -> tuple[int, Any]:
        found = _filtered(self.experiments.values(), request.query)
        return 200, {"experiments": found, "total_size": len(found)}

    def _create_experiment(self, request: Request) -> tuple[int, Any]:
        name = request.body.get("display_name")
        if not name:
            return 400, _status(400, "Experiment name is empty")
        experiment = {**request.body, "experiment_id": self._new_id("exp")}
        self.experiments[experiment["experiment_id"]] = experiment
        return 200, experiment

    def _list_pipelines(self, request: Request) -> tuple[int, Any]:
        found = _filtered(self.pipelines.values(), request.query)
        return 200, {"pipelines": found, "total_size": len(found)}

    def _upload_pipeline(self, request: Request) -> tuple[int, Any]:
        name = request.query.get("display_name") or request.query.get("name")
        if request.upload is None or not name:
            return 400, _status(400, "missing uploadfile or name")
        if any(p["display_name"] == name for p in self.pipelines.values()):
            return 409, _status(409, f"pipeline {name} already exists")
        pipeline = {
            "pipeline_id": self._new_id("pipeline"),
            "display_name": name,
            "description": request.query.get("description", ""),
            "namespace": request.query.get("namespace", ""),
        }
        self.pipelines[pipeline["pipeline_id"]] = pipeline
        self.versions[pipeline["pipeline_id"]] = []
        self._add_version(pipeline["pipeline_id"], name, request)  # as the server does
        return 200, pipeline

    def _upload_version(self, request: Request) -> tuple[int, Any]:
        pipeline_id = request.query.get("pipelineid", "")
        name = request.query.get("display_name") or request.query.get("name")
        if pipeline_id not in self.pipelines or request.upload is None or not name:
            return 400, _status(400, "unknown pipelineid, or missing uploadfile or name")
        if any(v["display_name"] == name for v in self.versions[pipeline_id]):
            return 409, _status(409, f"pipeline version {name} already exists")
        return 200, self._add_version(pipeline_id, name, request)

    def _add_version(self, pipeline_id: str, name: str, request: Request) -> dict[str, Any]:
        version = {
            "pipeline_id": pipeline_id,
            "pipeline_version_id": self._new_id("version"),
            "display_name": name,
            "description": request.query.get("description", ""),
            "pipeline_spec": request.upload,
            "created_at": f"2026-01-01T00:00:{len(self.requests):02d}Z",
        }
        self.versions[pipeline_id].append(version)
        return version

    def _list_versions(self, request: Request, pipeline_id: str) -> tuple[int, Any]:
        if pipeline_id not in self.versions:
            return 404, _status(404, f"pipeline {pipeline_id} not found")
        found = _filtered(self.versions[pipeline_id], request.query)
        if request.query.get("sort_by") == "created_at desc":
            found.reverse()
        found = found[: int(request.query.get("page_size", "10"))]
        return 200, {"pipeline_versions": found, "total_size": len(found)}

    def _list_runs(self, request: Request) -> tuple[int, Any]:
        runs = self.runs.values()
        if "experiment_id" in request.query:
            runs = [r for r in runs if r.get("experiment_id") == request.query["experiment_id"]]
        found = _filtered(runs, request.query)
        return 200, {"runs": found, "total_size": len(found)}

    def spec_of(self, body: dict[str, Any]) -> dict[str, Any]:
        """The pipeline spec a run or recurring run was created with: inline, or the one of
        the pipeline version it references (``{"pipeline_spec", "platform_spec"}``)."""
        if "pipeline_spec" in body:
            return body["pipeline_spec"]
        reference = body["pipeline_version_reference"]
        [version] = [v for v in self.versions[reference["pipeline_id"]]
                     if v["pipeline_version_id"] == reference["pipeline_version_id"]]  # fmt: skip
        spec, *platform = version["pipeline_spec"]
        return {"pipeline_spec": spec, "platform_spec": platform[0] if platform else {}}

    def _create_run(self, request: Request) -> tuple[int, Any]:
        body = request.body
        if body.get("experiment_id") not in self.experiments:
            return 404, _status(404, "experiment not found")
        reference = body.get("pipeline_version_reference")
        if reference and not any(
            v["pipeline_version_id"] == reference.get("pipeline_version_id")
            for v in self.versions.get(reference.get("pipeline_id"), [])
        ):
            return 404, _status(404, "pipeline version not found")
        run = {**body, "run_id": self._new_id("run"), "state": "PENDING"}
        self.runs[run["run_id"]] = run
        return 200, run

    def _get_run(self, request: Request, run_id: str) -> tuple[int, Any]:
        if run_id not in self.runs:
            return 404, _status(404, f"run {run_id} not found")
        polls = self._polls[run_id] = self._polls.get(run_id, 0) + 1
        run = self.runs[run_id]
        if polls > self.polls_to_finish:
            run["state"] = self.final_state
            if self.final_state != "SUCCEEDED":
                run["error"] = {"code": 2, "message": "train-cycle-1 exited with code 1"}
        else:
            run["state"] = "RUNNING"
        return 200, run

    def _create_recurring_run(self, request: Request) -> tuple[int, Any]:
        body = request.body
        cron = (body.get("trigger") or {}).get("cron_schedule", {}).get("cron", "")
        if not _CRON_6.fullmatch(cron):
            return 400, _status(400, f"invalid cron {cron!r}: expected 6 fields")
        if body.get("experiment_id") not in self.experiments:
            return 404, _status(404, "experiment not found")
        recurring = {**body, "recurring_run_id": self._new_id("recurring"), "status": "ENABLED"}
        self.recurring_runs[recurring["recurring_run_id"]] = recurring
        return 200, recurring

    def _list_recurring_runs(self, request: Request) -> tuple[int, Any]:
        found = [r for r in self.recurring_runs.values()
                 if r.get("experiment_id") == request.query.get("experiment_id")]  # fmt: skip
        found = _filtered(found, request.query)
        return 200, {"recurringRuns": found, "total_size": len(found)}

    def _delete_recurring_run(self, request: Request, rid: str) -> tuple[int, Any]:
        if self.recurring_runs.pop(rid, None) is None:
            return 404, _status(404, f"recurring run {rid} not found")
        return 200, {}


def _status(code: int, message: str) -> dict[str, Any]:
    grpc = {400: 3, 401: 16, 403: 7, 404: 5, 409: 6}.get(code, 13)
    return {"error": message, "code": grpc, "message": message, "details": []}


def _filtered(items: Any, query: dict[str, str]) -> list[dict[str, Any]]:
    items = list(items)
    if "filter" not in query:
        return items
    for predicate in json.loads(query["filter"]).get("predicates", []):
        key, value = predicate["key"], predicate.get("stringValue", predicate.get("string_value"))
        items = [item for item in items if item.get(key) == value]
    return items


class _Handler(BaseHTTPRequestHandler):
    api: FakeKfpApi

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        return

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        request = Request(
            method=self.command,
            path=parts.path,
            query={k: v[-1] for k, v in parse_qs(parts.query).items()},
            headers={k.lower(): v for k, v in self.headers.items()},
        )
        content_type = self.headers.get("Content-Type", "")
        if content_type.startswith("multipart/form-data"):
            request.upload_filename, request.upload = _parse_upload(content_type, raw)
        elif raw:
            request.body = json.loads(raw)
        status, payload = self.api.handle(request)
        data, kind = json.dumps(payload).encode(), "application/json"
        if self.api.login_page:
            status, data, kind = 200, b"<html><body>Log in</body></html>", "text/html"
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _parse_upload(content_type: str, raw: bytes) -> tuple[str | None, Any]:
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + raw
    )
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") == "uploadfile":
            return part.get_filename(), list(yaml.safe_load_all(part.get_payload(decode=True)))
    return None, None


@contextmanager
def serving(api: FakeKfpApi | None = None) -> Iterator[FakeKfpApi]:
    """Serve ``api`` (a new one by default) on a free 127.0.0.1 port; ``api.url`` is set."""
    api = api or FakeKfpApi()
    handler = type("Handler", (_Handler,), {"api": api})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    api.url = f"http://127.0.0.1:{server.server_address[1]}"
    with served(server, "fake-kfp-api", poll_s=0.05):
        yield api
