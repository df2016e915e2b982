"""A local fake of the Azure Quantum data plane, for the real ``azure-quantum`` SDK.

The SDK is pointed at it with ``Workspace(..., _quantum_endpoint=fake.endpoint,
storage=<Azurite connection string>, credential=AzureKeyCredential(key))``. It serves the
REST calls the SDK (3.12, api-version 2026-01-15-preview) makes for a Qiskit job:

- ``GET  .../providerStatus``   targets, availability, average queue time, qubits
- ``GET  .../quotas``           workspace quotas (``quotas=None`` answers 404)
- ``PUT  .../jobs/{id}``        submit; the input blob (QIR text) is already in Azurite
- ``GET  .../jobs/{id}``        Waiting -> Executing -> Succeeded (or Failed / Cancelled)
- ``GET  .../jobs``             list, with the SDK's ``startswith(Name, '...')`` filter
- ``POST .../jobs/{id}:cancel`` and ``POST .../storage/sasUri``

When a job succeeds, the fake reads its QIR (base profile, as qsharp emits it from a Qiskit
circuit), simulates it with qiskit's ``Statevector``, draws the shots with a generator seeded
by the input (so the same circuit gives the same counts) and writes the output blob in the
``microsoft.quantum-results.v2`` format (histogram of Outcome/Display/Count, and Shots).

Knobs (attributes, changeable while running): ``job_outcome`` (``succeed``, ``fail``,
``cancel``), ``executing_polls`` (GETs a job stays Executing), ``hold`` (an Event; while it is
clear, jobs stay Executing), ``fail_next`` (HTTP status codes returned, in order, to the next
requests), ``targets`` (availability, queue time, qubits per target), ``quotas``. ``requests``
logs ``(method, path)`` of every call; ``puts`` counts PUTs per job id.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import numpy as np

API_KEY_HEADER = "x-ms-quantum-api-key"
_WORKSPACE = re.compile(
    r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.Quantum/"
    r"workspaces/[^/]+/(?P<rest>.*)$"
)
_CALL = re.compile(
    r"call \w+ @__quantum__(?P<kind>qis|rt)__(?P<name>\w+?)(?:__body)?\((?P<args>.*)\)"
)
_INDEX = re.compile(r"inttoptr \(i64 (\d+) to %(Qubit|Result)\*\)|%(Qubit|Result)\* null")
_DOUBLE = re.compile(r"double ([-+0-9.eE]+)")
_I64 = re.compile(r"^i64 (\d+)")


@dataclass
class FakeTarget:
    """One target of the fake workspace."""

    provider: str
    qubits: int
    availability: str = "Available"
    queue_s: int = 0

    def status(self, name: str) -> dict[str, Any]:
        """The target's ``TargetStatus`` JSON."""
        return {
            "id": name,
            "currentAvailability": self.availability,
            "averageQueueTime": self.queue_s,
            "statusPage": None,
            "numQubits": self.qubits,
            "targetProfile": "Base",
        }


def default_targets() -> dict[str, FakeTarget]:
    """ionq.simulator (29 qubits), a Quantinuum emulator and Rigetti's QVM (20 qubits)."""
    return {
        "ionq.simulator": FakeTarget("ionq", 29),
        "quantinuum.sim.h2-1e": FakeTarget("quantinuum", 32),
        "rigetti.sim.qvm": FakeTarget("rigetti", 20),
    }


@dataclass
class _Job:
    details: dict[str, Any]
    polls: int = 0


