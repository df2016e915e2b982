"""``qtrain submit`` / ``qtrain schedule`` end to end: CLI -> pipelines.client -> the real
kfp.Client -> a fake KFP v2beta1 API on 127.0.0.1 that records every request."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("kfp", reason="the kfp extra is not installed")


def _error_line(stderr: str) -> str:
    """The error line, checked to be the last line, one line long and without a traceback."""
    assert "Traceback" not in stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("error: "), stderr
    return last


def _run_config(request) -> dict:
    return json.loads(request.body["runtime_config"]["parameters"]["config_json"])


def test_submit_compiles_the_config_into_a_run(kfp_api, qtrain_cli) -> None:
    code, out, err = qtrain_cli(
        "submit", "training.learning_rate=0.002", "--host", kfp_api.url + "/"
    )
    assert code == 0, err
    [experiment] = kfp_api.calls("POST", "/experiments")
    assert experiment.body["display_name"] == "qtrain"
    [run] = kfp_api.calls("POST", "/runs")
    [experiment_id] = kfp_api.experiments
    assert run.body["experiment_id"] == experiment_id
    [run_id] = kfp_api.runs
    assert f"run id: {run_id}" in out
    assert f"run details: {kfp_api.url}/#/runs/details/{run_id}" in out
    assert "Experiment details" not in out + err  # kfp's own prints are swallowed
    assert _run_config(run)["training"]["learning_rate"] == 0.002
    # created from an uploaded pipeline version: the KFP UI links the run to its pipeline
    [pipeline_id] = kfp_api.pipelines
    [version] = kfp_api.versions[pipeline_id]
    assert run.body["pipeline_version_reference"] == {
        "pipeline_id": pipeline_id,
        "pipeline_version_id": version["pipeline_version_id"],
    }
    spec = kfp_api.spec_of(run.body)
    spec = spec.get("pipeline_spec", spec)  # kfp nests it when there is a platform spec
    assert spec["pipelineInfo"]["name"] == "qtrain-training"
    assert "config_json" in spec["root"]["inputDefinitions"]["parameters"]


def test_the_kfp_run_shows_the_qtrain_run_id(kfp_api, qtrain_cli) -> None:
    """The run directory's id is drawn at submit: the KFP run is named after it, its
    parameter carries it, and two submits of one config share one pipeline version."""
    ids = []
    for _ in range(2):
        code, out, err = qtrain_cli("submit", "--host", kfp_api.url)
        assert code == 0, err
        ids.append(re.search(r"qtrain run id: (\S+)", out)[1])
    assert ids[0] != ids[1]
    runs = kfp_api.calls("POST", "/runs")
    assert [r.body["display_name"] for r in runs] == [f"qtrain-training {i}" for i in ids]
    assert [_run_config(r)["runtime"]["run_id"] for r in runs] == ids
    [pipeline_id] = kfp_api.pipelines
    assert len(kfp_api.versions[pipeline_id]) == 1
    code, out, err = qtrain_cli("submit", "runtime.run_id=my-run", "--host", kfp_api.url)
    assert code == 0 and "qtrain run id: my-run" in out, err


def test_submit_reuses_the_experiment(kfp_api, qtrain_cli) -> None:
    for _ in range(2):
        code, _, err = qtrain_cli("submit", "--host", kfp_api.url, "--experiment", "nightly")
        assert code == 0, err
    assert len(kfp_api.calls("POST", "/experiments")) == 1
    [experiment_id] = kfp_api.experiments
    assert [r["experiment_id"] for r in kfp_api.runs.values()] == [experiment_id] * 2
    assert kfp_api.experiments[experiment_id]["display_name"] == "nightly"


def test_submit_once_runs_each_config_once(kfp_api, qtrain_cli) -> None:
    """A GitOps hook fires on every sync: only a changed config starts another run."""
    for _ in range(2):
        code, _, err = qtrain_cli("submit", "--host", kfp_api.url, "--once")
        assert code == 0, err
    assert "already ran this config" in err and "not submitted" in err
    assert len(kfp_api.calls("POST", "/runs")) == 1
    code, _, err = qtrain_cli("submit", "training.learning_rate=0.002", "--host", kfp_api.url,
                              "--once")  # fmt: skip
    assert code == 0, err
    names = [r["display_name"] for r in kfp_api.runs.values()]
    assert len(names) == len(set(names)) == 2
    assert all(re.fullmatch(r"qtrain-training-[0-9a-f]{12}", n) for n in names)


def test_submit_once_submits_again_after_a_failed_run(kfp_api, qtrain_cli) -> None:
    code, _, err = qtrain_cli("submit", "--host", kfp_api.url, "--once")
    assert code == 0, err
    [first] = kfp_api.runs.values()
    first["state"] = "FAILED"
    code, _, err = qtrain_cli("submit", "--host", kfp_api.url, "--once")
    assert code == 0, err
    assert f"run {first['run_id']} of this config ended FAILED: submitting again" in err
    assert len(kfp_api.runs) == 2
    code, _, err = qtrain_cli("submit", "--host", kfp_api.url, "--once")  # the new one counts
    assert "already ran this config" in err and len(kfp_api.runs) == 2


def test_submit_wait_reports_success(kfp_api, qtrain_cli) -> None:
    code, out, err = qtrain_cli(
        "submit", "--host", kfp_api.url, "--wait", "--poll-interval", "0.01"
    )
    assert code == 0, err
    assert "state: SUCCEEDED" in out
    [run_id] = kfp_api.runs
    assert len(kfp_api.calls("GET", f"/runs/{run_id}")) == 3  # RUNNING, RUNNING, SUCCEEDED
    assert f"run {run_id}: RUNNING" in err and f"run {run_id}: SUCCEEDED" in err


def test_submit_wait_on_a_failed_run_exits_non_zero(kfp_api, qtrain_cli) -> None:
    kfp_api.final_state = "FAILED"
    code, _, err = qtrain_cli("submit", "--host", kfp_api.url, "--wait", "--poll-interval", "0.01")
    assert code == 1
    [run_id] = kfp_api.runs
    line = _error_line(err)
    assert f"run {run_id} ended FAILED: train-cycle-1 exited with code 1" in line
    assert f"/#/runs/details/{run_id}" in line


def test_submit_wait_times_out(kfp_api, qtrain_cli) -> None:
    kfp_api.polls_to_finish = 10**6
    code, _, err = qtrain_cli(
        "submit", "--host", kfp_api.url, "--wait", "--timeout", "0.2", "--poll-interval", "0.05"
    )
    assert code == 1
    assert "is still RUNNING after 0.2 s" in _error_line(err)


def test_schedule_uploads_then_adds_versions(kfp_api, qtrain_cli) -> None:
    code, out, err = qtrain_cli("schedule", "--host", kfp_api.url, "--cron", "0 2 * * *")
    assert code == 0, err
    [upload] = kfp_api.calls("POST", "/pipelines/upload")
    assert upload.query["name"] == "qtrain-training"
    assert upload.upload_filename == "qtrain-training.yaml"
    assert upload.upload[0]["pipelineInfo"]["name"] == "qtrain-training"
    [pipeline_id] = kfp_api.pipelines
    [first_version] = kfp_api.versions[pipeline_id]
    [recurring] = kfp_api.calls("POST", "/recurringruns")
    assert recurring.body["trigger"]["cron_schedule"]["cron"] == "0 0 2 * * *"
    assert recurring.body["mode"] == "ENABLE"
    assert recurring.body["pipeline_version_reference"] == {
        "pipeline_id": pipeline_id,
        "pipeline_version_id": first_version["pipeline_version_id"],
    }
    assert _run_config(recurring)["training"]["learning_rate"] == 0.01
    assert "cron (KFP, seconds first): 0 0 2 * * *" in out
    assert re.search(r"recurring run id: recurring-\d+", out)

    # A different config: same pipeline, a new version named by qtrain version + spec hash.
    args = ("schedule", "training.learning_rate=0.003", "--host", kfp_api.url)
    code, out, err = qtrain_cli(*args, "--cron", "0 0 3 * * *", "--name", "nightly")
    assert code == 0, err
    assert len(kfp_api.calls("POST", "/pipelines/upload")) == 1
    [new_version] = kfp_api.calls("POST", "/pipelines/upload_version")
    assert new_version.query["pipelineid"] == pipeline_id
    assert re.fullmatch(r"qtrain-training-0-1-0-[0-9a-f]{12}", new_version.query["name"])
    assert json.loads(
        new_version.upload[0]["root"]["inputDefinitions"]["parameters"]["config_json"][
            "defaultValue"
        ]
    )["training"]["learning_rate"] == pytest.approx(0.003)
    second = kfp_api.calls("POST", "/recurringruns")[1]
    assert second.body["display_name"] == "nightly"
    assert second.body["trigger"]["cron_schedule"]["cron"] == "0 0 3 * * *"
    latest = kfp_api.versions[pipeline_id][-1]
    assert (
        second.body["pipeline_version_reference"]["pipeline_version_id"]
        == (latest["pipeline_version_id"])
    )
    assert f"pipeline version: {new_version.query['name']} (new)" in out

    # The same config again reuses that version.
    code, out, err = qtrain_cli(*args, "--cron", "@daily")
    assert code == 0, err
    assert len(kfp_api.calls("POST", "/pipelines/upload_version")) == 1
    assert "(existing)" in out
    assert kfp_api.calls("POST", "/recurringruns")[2].body["trigger"]["cron_schedule"] == {
        "cron": "@daily"
    }


def test_schedule_is_idempotent_and_a_changed_schedule_replaces_its_namesake(
    kfp_api, qtrain_cli
) -> None:
    args = ("schedule", "--host", kfp_api.url, "--cron", "0 2 * * *", "--name", "nightly")
    for _ in range(2):
        code, out, err = qtrain_cli(*args)
        assert code == 0, err
    assert len(kfp_api.recurring_runs) == 1
    assert len(kfp_api.calls("POST", "/recurringruns")) == 1
    assert "this schedule exists already: nothing changed" in out
    [first] = kfp_api.recurring_runs
    code, out, err = qtrain_cli(*args[:-4], "--cron", "0 3 * * *", "--name", "nightly")
    assert code == 0, err
    [second] = kfp_api.recurring_runs
    assert second != first and f"replaced recurring run {first}" in out
    assert kfp_api.recurring_runs[second]["trigger"]["cron_schedule"]["cron"] == "0 0 3 * * *"


def test_unreachable_host_is_one_line(closed_port_url, qtrain_cli) -> None:
    code, _, err = qtrain_cli("submit", "--host", closed_port_url)
    assert code == 2
    assert err.strip() == (
        f"error: cannot reach the KFP API at {closed_port_url}: connection refused; check --host"
    )


def test_https_against_plain_http_is_one_line(kfp_api, qtrain_cli) -> None:
    https = kfp_api.url.replace("http://", "https://")
    code, _, err = qtrain_cli("submit", "--host", https)
    assert code == 2
    line = _error_line(err)
    assert line.startswith(f"error: cannot reach the KFP API at {https}: TLS handshake failed")
    assert line.endswith("maybe http:// not https://; check --host")


def test_a_login_page_is_not_taken_for_the_api(kfp_api, qtrain_cli) -> None:
    kfp_api.login_page = True
    code, _, err = qtrain_cli("submit", "--host", kfp_api.url)
    assert code == 2
    assert _error_line(err) == (
        f"error: {kfp_api.url}/apis/v2beta1/healthz answered text/html rather than KFP's JSON "
        "(a login page?): check --host, and --token for an authenticated install"
    )
    assert len(kfp_api.requests) == 1


def test_missing_credentials_are_one_line(kfp_api, qtrain_cli) -> None:
    kfp_api.token = "s3cret"
    code, _, err = qtrain_cli("schedule", "--host", kfp_api.url, "--cron", "@hourly")
    assert code == 2
    assert err.strip() == (
        f"error: KFP API at {kfp_api.url} refused the credentials (HTTP 401): "
        "set KF_PIPELINES_SA_TOKEN_PATH or --token"
    )
    assert len(kfp_api.requests) == 1  # no 5 x 5 s health-check retries


def test_token_option_and_service_account_token_file(
    kfp_api, qtrain_cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kfp_api.token = "s3cret"
    code, _, err = qtrain_cli("submit", "--host", kfp_api.url, "--token", "s3cret")
    assert code == 0, err
    token_file = tmp_path / "token"
    token_file.write_text("s3cret\n")
    monkeypatch.setenv("KF_PIPELINES_SA_TOKEN_PATH", str(token_file))
    code, _, err = qtrain_cli("submit", "--host", kfp_api.url)
    assert code == 0, err
    assert {r.headers["authorization"] for r in kfp_api.requests} == {"Bearer s3cret"}
    monkeypatch.setenv("KF_PIPELINES_SA_TOKEN_PATH", str(tmp_path / "missing"))
    code, _, err = qtrain_cli("submit", "--host", kfp_api.url)
    assert code == 2 and "cannot read the token file" in _error_line(err)


@pytest.mark.parametrize(
    ("cron", "message"),
    [
        ("0 2 * *", "has 4 fields"),
        ("61 * * * *", "minute '61' is not a value"),
        ("0 2 * * 7", "day-of-week '7' is not a value"),
        ("*/0 * * * *", "invalid step"),
        ("0 ? * * *", "'?', allowed only"),
        ("@fortnightly", "has 1 fields"),
    ],
)
def test_bad_cron_is_one_line_before_any_request(
    kfp_api, qtrain_cli, cron: str, message: str
) -> None:
    code, _, err = qtrain_cli("schedule", "--host", kfp_api.url, "--cron", cron)
    assert code == 2
    line = _error_line(err)
    assert line.startswith(f"error: --cron {cron!r}") and message in line
    assert kfp_api.requests == []


@pytest.mark.parametrize("host", ["localhost:8888", "ftp://127.0.0.1:1", "http://"])
def test_bad_host_is_one_line(qtrain_cli, host: str) -> None:
    code, _, err = qtrain_cli("submit", "--host", host)
    assert code == 2
    assert f"--host {host!r} must be an http:// or https:// URL" in _error_line(err)


def test_empty_experiment(kfp_api, qtrain_cli) -> None:
    code, _, err = qtrain_cli("submit", "--host", kfp_api.url, "--experiment", " ")
    assert code == 2 and _error_line(err) == "error: --experiment must not be empty"
    assert kfp_api.requests == []


def test_server_error_names_the_status(kfp_api, qtrain_cli) -> None:
    kfp_api.fail = {"/runs": 503}
    code, _, err = qtrain_cli("submit", "--host", kfp_api.url)
    assert code == 2
    assert _error_line(err) == (
        f"error: KFP API at {kfp_api.url} failed while creating the run "
        "(HTTP 503 Service Unavailable): injected failure on /runs"
    )


@pytest.mark.parametrize("command", [("submit",), ("schedule", "--cron", "@daily")])
def test_an_older_backend_is_refused_in_one_line_before_anything_is_sent(
    kfp_api, qtrain_cli, command: tuple[str, ...]
) -> None:
    kfp_api.tag_name = "2.5.0"
    code, _, err = qtrain_cli(*command, "--host", kfp_api.url)
    assert code == 2
    assert _error_line(err) == (
        f"error: the KFP API at {kfp_api.url} runs Kubeflow Pipelines 2.5.0; qtrain's pipeline "
        "needs backend 2.17.0 or newer (exit handler state, optional secrets, fan-in): "
        "upgrade the backend"
    )
    assert len(err.strip().splitlines()) == 1
    assert [r.path for r in kfp_api.requests] == ["/apis/v2beta1/healthz"]


@pytest.mark.parametrize("tag", ["2.17.0", "v2.18.1", "unknown", "master"])
def test_a_new_or_unnamed_backend_is_accepted(kfp_api, qtrain_cli, tag: str) -> None:
    kfp_api.tag_name = tag
    code, _, err = qtrain_cli("submit", "--host", kfp_api.url)
    assert code == 0, err


def test_multi_user_install_needs_a_namespace(kfp_api, qtrain_cli) -> None:
    kfp_api.multi_user = True
    code, _, err = qtrain_cli("submit", "--host", kfp_api.url)
    assert code == 2 and "is multi-user: pass --namespace" in _error_line(err)
    code, _, err = qtrain_cli("submit", "--host", kfp_api.url, "--namespace", "team-a")
    assert code == 0, err
    [experiment] = kfp_api.experiments.values()
    assert experiment["namespace"] == "team-a"


def test_missing_kfp_extra(monkeypatch: pytest.MonkeyPatch, qtrain_cli) -> None:
    import qtrain_kfp.pipelines as pipelines

    monkeypatch.setitem(sys.modules, "kfp", None)  # `import kfp` now fails
    monkeypatch.delitem(sys.modules, "qtrain_kfp.pipelines.client", raising=False)
    monkeypatch.delattr(pipelines, "client", raising=False)
    code, _, err = qtrain_cli("submit", "--host", "http://127.0.0.1:1")
    assert code == 2
    assert "`qtrain submit` needs the 'kfp' package: install it with" in _error_line(err)


def test_real_entry_point_without_kfp_at_import(repo_root: Path, closed_port_url: str) -> None:
    probe = "import sys, qtrain.cli.app; assert 'kfp' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", probe], check=False).returncode == 0
    result = subprocess.run(
        [sys.executable, "-m", "qtrain.cli.app", "submit", "--host", closed_port_url],
        capture_output=True,
        text=True,
        cwd=repo_root,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: cannot reach the KFP API at {closed_port_url}: connection refused; check --host"
    ]
