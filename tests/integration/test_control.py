"""Control a running training from outside, kill it, resume it: it ends where an uninterrupted
run ends (per-trial metrics and final adapter weights identical, same thread count).

Every scenario runs ``qtrain run`` as a real process, interrupts it in cycle 2 (a pause
``--now`` then SIGKILL, a SIGKILL mid-trial, SIGTERM, Ctrl-C twice, ``qtrain stop``, a kill
during the final export) and finishes it with ``qtrain run --resume``.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from safetensors.torch import load_file
from support.run_process import ENV, cli, events, wait_for

from qtrain.control import ControlChannel
from qtrain.control.folder import ControlFolder

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
# Small and quick, and it still has everything: 2 cycles, 2 trials each, a QUBO proposal.
OVERRIDES = [
    "training.steps_per_cycle=16", "training.logging_steps=1", "early_stopping.max_cycles=2",
    "data.eval_size=32", "evaluation.max_new_tokens=8", "runtime.threads=1",
]  # fmt: skip


def _start(tmp_path: Path, run_id: str, *extra: str) -> subprocess.Popen[str]:
    args = [*OVERRIDES, f"runtime.output_dir={tmp_path}", f"runtime.run_id={run_id}"]
    cmd = [sys.executable, "-m", "qtrain.cli.app", "run", "--quiet"]
    if extra and extra[0] == "--resume":
        cmd += list(extra)
    else:
        cmd += [str(REPO / "configs/tiny.yaml"), *args, *extra]
    return subprocess.Popen(cmd, cwd=tmp_path, env=ENV, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip


def _mid_cycle_2(event: dict[str, Any]) -> bool:
    return (
        event["type"] == "step"
        and event["cycle"] == 2
        and event["trial"] == 0
        and (event["step"] >= 5)
    )


def _trial_ended_first(run_dir: Path) -> bool:
    """Whether cycle 2's first trial finished training before the pause was read."""
    seen = events(run_dir)
    pause = next(i for i, e in enumerate(seen) if e["type"] == "control")
    return not any(e["type"] == "step" and e["cycle"] == 2 for e in seen[pause:])


def _finished(run_dir: Path) -> dict[str, Any]:
    report = json.loads((run_dir / "report.json").read_text())
    trials = [
        (t["checkpoint"], t["status"], t["metrics"]) for c in report["cycles"] for t in c["trials"]
    ]
    weights = load_file(run_dir / "export/adapter/adapter_model.safetensors")
    return {"status": report["status"], "trials": trials, "weights": weights}


def _same(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert a["status"] == b["status"] == "completed"
    assert a["trials"] == b["trials"]
    assert a["weights"].keys() == b["weights"].keys()
    assert all(a["weights"][k].equal(b["weights"][k]) for k in a["weights"])


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """An uninterrupted run of the same config."""
    root = tmp_path_factory.mktemp("reference")
    proc = _start(root, "ref")
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-2000:]
    return _finished(root / "ref")


@pytest.fixture(params=["local", "azure_blob"])
def store(request: pytest.FixtureRequest) -> Any:
    """Overrides for the checkpoint store: the local one, or Azure Blob (Azurite)."""
    if request.param == "local":
        yield []
        return
    azurite = request.getfixturevalue("azurite")
    ENV["AZURE_STORAGE_CONNECTION_STRING"] = azurite.connection_string
    try:
        yield ["storage.kind=azure_blob", f"storage.container=ctl-{uuid.uuid4().hex[:12]}"]
    finally:
        ENV.pop("AZURE_STORAGE_CONNECTION_STRING", None)


def _resume(tmp_path: Path, run_id: str) -> subprocess.CompletedProcess[str]:
    proc = _start(tmp_path, run_id, "--resume", str(tmp_path / run_id))
    out, err = proc.communicate(timeout=600)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.mark.parametrize("now", [True, False], ids=["pause-now", "pause-after-trial"])