@dataclass
class FakeAzureQuantum:
    """The fake service (see the module docstring); ``start()`` / ``stop()`` or ``running()``."""

    storage: str
    api_key: str | None = None
    targets: dict[str, FakeTarget] = field(default_factory=default_targets)
    quotas: list[dict[str, Any]] | None = field(default_factory=list)
    job_outcome: str = "succeed"
    executing_polls: int = 1
    fail_next: list[int] = field(default_factory=list)
    stop_after_jobs: int | None = None
    hold: threading.Event = field(default_factory=threading.Event)
    requests: list[tuple[str, str]] = field(default_factory=list)
    puts: Counter = field(default_factory=Counter)
    jobs: dict[str, _Job] = field(default_factory=dict)
    port: int = 0

    def __post_init__(self) -> None:
        self.hold.set()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        """``http://127.0.0.1:PORT/``: the SDK's ``_quantum_endpoint``."""
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> FakeAzureQuantum:
        """Listen on 127.0.0.1 (the same port again after a stop, if it was set)."""
        fake = self

        class Handler(_Handler):
            service = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    @property
    def stopping(self) -> bool:
        """True once ``stop_after_jobs`` jobs succeeded (the next status call stops it)."""
        done = sum(job.details["status"] == "Succeeded" for job in self.jobs.values())
        return self.stop_after_jobs is not None and done >= self.stop_after_jobs

    def stop(self) -> None:
        """Stop listening (jobs are kept: ``start()`` again resumes on the same port)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # -- the service ---------------------------------------------------------------------
    def handle(self, method: str, rest: str, query: dict[str, list[str]], body: Any) -> tuple:
        """``(status, json)`` for one workspace request (``rest`` is the path after it)."""
        with self._lock:
            self.requests.append((method, rest))
            if self.fail_next:
                code = self.fail_next.pop(0)
                return code, {"error": {"code": "Throttled", "message": f"fake {code}"}}
        if rest == "providerStatus" and method == "GET":
            return 200, {"value": self._providers(), "nextLink": None}
        if rest == "quotas" and method == "GET":
            if self.quotas is None:
                return 404, {"error": {"code": "NotFound", "message": "no quotas"}}
            return 200, {"value": self.quotas, "nextLink": None}
        if rest == "storage/sasUri" and method == "POST":
            return 200, {"sasUri": self._sas_url(body["containerName"], body.get("blobName"))}
        if rest == "jobs" and method == "GET":
            return 200, {"value": self._list(query), "nextLink": None}
        match = re.fullmatch(r"jobs/([^/:]+)(:cancel)?", rest)
        if match is None:
            return 404, {"error": {"code": "NotFound", "message": f"no route {method} {rest}"}}
        job_id, cancel = match.group(1), match.group(2)
        if method == "PUT":
            return self._create(job_id, body)
        job = self.jobs.get(job_id)
        if job is None:
            return 404, {"error": {"code": "JobNotFound", "message": f"job {job_id} not found"}}
        if cancel:
            job.details["status"] = "Cancelled"
            return 204, None
        return 200, self._advance(job)

    def _providers(self) -> list[dict[str, Any]]:
        providers: dict[str, list] = {}
        for name, target in self.targets.items():
            providers.setdefault(target.provider, []).append(target.status(name))
        return [
            {"id": pid, "currentAvailability": "Available", "targets": targets}
            for pid, targets in providers.items()
        ]

    def _list(self, query: dict[str, list[str]]) -> list[dict[str, Any]]:
        wanted = re.search(r"startswith\(Name, '([^']*)'\)", (query.get("$filter") or [""])[0])
        return [
            job.details
            for job in self.jobs.values()
            if wanted is None or str(job.details.get("name", "")).startswith(wanted.group(1))
        ]

    def _create(self, job_id: str, body: dict[str, Any]) -> tuple[int, Any]:
        with self._lock:
            self.puts[job_id] += 1
            if job_id in self.jobs:
                return 409, {"error": {"code": "Conflict", "message": f"job {job_id} exists"}}
            now = _now()
            details = {
                **body,
                "id": job_id,
                "itemType": "Job",
                "status": "Waiting",
                "creationTime": now,
                "lastUpdatedTime": now,
            }
            self.jobs[job_id] = _Job(details)
        return 200, details

    def _advance(self, job: _Job) -> dict[str, Any]:
        details = job.details
        if details["status"] in ("Succeeded", "Failed", "Cancelled"):
            return details
        job.polls += 1
        if not self.hold.is_set() or job.polls <= self.executing_polls:
            details.setdefault("beginExecutionTime", _now())
            details["status"] = "Executing"
            return details
        details["endExecutionTime"] = _now()
        if self.job_outcome == "fail":
            details["status"] = "Failed"
            details["errorData"] = {"code": "InvalidInputData", "message": "fake job failure"}
        elif self.job_outcome == "cancel":
            details["status"] = "Cancelled"
        else:
            self._run(details)
            details["status"] = "Succeeded"
        return details

    # -- running a job -------------------------------------------------------------------
    def _container(self, name: str) -> Any:
        from azure.storage.blob import BlobServiceClient

        return BlobServiceClient.from_connection_string(self.storage).get_container_client(name)

    def _sas_url(self, container: str, blob: str | None) -> str:
        from azure.storage.blob import BlobSasPermissions, generate_blob_sas

        client = self._container(container)
        if blob is None:
            return client.url
        token = generate_blob_sas(
            client.account_name,
            container,
            blob,
            account_key=client.credential.account_key,
            permission=BlobSasPermissions(read=True, write=True, create=True),
            expiry=datetime.now(UTC) + timedelta(days=1),
        )
        return f"{client.get_blob_client(blob).url}?{token}"

    def _run(self, details: dict[str, Any]) -> None:
        """Simulate the job's QIR and write its output blob next to the input."""
        path = unquote(urlparse(details["inputDataUri"]).path).split("/")
        container, blob = path[-2], path[-1]
        qir = self._container(container).download_blob(blob).readall().decode("utf-8")
        params = details.get("inputParams") or {}
        shots = int(params.get("shots") or params.get("count") or 500)
        outcomes = simulate_qir(qir, shots)
        histogram = Counter(json.dumps(outcome) for outcome in outcomes)
        payload = {
            "DataFormat": "microsoft.quantum-results.v2",
            "Results": [
                {
                    "Histogram": [
                        {"Outcome": json.loads(key), "Display": key, "Count": count}
                        for key, count in sorted(histogram.items())
                    ],
                    "Shots": outcomes,
                }
            ],
        }
        self._container(container).upload_blob("rawOutputData", json.dumps(payload), overwrite=True)
        details["outputDataUri"] = self._sas_url(container, "rawOutputData")


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def simulate_qir(qir: str, shots: int) -> list[list[int]]:
    """Run base-profile QIR text: gates on a statevector, then ``shots`` measured outcomes.

    Supports the gates qsharp emits for Qiskit circuits (h, x, y, z, s, t and adjoints, rx,
    ry, rz, rxx, ryy, rzz, cx, cy, cz, swap), final measurements (``m``/``mz``) and one level
    of ``array_record_output``. The shots are drawn with a generator seeded by the QIR.
    """
    from qiskit import QuantumCircuit
    from qiskit.quantum_info import Statevector

    body = qir.split("define ", 1)[1].split("\n}\n", 1)[0]
    calls = [m.groupdict() for m in map(_CALL.search, body.splitlines()) if m]
    n = 1 + max(
        (int(i) for c in calls for i, kind, _ in _INDEX.findall(c["args"]) if kind == "Qubit"),
        default=0,
    )
    circuit = QuantumCircuit(n)
    measured: dict[int, int] = {}
    record: list[Any] = []
    for call in calls:
        name, args = call["name"], call["args"]
        qubits = [
            int(i or 0) for i, kind, null in _INDEX.findall(args) if (kind or null) == "Qubit"
        ]
        results = [
            int(i or 0) for i, kind, null in _INDEX.findall(args) if (kind or null) == "Result"
        ]
        angles = [float(x) for x in _DOUBLE.findall(args)]
        if call["kind"] == "rt":
            if name == "array_record_output":
                record.append([])
            elif name == "result_record_output":
                (record[-1] if record and isinstance(record[-1], list) else record).append(
                    results[0]
                )
            continue
        if name in ("m", "mz", "mresetz"):
            measured[results[0]] = qubits[0]
            continue
        gate = {"s__adj": "sdg", "t__adj": "tdg", "cnot": "cx"}.get(name, name)
        getattr(circuit, gate)(*angles, *qubits)
    probs = Statevector(circuit).probabilities()
    seed = int.from_bytes(hashlib.sha256(f"{qir}|{shots}".encode()).digest()[:8], "little")
    drawn = np.random.default_rng(seed).choice(probs.size, size=shots, p=probs / probs.sum())

    def bit(index: int, result: int) -> int:
        # qiskit's Statevector index: bit k of the index is qubit k.
        return int(index >> measured[result] & 1)

    def outcome(index: int, layout: Any) -> Any:
        if isinstance(layout, list):
            return [outcome(index, item) for item in layout]
        return bit(index, layout)

    layout = record[0] if len(record) == 1 else record
    return [outcome(int(index), layout) for index in drawn]


