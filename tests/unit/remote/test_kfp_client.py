"""pipelines.client without the CLI: cron and host checks, error wording, returned records."""

from __future__ import annotations

import pytest

pytest.importorskip("kfp", reason="the kfp extra is not installed")

import urllib3

from qtrain_kfp.pipelines import client
from qtrain_kfp.pipelines.kfp_calls import network_reason


@pytest.mark.parametrize(
    ("cron", "kfp"),
    [
        ("0 2 * * *", "0 0 2 * * *"),
        ("*/15  9-17 * * MON-FRI", "0 */15 9-17 * * MON-FRI"),
        ("30 0 2 1,15 jan-jun ?", "30 0 2 1,15 jan-jun ?"),
        ("0 0 6 ? * 1/2", "0 0 6 ? * 1/2"),
        ("@Daily", "@daily"),
        ("@every 1h30m", "@every 1h30m"),
    ],
)
def test_kfp_cron_adds_seconds_to_unix_cron(cron: str, kfp: str) -> None:
    assert client.kfp_cron(cron) == kfp


@pytest.mark.parametrize(
    "cron",
    ["", "* * * * * * *", "0 24 * * *", "0 0 0 * *", "0 0 * 13 *", "5-1 * * * *", "a * * * *"],
)
def test_kfp_cron_rejects(cron: str) -> None:
    with pytest.raises(client.KfpArgumentError, match="^--cron "):
        client.kfp_cron(cron)


def test_check_host() -> None:
    assert (
        client.check_host(" https://kf.example.com/pipeline/ ") == "https://kf.example.com/pipeline"
    )
    with pytest.raises(client.KfpArgumentError, match="query"):
        client.check_host("http://127.0.0.1:8888/?ns=a")


def test_network_reasons_are_short() -> None:
    refused = urllib3.exceptions.NewConnectionError(
        None, "Failed to establish a new connection: [Errno 111] Connection refused"
    )
    wrapped = urllib3.exceptions.MaxRetryError(None, "/apis/v2beta1/healthz", refused)
    assert network_reason(wrapped) == "connection refused"
    unknown = urllib3.exceptions.NameResolutionError(
        "kfp.invalid", None, OSError(-2, "Name or service not known")
    )
    assert network_reason(unknown) == ("cannot resolve the host name (Name or service not known)")


def test_submit_run_returns_the_run_and_reports_progress(
    kfp_api, tiny_config, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KF_PIPELINES_UI_ENDPOINT", "https://kf.example.com/pipeline/")
    lines: list[str] = []
    run = client.submit_run(
        tiny_config, kfp_api.url, wait=True, poll_interval=0.01, progress=lines.append
    )
    assert run.state == "SUCCEEDED" and run.error is None
    assert run.url == f"https://kf.example.com/pipeline/#/runs/details/{run.run_id}"
    assert lines == [
        f"submitted run {run.run_id} (qtrain run {run.qtrain_run_id}) to experiment "
        f"'qtrain': {run.url}",
        f"run {run.run_id}: RUNNING",
        f"run {run.run_id}: SUCCEEDED",
    ]
    run.raise_unless_succeeded()


def test_schedule_run_returns_the_version(kfp_api, tiny_config) -> None:
    first = client.schedule_run(tiny_config, kfp_api.url, "0 3 * * 0")
    again = client.schedule_run(tiny_config, kfp_api.url, "0 3 * * 0", name="weekly")
    assert (first.new_pipeline, first.new_version) == (True, True)
    # the same package again is the same version: the server named the first one after the
    # pipeline, and its description names the package
    assert (again.new_pipeline, again.new_version) == (False, False)
    assert first.version_name == again.version_name == "qtrain-training"
    assert again.version_id == first.version_id
    assert again.cron == "0 0 3 * * 0"
    assert again.url == f"{kfp_api.url}/#/recurringrun/details/{again.recurring_run_id}"
