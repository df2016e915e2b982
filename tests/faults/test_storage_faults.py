"""Blob storage that fails: the run's checkpoints in Azurite behind a fault-injecting proxy
(``support.blob_fault_proxy``). A blip (a few 5xx answers, a reset connection, slow
answers) is absorbed by the SDK's retries; an outage stops the run with exit 75, one line
and nothing recorded as a failed trial, and ``qtrain run --resume`` after storage is back
ends exactly as the fault-free run does, even when the lost answers were to writes that
landed.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
from support.blob_fault_proxy import BlobFaultProxy, FaultPlan, running_proxy
from support.fault_runs import FaultRun, check, execute, settings

from qtrain.checkpoints._azure import container_from_connection_string
from qtrain.checkpoints.azure_blob import AzureBlobCheckpointStore
from qtrain.errors import InfrastructureError

pytestmark = pytest.mark.slow

CYCLES = 2
CONFIG = settings(CYCLES, 4)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> FaultRun:
    """The fault-free run on a local disk: blob runs must end exactly as it does."""
    run = execute(FaultRun("none", 0), tmp_path_factory.mktemp("reference"), CONFIG)
    check(run, None)
    assert not run.problems, run.problems
    return run


def _blob_store(proxy: BlobFaultProxy, tmp_path: Path) -> AzureBlobCheckpointStore:
    container = container_from_connection_string(
        proxy.connection_string, f"proxy-{uuid.uuid4().hex[:10]}", connect_timeout_s=2
    )
    container.create_container()
    return AzureBlobCheckpointStore(container, "p", tmp_path / "local")


@pytest.mark.parametrize("mode", ["5xx", "reset", "lost"])
def test_a_blip_is_retried_and_an_outage_is_an_infrastructure_error(
    mode: str, azurite, tmp_path: Path
) -> None:
    with running_proxy(azurite) as proxy:
        store = _blob_store(proxy, tmp_path)
        proxy.plan = FaultPlan(mode, start=proxy.requests + 1, count=2)
        assert store.list() == []  # two failed answers, then the SDK's retry got through
        assert proxy.faulted == 2
        proxy.plan = FaultPlan(mode, start=proxy.requests + 1)  # down until healed
        started = time.monotonic()
        with pytest.raises(InfrastructureError) as failure:
            store.list()
        assert time.monotonic() - started < 30
        message = str(failure.value)
        assert message.startswith("storage ") and "resumed" in message and "\n" not in message
        assert "AccountKey" not in message and "Eby8vdM0" not in message
        proxy.heal()
        assert store.list() == []


def test_slow_answers_are_waited_for(azurite, tmp_path: Path) -> None:
    with running_proxy(azurite) as proxy:
        store = _blob_store(proxy, tmp_path)
        proxy.plan = FaultPlan("stall", start=proxy.requests + 1, count=2, delay_s=1.0)
        started = time.monotonic()
        assert store.list() == []
        assert time.monotonic() - started >= 1.0 and proxy.faulted >= 1


@pytest.mark.parametrize(
    ("kind", "plan"),
    [
        ("blob-5xx", {"mode": "5xx", "start": 30, "count": 3}),
        ("blob-lost", {"mode": "lost", "start": 45, "count": None}),
    ],  # every mode, blip and outage, at random requests: benchmarks/faults.py
)
def test_a_storage_fault_ends_as_the_fault_free_run(
    kind: str, plan: dict, reference: FaultRun, tmp_path: Path
) -> None:
    run = execute(FaultRun(kind, 7, injected=dict(plan)), tmp_path, CONFIG)
    check(run, reference)
    assert run.injected["faulted"] > 0, f"the run made only {run.injected['requests']} requests"
    assert not run.problems, (run.problems, run.fault_output[-3000:])
    assert all(t[3] != "failed" for t in run.trials)
    if plan["count"] is None:  # an outage: one line, exit 75, then resumed
        assert run.resumed and run.fault_exit == 75, run.fault_output[-3000:]
        said = " ".join(run.fault_output.split())
        assert "stopped: storage unreachable while " in said, said[-2000:]
        assert "nothing was recorded as a failed trial" in said
        assert "Traceback" not in run.fault_output
    else:
        assert not run.resumed, run.fault_output[-3000:]