class _Handler(BaseHTTPRequestHandler):
    service: FakeAzureQuantum

    def log_message(self, *args: Any) -> None:  # keep test output quiet
        return

    def _reply(self, status: int, payload: Any) -> None:
        data = b"" if payload is None else json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if status in (429, 503):
            self.send_header("Retry-After", "0")
        self.end_headers()
        self.wfile.write(data)

    def _dispatch(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        service = self.service
        if service.api_key is not None and self.headers.get(API_KEY_HEADER) != service.api_key:
            self._reply(401, {"error": {"code": "Unauthorized", "message": "bad api key"}})
            return
        url = urlparse(self.path)
        if url.path.endswith("/providerStatus") and service.stopping:
            # Drop this connection and stop listening: later calls are refused.
            self.close_connection = True
            threading.Thread(target=service.stop, daemon=True).start()
            return
        match = _WORKSPACE.match(url.path)
        if match is None:
            self._reply(404, {"error": {"code": "NotFound", "message": url.path}})
            return
        try:
            status, payload = service.handle(method, match["rest"], parse_qs(url.query), body)
        except Exception as exc:  # a bug in the fake: answer 500 with the reason
            status, payload = 500, {"error": {"code": "FakeError", "message": repr(exc)}}
        self._reply(status, payload)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_POST(self) -> None:
        self._dispatch("POST")


@contextmanager
def running_fake(storage: str, **options: Any) -> Iterator[FakeAzureQuantum]:
    """A started :class:`FakeAzureQuantum`, stopped on exit."""
    fake = FakeAzureQuantum(storage, **options).start()
    try:
        yield fake
    finally:
        fake.stop()