def test_pause_then_sigkill_then_resume(
    tmp_path: Path, reference: dict[str, Any], store: list[str], now: bool
) -> None:
    proc = _start(tmp_path, "r", *store)
    run_dir = tmp_path / "r"
    wait_for(run_dir, _mid_cycle_2, proc)
    if now:  # sent as qtrain pause --now does, from this process: a CLI's start-up (seconds
        # on a busy machine) could let the trial finish first, and --now holds after it then
        ControlChannel(ControlFolder.of(run_dir).commands).send("pause", after="now")
    else:
        paused = cli(tmp_path, "pause", "r", "--after", "trial")
        assert paused.returncode == 0, paused.stderr
    wait_for(run_dir, lambda e: e["type"] == "state" and e["state"] == "paused", proc)
    status = cli(tmp_path, "status", "r")
    assert "paused" in status.stdout and "cycle 2" in status.stdout
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    status = cli(tmp_path, "status", "r")
    assert "interrupted" in status.stdout and "resumable" in status.stdout
    suspended = any(e["type"] == "trial_suspended" for e in events(run_dir))
    assert ControlFolder.of(run_dir).suspended.is_file() == suspended
    assert suspended or not now or _trial_ended_first(run_dir)  # --now saves mid-trial
    resumed = _resume(tmp_path, "r")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    _same(_finished(run_dir), reference)
    resumes = [e for e in events(run_dir) if e["type"] == "resume"]
    assert resumes and resumes[-1]["cycles"] == 1
    if suspended:  # the saved trainer state was continued, not trained again from step 0
        log = events(run_dir)
        saved = next(e for e in log if e["type"] == "trial_suspended")
        after = log[log.index(resumes[-1]) :]
        steps = [e["step"] for e in after if e["type"] == "step"
                 and (e["cycle"], e["trial"]) == (saved["cycle"], saved["trial"])]  # fmt: skip
        assert steps and steps[0] > saved["step"], (saved, steps[:3])


def test_sigkill_mid_trial_resumes_from_the_last_commit(
    tmp_path: Path, reference: dict[str, Any], store: list[str]
) -> None:
    proc = _start(tmp_path, "k", *store)
    wait_for(tmp_path / "k", _mid_cycle_2, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    resumed = _resume(tmp_path, "k")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    _same(_finished(tmp_path / "k"), reference)


@pytest.mark.parametrize(
    ("interrupt", "code"),
    [("sigterm", 143), ("ctrl-c twice", 130), ("qtrain stop", 0)],
)
def test_stops_are_graceful_and_resumable(
    tmp_path: Path, reference: dict[str, Any], store: list[str], interrupt: str, code: int
) -> None:
    proc = _start(tmp_path, "s", *store)
    run_dir = tmp_path / "s"
    wait_for(run_dir, _mid_cycle_2, proc)
    if interrupt == "sigterm":
        proc.send_signal(signal.SIGTERM)
    elif interrupt == "qtrain stop":
        assert cli(tmp_path, "stop", "s").returncode == 0
    else:
        proc.send_signal(signal.SIGINT)
        time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err[-2000:]
    report = json.loads((run_dir / "report.json").read_text())
    assert report["status"] == "stopped"
    assert "stopped" in cli(tmp_path, "status", "s").stdout
    resumed = _resume(tmp_path, "s")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    _same(_finished(run_dir), reference)


def test_a_kill_during_the_final_export_resumes_to_the_export(
    tmp_path: Path, reference: dict[str, Any], store: list[str]
) -> None:
    proc = _start(tmp_path, "e", *store)
    run_dir = tmp_path / "e"
    wait_for(run_dir, lambda e: e["type"] == "cycle_end" and e["stop"], proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    resumed = _resume(tmp_path, "e")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    _same(_finished(run_dir), reference)


def test_bad_commands_are_one_line_and_the_run_goes_on(tmp_path: Path) -> None:
    proc = _start(tmp_path, "b", "training.steps_per_cycle=2000")  # long enough to poke at
    run_dir = tmp_path / "b"
    wait_for(run_dir, lambda e: e["type"] == "step", proc)
    second = _start(tmp_path, "b2", "--resume", str(run_dir))
    _, err = second.communicate(timeout=120)
    assert second.returncode == 2 and "is being run by process" in err
    unknown = cli(tmp_path, "set", "b", "training.learning_rate=1")
    assert unknown.returncode == 2 and "not a setting a running run takes" in unknown.stderr
    bad_value = cli(tmp_path, "set", "b", "early_stopping.max_cycles=-3")
    assert bad_value.returncode == 2 and "early_stopping.max_cycles" in bad_value.stderr
    resume_running = cli(tmp_path, "resume", "b")
    assert resume_running.returncode == 2 and "not paused" in resume_running.stderr
    with ControlFolder.of(run_dir).commands.open("a", encoding="utf-8") as handle:
        handle.write("{corrupt\n")
    unknown_run = cli(tmp_path, "status", "nope")
    assert unknown_run.returncode == 2 and "no run 'nope'" in unknown_run.stderr
    stopped = cli(tmp_path, "stop", "b")
    assert stopped.returncode == 0, stopped.stderr
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-2000:]  # refused commands did not disturb it
    rejected = [e for e in events(run_dir) if e["type"] == "control" and e["outcome"] == "rejected"]
    assert [e["command"] for e in rejected] == ["resume", "?"]
    assert "no command" in rejected[-1]["reason"]
    after = cli(tmp_path, "pause", "b")
    assert after.returncode == 2 and "stopped, not running" in after.stderr


def test_a_completed_run_is_not_resumed(tmp_path: Path) -> None:
    proc = _start(tmp_path, "c")
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-2000:]
    files = [tmp_path / "c" / "report.json", ControlFolder.of(tmp_path / "c").status]
    before = [f.read_bytes() for f in files]
    again = _resume(tmp_path, "c")
    assert again.returncode == 2 and "already completed" in again.stderr
    assert [f.read_bytes() for f in files] == before  # the refusal wrote nothing
    assert cli(tmp_path, "status", "c").stdout.startswith("run c: completed")
    listed = cli(tmp_path, "runs")  # (the temp folder's name, in the title, says "completed")
    assert listed.returncode == 0 and re.search(r"│ c +│ completed +│ 2 ", listed.stdout)


