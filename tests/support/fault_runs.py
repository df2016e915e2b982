"""Fault-injected ``qtrain run`` processes: inject one fault, resume as a user would, check.

Shared by ``tests/faults`` (a few runs, in CI) and ``benchmarks/faults.py`` (hundreds).
Faults come from outside the process (SIGKILL, SIGTERM, SIGINT; a full disk: a small tmpfs
filled to its last byte; EIO on writes: an ``LD_PRELOAD`` shim armed by a trigger file;
failing blob storage: the run's checkpoints in Azurite behind a fault-injecting proxy) or
from failpoints (:mod:`qtrain.failpoints`: NaN weights, a trial that raises, a solver
outage). Every run gets planted fake secrets, in its environment and on its command line,
and every file and blob it wrote and every line it printed is scanned for them.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from support.azurite import ACCOUNT_KEY, running_azurite
from support.blob_fault_proxy import FaultPlan, running_proxy
from support.eio import eio_env
from support.run_process import ENV
from support.tmpfs import fill, mounted_tmpfs

REPO = Path(__file__).resolve().parents[2]
TINY = str(REPO / "configs/tiny.yaml")
BLOB_KINDS = ("blob-5xx", "blob-reset", "blob-stall", "blob-lost")
KINDS = ("sigkill", "sigterm", "sigint", "enospc", "eio", "nan", "exception", "solver-outage",
         *BLOB_KINDS)  # fmt: skip
#: What a process stopped by each fault exits with (SIGKILL: killed by the signal).
FAULT_EXIT = {"sigkill": -signal.SIGKILL, "sigterm": 143, "sigint": 130, "enospc": 75, "eio": 75,
              "eio-lock": 75}  # fmt: skip
#: EIO kinds: a write at a random step, or the run lock's heartbeat (a side thread's write).
EIO_KINDS = ("eio", "eio-lock")
SIGNALS = {"sigkill": signal.SIGKILL, "sigterm": signal.SIGTERM, "sigint": signal.SIGINT}
#: Faults after which the run must end exactly as the fault-free reference does ("none":
#: no fault, e.g. the fault-free run on blob storage).
SAME_RESULT = (
    "none",
    "sigkill",
    "sigterm",
    "sigint",
    "enospc",
    *EIO_KINDS,
    "solver-outage",
    *BLOB_KINDS,
)


def settings(cycles: int, steps: int = 4) -> list[str]:
    """A fast tiny configuration that runs every one of its ``cycles``."""
    return [
        f"training.steps_per_cycle={steps}", "training.logging_steps=1",
        f"early_stopping.max_cycles={cycles}", f"early_stopping.patience={cycles}",
        "data.eval_size=16", "evaluation.max_new_tokens=4", "runtime.threads=1",
    ]  # fmt: skip


def planted_secrets(seed: int) -> dict[str, str]:
    """Fake credentials, distinct per run, shaped like the real ones."""
    rng = random.Random(f"secrets-{seed}")
    key = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef0123456789") for _ in range(64))
    return {
        "AZURE_QUANTUM_API_KEY": f"qtrainFakeApiKey{key[:24]}",
        "AZURE_CLIENT_SECRET": f"qtrainFakeClientSecret{key[24:44]}",
        "AZURE_STORAGE_CONNECTION_STRING": (
            "DefaultEndpointsProtocol=https;AccountName=qtrainfake;"
            f"AccountKey=qtrainFakeAccountKey{key[44:]}==;EndpointSuffix=core.windows.net"
        ),
    }


@dataclass
class FaultRun:
    """One fault-injected run and what was found."""

    kind: str
    seed: int
    where: tuple[int, int, int] | None = None  #: (cycle, trial, step) of the fault
    fault_exit: int | None = None
    final_exit: int | None = None
    resumed: bool = False
    cycles: int = 0
    status: str | None = None
    #: (cycle, trial, checkpoint, status, metrics) of every trial in the report
    trials: list[tuple[int, int, str | None, str, dict[str, float]]] = field(default_factory=list)
    weights: str | None = None  #: sha256 of the exported adapter
    verify_exit: int | None = None
    secrets_found: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0
    fault_output: str = ""  #: what the faulted process printed (stdout, then stderr)
    #: blob kinds: the proxy's plan (mode, start, count, delay_s) and what it saw
    #: (requests, faulted); eio: whether the shim failed a write (fired)
    injected: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """JSON-ready."""
        skipped = ("trials", "fault_output")
        return {k: v for k, v in self.__dict__.items() if k not in skipped} | {
            "trials": [list(t) for t in self.trials]
        }


def pick_fault(
    kind: str, seed: int, cycles: int, trials: int, steps: int, blob_requests: int = 100
) -> FaultRun:
    """The fault of ``kind`` at a point drawn from ``seed`` (blob kinds: from a request among
    the ``blob_requests`` a fault-free run makes)."""
    rng = random.Random(f"{kind}-{seed}")
    if kind in BLOB_KINDS:
        mode = kind.removeprefix("blob-")
        if mode == "stall":  # slow answers, never an outage
            plan = {"count": rng.randint(1, 8), "delay_s": round(rng.uniform(0.5, 2.0), 2)}
        else:  # a blip the SDK's retries absorb, or an outage that stops the run
            plan = {"count": None if rng.random() < 0.5 else rng.randint(1, 3)}
        return FaultRun(kind, seed, injected={"mode": mode, "start": rng.randint(1, blob_requests),
                                              **plan})  # fmt: skip
    where = None
    if kind != "solver-outage":
        where = (rng.randint(1, cycles), rng.randrange(trials), rng.randint(1, steps))
    return FaultRun(kind, seed, where)


def command(output: Path, run_id: str, config: list[str], secrets: dict[str, str]) -> list[str]:
    """``qtrain run`` of the tiny config, a planted secret on its command line too."""
    storage = secrets["AZURE_STORAGE_CONNECTION_STRING"]
    return [sys.executable, "-m", "qtrain.cli.app", "run", "--quiet", TINY, *config,
            f"runtime.output_dir={output}", f"runtime.run_id={run_id}",
            f"quantum.azure.storage={storage}"]  # fmt: skip


def blob_settings(container: str) -> list[str]:
    """The run's checkpoints in blob storage (the connection string comes from the env)."""
    return ["storage.kind=azure_blob", f"storage.container={container}",
            "storage.prefix=faults", "storage.connect_timeout_s=2"]  # fmt: skip


