"""The fault-injection suite's fast part: one run per fault kind, as ``benchmarks/faults.py``
runs hundreds. Each run is a real ``qtrain run`` process, resumed as a user would, with fake
secrets planted in its environment and on its command line.

Expected outcomes: signals, a full disk and EIO on a write -> completed after
``--resume``, identical to the fault-free reference; NaN weights and a raising trial -> that
trial recorded failed, the run completes, every trial before it as in the reference; a
solver outage -> every proposal recorded as a fallback, and the same outage gives the same
result every time. Blob storage faults: ``test_storage_faults.py``.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from support.fault_runs import (
    FaultRun,
    check,
    command,
    execute,
    pick_fault,
    planted_secrets,
    settings,
)
from support.run_process import ENV

pytestmark = pytest.mark.slow

CYCLES, TRIALS, STEPS = 3, 2, 4
CONFIG = settings(CYCLES, STEPS)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> FaultRun:
    """The fault-free run every faulted run is compared with."""
    run = execute(FaultRun("none", 0), tmp_path_factory.mktemp("reference"), CONFIG)
    check(run, None)
    assert not run.problems, run.problems
    assert run.cycles == CYCLES and run.verify_exit == 0
    return run


@pytest.mark.parametrize("kind", ["sigkill", "sigterm", "sigint", "enospc", "eio"])
def test_an_outside_fault_resumes_to_the_reference(
    kind: str, reference: FaultRun, tmp_path: Path
) -> None:
    run = execute(pick_fault(kind, 1, CYCLES, TRIALS, STEPS), tmp_path, CONFIG)
    check(run, reference)
    assert run.resumed, f"the {kind} came too late to stop the run"
    assert not run.problems, run.problems
    assert run.verify_exit == 0 and not run.secrets_found
    assert "Traceback" not in run.fault_output, run.fault_output[-2000:]
    if kind in ("enospc", "eio"):  # the machine's failure: one line saying so, no failed trial
        cause = "disk full" if kind == "enospc" else "I/O error"
        assert any(cause in line for line in run.fault_output.splitlines()), run.fault_output
        assert all(t[3] != "failed" for t in run.trials)
    if kind == "eio":
        assert run.injected["fired"], "the shim failed no write"


def test_an_io_error_on_the_lock_heartbeat_stops_the_run(
    reference: FaultRun, tmp_path: Path
) -> None:
    """The heartbeat writes from a side thread; its EIO stops the run at the next step (it
    once went unnoticed: found by ``benchmarks/faults.py``, seed 149)."""
    run = execute(FaultRun("eio-lock", 6), tmp_path, CONFIG)
    check(run, reference)
    assert run.injected["fired"] and run.resumed and run.fault_exit == 75, run.fault_output
    assert not run.problems, run.problems
    said = run.fault_output.replace("\n", "")  # the console wraps at 80 columns
    assert "stopped: I/O error" in said and "control/lock.json" in said, run.fault_output
    assert "Traceback" not in said, run.fault_output
    assert all(t[3] != "failed" for t in run.trials)


@pytest.mark.parametrize("kind", ["nan", "exception"])
def test_a_trial_fault_is_one_failed_trial(kind: str, reference: FaultRun, tmp_path: Path) -> None:
    run = execute(pick_fault(kind, 2, CYCLES, TRIALS, STEPS), tmp_path, CONFIG)
    check(run, reference)
    assert not run.resumed and not run.problems, run.problems
    failed = [t for t in run.trials if t[3] == "failed"]
    assert [t[:2] for t in failed] == [run.where[:2]]


def test_the_same_solver_outage_gives_the_same_result(tmp_path: Path) -> None:
    first = execute(FaultRun("solver-outage", 3), tmp_path / "a", CONFIG)
    check(first, None)
    second = execute(FaultRun("solver-outage", 4), tmp_path / "b", CONFIG)
    check(second, first)
    assert not first.problems and not second.problems, (first.problems, second.problems)
    report = (tmp_path / "a" / "solver-outage-3" / "report.json").read_text()
    assert "injected solver outage" in report, "every fallback is recorded with its reason"


def test_a_cycle_in_which_every_trial_fails_ends_the_run_failed(tmp_path: Path) -> None:
    env = {**ENV, "QTRAIN_FAILPOINTS": "raise@1.0.1,raise@1.1.1"}
    cmd = command(tmp_path, "all-failed", CONFIG, planted_secrets(5))
    done = subprocess.run(cmd, env=env, cwd=tmp_path, text=True, capture_output=True,
                          timeout=600, check=False)  # fmt: skip
    assert done.returncode == 1, done.stderr[-2000:]
    (line,) = [line for line in done.stderr.splitlines() if line.strip()]
    assert line.startswith("error: every trial of cycle 1 failed (trial 0: InjectedFault")
    report = json.loads((tmp_path / "all-failed" / "report.json").read_text())
    assert report["status"] == "failed" and "every trial of cycle 1" in report["stopped_because"]