def test_set_extends_a_running_run(tmp_path: Path) -> None:
    proc = _start(tmp_path, "x")
    run_dir = tmp_path / "x"
    wait_for(run_dir, lambda e: e["type"] == "step", proc)
    result = cli(tmp_path, "set", "x", "early_stopping.max_cycles=3")
    assert result.returncode == 0, result.stderr
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-2000:]
    report = json.loads((run_dir / "report.json").read_text())
    assert len(report["cycles"]) == 3 and "max_cycles 3" in report["stopped_because"]
    settings = [e for e in events(run_dir) if e["type"] == "settings"]
    assert settings[0]["diff"] == {"early_stopping.max_cycles": [2, 3]}
    assert "max_cycles: 3" in (run_dir / "config.yaml").read_text()


def _log_lines(text: str) -> list[str]:
    """The lines a person reads in the live view: trial results and the stop, in order."""
    return [
        " ".join(line.split()) for line in text.splitlines()
        if ("trial" in line and "eval_loss" in line) or "stopping:" in line
    ]  # fmt: skip


def test_watch_from_another_terminal_shows_the_same_view(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "qtrain.cli.app", "run", str(REPO / "configs/tiny.yaml"),
           *OVERRIDES, f"runtime.output_dir={tmp_path}", "runtime.run_id=w"]  # fmt: skip
    env = {**ENV, "COLUMNS": "200"}
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    wait_for(tmp_path / "w", lambda e: e["type"] == "step" and e["cycle"] == 1, proc)
    watch = subprocess.run(
        [sys.executable, "-m", "qtrain.cli.app", "watch", "w", "--output-dir", str(tmp_path)],
        cwd=tmp_path, env=env, text=True, capture_output=True, timeout=600,
    )  # fmt: skip
    _, run_err = proc.communicate(timeout=600)
    assert proc.returncode == 0 and watch.returncode == 0, watch.stderr[-2000:]
    started_here = _log_lines(run_err)
    assert len(started_here) == 5  # 2 cycles x 2 trials, then why it stopped
    assert _log_lines(watch.stderr) == started_here
    assert "progress.py" not in run_err  # log lines say what happened, not where in qtrain
    assert "run w: completed" in watch.stdout