def execute(
    run: FaultRun, output: Path, config: list[str], timeout_s: float = 900, *,
    blob: bool = False,
) -> FaultRun:  # fmt: skip
    """Run ``run``'s fault to the end: inject it, resume when it stopped the run, collect.
    Blob kinds (and ``blob``: a fault-free run) keep the checkpoints in Azurite, behind the
    fault-injecting proxy."""
    started = time.monotonic()
    secrets = planted_secrets(run.seed)
    env = {**ENV, **secrets}
    if run.kind in ("nan", "exception"):
        point = "nan" if run.kind == "nan" else "raise"
        assert run.where is not None
        env["QTRAIN_FAILPOINTS"] = f"{point}@{'.'.join(map(str, run.where))}"
    elif run.kind == "solver-outage":
        env["QTRAIN_FAILPOINTS"] = "solver-outage"
    run_id = f"{run.kind}-{run.seed}"
    output.mkdir(parents=True, exist_ok=True)
    logs: list[str] = []
    if run.kind == "enospc":
        with mounted_tmpfs(output / "disk", size_mb=256) as disk:
            _inject_and_resume(run, disk, run_id, config, env, logs, timeout_s)
            _collect(run, disk / run_id, secrets, logs)
    elif run.kind in BLOB_KINDS or blob:
        _run_on_blob_storage(run, output, run_id, config, env, secrets, logs, timeout_s)
    else:
        if run.kind in EIO_KINDS:
            trigger = output / f"{run_id}.eio-armed"
            env.update(eio_env(trigger, output / run_id))
        if run.kind == "eio-lock":  # armed from the start, for the heartbeat's tmp file only
            env["QTRAIN_EIO_UNDER"] = str(output / run_id / "control" / ".lock.json")
        _inject_and_resume(run, output, run_id, config, env, logs, timeout_s)
        _collect(run, output / run_id, secrets, logs)
    run.seconds = round(time.monotonic() - started, 1)
    return run


