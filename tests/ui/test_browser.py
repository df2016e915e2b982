"""The dashboard in a real browser (Playwright driving Debian's chromium), beside a real
guided run: approve an edited proposal, watch the loss curve grow, pause, resume, stop.

Every request that leaves 127.0.0.1 is failed by a route handler: the page works offline.
Screenshots go to ``tests/artifacts/ui/`` (docs/images/dashboard.png is one of them).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "tests" / "artifacts" / "ui"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
EDITED_LR = "0.004"  # off the search space's grid: runs, marked off_grid
OVERRIDES = [
    "runtime.mode=guided", "training.steps_per_cycle=40", "training.logging_steps=4",
    "data.eval_size=16", "data.max_rows=400", "evaluation.max_new_tokens=8",
    "runtime.threads=1", "early_stopping.max_cycles=3", "runtime.export_merged=false",
    "runtime.tensorboard=true",
]  # fmt: skip


def _browser_available() -> bool:
    try:
        import playwright  # noqa: F401
    except ImportError:
        return False
    return Path(CHROMIUM).exists()


@pytest.fixture
def browser() -> Iterator[object]:
    """Chromium through Playwright; a missing browser fails under CI=true, else skips."""
    if not _browser_available():
        if os.environ.get("CI") == "true":
            pytest.fail("the browser tests need Debian's chromium and playwright (.ci/run)")
        pytest.skip("chromium or playwright missing (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=CHROMIUM)
        try:
            yield launched
        finally:
            launched.close()


def _start_run(tmp_path: Path) -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    cmd = [sys.executable, "-m", "qtrain.cli.app", "run", str(REPO / "configs/tiny.yaml"),
           *OVERRIDES, f"runtime.output_dir={tmp_path}", "runtime.run_id=ui",
           "--ui", "--ui-port", "0", "--quiet"]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, stdin=subprocess.DEVNULL)  # fmt: skip
    assert proc.stderr is not None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        found = re.search(r"dashboard: (http://\S+)", line)
        if found:
            return proc, found.group(1)
        assert line or proc.poll() is None, "the run ended before serving its dashboard"
    raise AssertionError("no dashboard URL printed")


def _state(page, *states: str, timeout_s: float = 240) -> None:
    pattern = "|".join(re.escape(s) for s in states)
    page.wait_for_function(
        f"() => /^({pattern})$/.test(document.getElementById('state').textContent)",
        timeout=timeout_s * 1000,
    )


def _points(page) -> int:
    return int(page.evaluate("() => Number(document.body.dataset.points || 0)"))


def test_a_guided_run_driven_from_the_dashboard(tmp_path: Path, browser) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    proc, url = _start_run(tmp_path)
    left_host: list[str] = []
    problems: list[str] = []
    context = browser.new_context(viewport={"width": 1400, "height": 1100})

    def only_loopback(route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            left_host.append(route.request.url)
            route.abort()

    context.route("**/*", only_loopback)
    page = context.new_page()
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    try:
        page.goto(url)
        assert page.url.endswith("/runs/ui")  # the token left the address bar
        # cycle 1: the decision form; edit trial 0's learning rate and approve
        page.wait_for_selector("#decision:not([hidden])", timeout=240_000)
        _state(page, "waiting-for-decision")
        page.check("input.pick[value='0']")
        page.fill("input.edit[name='training.learning_rate']", EDITED_LR)
        page.click("#approve")
        page.wait_for_function(
            "() => /approve: (accepted|done)/"
            ".test(document.getElementById('decision-msg').textContent)"
        )
        edited = page.locator("tr[data-trial='1:0'] td.params")
        edited.wait_for(timeout=120_000)
        assert f"learning_rate={EDITED_LR}" in edited.text_content()
        # the loss curve gains points while the run trains
        page.wait_for_function("() => Number(document.body.dataset.points || 0) >= 2")
        before = _points(page)
        page.wait_for_function(f"() => Number(document.body.dataset.points || 0) > {before}")
        # pause after the running trial, see it held, resume
        page.click("#pause-trial")
        _state(page, "paused")
        page.screenshot(path=str(ARTIFACTS / "paused.png"), full_page=True)
        page.click("#resume")
        _state(page, "running", "waiting-for-decision")
        # cycle 2: approve as proposed, then stop
        page.wait_for_selector("#decision:not([hidden])", timeout=240_000)
        page.click("#approve")
        page.wait_for_selector("tr[data-trial='2:0']", timeout=120_000)
        page.wait_for_function(
            "() => document.querySelectorAll('#incumbents tbody tr').length >= 1"
        )
        page.screenshot(path=str(ARTIFACTS / "run.png"), full_page=False)
        page.click("#stop")
        _state(page, "stopping", "stopped", "exporting")
    except BaseException:
        proc.kill()
        page.screenshot(path=str(ARTIFACTS / "failed.png"), full_page=True)
        raise
    finally:
        context.close()
        _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    assert not left_host, left_host
    assert not problems, problems
    run_dir = tmp_path / "ui"
    report = json.loads((run_dir / "report.json").read_text())
    assert report["status"] == "stopped"
    history = [json.loads(x) for x in (run_dir / "history.jsonl").read_text().splitlines()]
    first = next(r for r in history if r["cycle"] == 1 and r["trial"] == 0)
    assert first["params"]["training.learning_rate"] == float(EDITED_LR)
    assert first["proposal"]["guided"]["decision"] == "edited"
    decisions = [json.loads(x) for x in (run_dir / "events.jsonl").read_text().splitlines()]
    whos = {e["who"] for e in decisions if e["type"] == "decision"}
    assert whos and all(w.startswith("ui:") for w in whos)
    assert list((run_dir / "tensorboard").glob("events.out.tfevents.*"))  # runtime.tensorboard