def _run_on_blob_storage(
    run: FaultRun, output: Path, run_id: str, config: list[str], env: dict[str, str],
    secrets: dict[str, str], logs: list[str], timeout_s: float,
) -> None:  # fmt: skip
    plan = None
    if run.injected:
        fields = {k: run.injected[k] for k in ("mode", "start", "count", "delay_s")
                  if k in run.injected}  # fmt: skip
        plan = FaultPlan(**fields)
    container = f"faults-{run.seed}-{run.kind.replace('blob-', '')}"
    with running_azurite() as azurite, running_proxy(azurite, plan) as proxy:
        env = {**env, "AZURE_STORAGE_CONNECTION_STRING": proxy.connection_string}
        secrets = {**secrets, "AzuriteAccountKey": ACCOUNT_KEY[:40]}
        _inject_and_resume(run, output, run_id, [*config, *blob_settings(container)], env, logs,
                           timeout_s, heal=proxy.heal)  # fmt: skip
        run.injected.update(requests=proxy.requests, faulted=proxy.faulted)
        logs += _blob_texts(azurite.connection_string, container)
        _collect(run, output / run_id, secrets, logs, verify_env=env)


def _blob_texts(connection_string: str, container: str) -> list[str]:
    """Every blob the run left in ``container``, as text to scan for secrets."""
    from azure.storage.blob import ContainerClient

    client = ContainerClient.from_connection_string(connection_string, container)
    texts = []
    for item in client.list_blobs(include=["metadata"]):
        texts.append(f"{item.name} {item.metadata}")
        texts.append(client.download_blob(item.name).readall().decode("latin-1"))
    return texts


def _inject_and_resume(
    run: FaultRun, output: Path, run_id: str, config: list[str], env: dict[str, str],
    logs: list[str], timeout_s: float, heal: Any = None,
) -> None:  # fmt: skip
    run_dir = output / run_id
    proc = subprocess.Popen(command(output, run_id, config, planted_secrets(run.seed)), env=env,
                            cwd=output, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)  # fmt: skip
    filler = trigger = None
    if run.kind == "eio-lock":
        trigger = Path(env["QTRAIN_EIO_TRIGGER"])
        trigger.touch()
    outside = run.kind in FAULT_EXIT and run.where is not None
    if outside and _wait_for_step(run_dir, run.where, proc, timeout_s):
        if run.kind == "enospc":
            filler = fill(output)
        elif run.kind == "eio":
            trigger = Path(env["QTRAIN_EIO_TRIGGER"])
            trigger.touch()
        else:
            proc.send_signal(SIGNALS[run.kind])
    out, err = proc.communicate(timeout=timeout_s)
    logs += [out, err]
    run.fault_exit, run.fault_output = proc.returncode, out + err
    if filler is not None:
        filler.unlink()  # the user frees space
    if trigger is not None:  # the disk is replaced
        run.injected["fired"] = Path(f"{trigger}.fired").is_file()
        trigger.unlink()
    if heal is not None:  # storage answers again
        heal()
    if proc.returncode != 0:
        run.resumed = True
        resume = [sys.executable, "-m", "qtrain.cli.app", "run", "--quiet", "--resume",
                  str(run_dir)]  # fmt: skip
        done = subprocess.run(resume, env=env, cwd=output, text=True, capture_output=True,
                              timeout=timeout_s, check=False)  # fmt: skip
        logs += [done.stdout, done.stderr]
        run.final_exit = done.returncode
    else:
        run.final_exit = 0


def _wait_for_step(run_dir: Path, where: tuple[int, int, int], proc: Any, timeout_s: float) -> bool:
    """Until the run logged step ``where`` (False: it ended first)."""
    cycle, trial, step = where
    deadline = time.monotonic() + timeout_s
    events = run_dir / "events.jsonl"
    while time.monotonic() < deadline and proc.poll() is None:
        if events.is_file():
            for line in events.read_text(encoding="utf-8", errors="replace").splitlines():
                if f'"cycle": {cycle}' not in line or '"type": "step"' not in line:
                    continue
                try:
                    event = json.loads(line)
                except ValueError:
                    continue  # a line being written
                if event.get("trial") == trial and event.get("step", 0) >= step:
                    return True
        time.sleep(0.02)
    return False


def _collect(
    run: FaultRun, run_dir: Path, secrets: dict[str, str], logs: list[str],
    verify_env: dict[str, str] | None = None,
) -> None:  # fmt: skip
    report_file = run_dir / "report.json"
    if report_file.is_file():
        report = json.loads(report_file.read_text())
        run.status = report["status"]
        run.cycles = len(report["cycles"])
        run.trials = [
            (c["cycle"], t["trial"], t["checkpoint"], t["status"], t["metrics"])
            for c in report["cycles"]
            for t in c["trials"]
        ]
    adapter = run_dir / "export/adapter/adapter_model.safetensors"
    if adapter.is_file():
        run.weights = hashlib.sha256(adapter.read_bytes()).hexdigest()
    verify = subprocess.run(
        [sys.executable, "-m", "qtrain.cli.app", "checkpoints", "verify", str(run_dir)],
        env=verify_env or ENV, text=True, capture_output=True, timeout=300, check=False,
    )  # fmt: skip
    run.verify_exit = verify.returncode
    if verify.returncode != 0:
        run.problems.append(f"checkpoints verify: {verify.stdout[-500:]} {verify.stderr[-300:]}")
    values = {name: value for name, value in secrets.items()}
    values["AccountKey"] = secrets["AZURE_STORAGE_CONNECTION_STRING"].split("AccountKey=")[1][:40]
    texts = [*logs, verify.stdout, verify.stderr]
    for path in sorted(p for p in run_dir.rglob("*") if p.is_file()):
        texts.append(path.read_bytes().decode("latin-1"))
    for name, value in values.items():
        if any(value in text for text in texts):
            run.secrets_found.append(name)


def check(run: FaultRun, reference: FaultRun | None) -> None:
    """Record in ``run.problems`` where it falls short of its kind's expected outcome."""
    if run.kind in FAULT_EXIT and run.resumed and run.fault_exit != FAULT_EXIT[run.kind]:
        run.problems.append(f"the fault ended the run with {run.fault_exit}")
    if run.kind in EIO_KINDS and run.injected.get("fired") and not run.resumed:
        run.problems.append("a write failed with EIO and the run went on as if it had not")
    if run.kind in BLOB_KINDS and run.fault_exit not in (0, 75):
        run.problems.append(f"the storage fault ended the run with {run.fault_exit}")
    if run.kind == "blob-stall" and run.resumed:
        run.problems.append("slow storage answers stopped the run")
    if run.final_exit != 0 or run.status != "completed":
        run.problems.append(f"not completed: exit {run.final_exit}, status {run.status}")
    if run.secrets_found:
        run.problems.append(f"secrets found: {run.secrets_found}")
    if reference is None:
        return
    if run.kind in SAME_RESULT:
        if (run.trials, run.weights) != (reference.trials, reference.weights):
            run.problems.append("result differs from the reference")
    else:  # nan, exception: the faulted trial failed; every trial before it as in the reference
        assert run.where is not None
        cycle, trial, _ = run.where
        faulted = [t for t in run.trials if t[:2] == (cycle, trial)]
        if not faulted or faulted[0][3] != "failed":
            run.problems.append(f"trial {cycle}.{trial} is not recorded failed: {faulted}")
        before = [t for t in run.trials if t[:2] < (cycle, trial)]
        if before != [t for t in reference.trials if t[:2] < (cycle, trial)]:
            run.problems.append("the trials before the fault differ from the reference")


def identical(run: FaultRun, reference: FaultRun) -> bool:
    """Whether the run's trials and exported adapter equal the reference's."""
    return (run.trials, run.weights) == (reference.trials, reference.weights)


def machine() -> str:
    """The machine the figures come from."""
    return f"{os.uname().machine}, {os.cpu_count()} cpus, {os.uname().sysname}"
