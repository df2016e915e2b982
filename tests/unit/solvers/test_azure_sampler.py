"""The ``azure`` solver with the real azure-quantum SDK against a local fake service + Azurite."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import dimod
import numpy as np
import pytest
import test_solver_conformance as conformance
from dimod.testing import assert_sampleset_energies
from qubo_cases import random_bqm
from support.fake_azure_quantum import FakeAzureQuantum, running_fake

from qtrain.errors import ConfigError
from qtrain.solvers import SolverSizeError, SolverTimeoutError, build_solver, make_sampler
from qtrain.solvers._statevector import basis_energies
from qtrain.solvers.azure.errors import JobFailedError

pytestmark = pytest.mark.azure_sdk

API_KEY = "test-api-key-0123456789"
SUBSCRIPTION = "00000000-0000-0000-0000-000000000001"


@pytest.fixture
def fake(azurite, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAzureQuantum]:
    """A fresh fake service (API key required) with the key in the environment."""
    monkeypatch.setenv("AZURE_QUANTUM_API_KEY", API_KEY)
    with running_fake(azurite.connection_string, api_key=API_KEY) as service:
        yield service


@pytest.fixture
def options(fake: FakeAzureQuantum, azurite, tmp_path: Path) -> dict:
    """``quantum.azure`` keys pointing at the fake, polling fast, state under tmp_path."""
    return {
        "subscription_id": SUBSCRIPTION,
        "resource_group": "rg",
        "workspace": "ws",
        "location": "eastus",
        "credential": "api_key",
        "endpoint": fake.endpoint,
        "storage": azurite.connection_string,
        "state_dir": str(tmp_path / "azure-jobs"),
        "poll_interval_s": 0.02,
        "timeout_s": 30.0,
    }


def _puts(fake: FakeAzureQuantum) -> int:
    return sum(fake.puts.values())


class TestAzureConformance(conformance.TestSolverConformance):
    """The shared solver conformance suite, run against the fake service."""

    @pytest.fixture
    def name(self, options: dict, monkeypatch: pytest.MonkeyPatch) -> str:
        monkeypatch.setitem(conformance.TEST_OPTIONS, "azure", options)
        return "azure"

    @pytest.mark.parametrize(("n", "seed"), [(6, 0), (7, 5), (8, 1), (10, 2)])
    def test_best_sample_on_random_qubos(self, name: str, n: int, seed: int) -> None:
        """Like qaoa-sim (same angles, p=2): the ground state up to 8 qubits with 500 shots,
        a state in the lowest 5% of the spectrum at 10."""
        bqm = random_bqm(n, seed)
        spectrum = basis_energies(bqm, list(bqm.variables))
        best = conformance.sampler_for(name).sample(bqm, num_reads=500).first.energy
        if n > 8:
            assert np.sum(spectrum < best - 1e-9) <= 0.05 * spectrum.size
        else:
            assert best == pytest.approx(spectrum.min(), abs=1e-9)


def test_success_decodes_counts_rightmost_bit_is_qubit_0(fake, options) -> None:
    # Strong linear biases: the optimum is x0 = 1 and every other bit 0 (order: a, b, c, d).
    bqm = dimod.BinaryQuadraticModel({"a": -3.0, "b": 2.0, "c": 2.5, "d": 1.5}, {}, 0.0, "BINARY")
    sampleset = make_sampler("azure", **options).sample(bqm, num_reads=300, seed=0)
    assert sampleset.first.sample == {"a": 1, "b": 0, "c": 0, "d": 0}
    assert_sampleset_energies(sampleset, bqm)
    assert sum(sampleset.record.num_occurrences) == 300
    info = sampleset.info
    assert info["target"] == "ionq.simulator" and info["angle_method"] == "local-optimised"
    assert info["cached"] is False and info["resumed"] is False
    assert [m for m, _ in fake.requests].count("PUT") == 1
    assert ("GET", "providerStatus") in fake.requests and ("GET", "quotas") in fake.requests


def test_shots_are_capped_and_a_repeated_problem_reuses_the_job(fake, options) -> None:
    sampler = make_sampler("azure", **{**options, "shots": 50})
    bqm = random_bqm(5, seed=1)
    first = sampler.sample(bqm, num_reads=1000)
    assert sum(first.record.num_occurrences) == 50
    again = sampler.sample(bqm, num_reads=1000)
    assert again.info["cached"] is True and again.info["job_id"] == first.info["job_id"]
    assert _puts(fake) == 1


@pytest.mark.parametrize("target", ["quantinuum.sim.h2-1e", "rigetti.sim.qvm"])
def test_other_targets(fake, options, target: str) -> None:
    bqm = random_bqm(6, seed=3)
    sampleset = make_sampler("azure", **{**options, "target": target}).sample(bqm, num_reads=300)
    assert sampleset.info["target"] == target
    assert sampleset.first.energy == pytest.approx(dimod.ExactSolver().sample(bqm).first.energy)


def test_failed_job_is_a_clear_error_not_a_type_error(fake, options) -> None:
    fake.job_outcome = "fail"
    sampler = make_sampler("azure", **options)
    with pytest.raises(JobFailedError, match=r"failed \(InvalidInputData: fake job failure\)"):
        sampler.sample(random_bqm(4, seed=0))
    assert not list(Path(options["state_dir"]).glob("*.json"))  # the next solve starts afresh


def test_cancelled_job(fake, options) -> None:
    fake.job_outcome = "cancel"
    with pytest.raises(JobFailedError, match="was cancelled"):
        make_sampler("azure", **options).sample(random_bqm(4, seed=0))


def test_timeout_keeps_the_job_and_a_restart_resumes_it(fake, options) -> None:
    fake.hold.clear()  # the job stays Executing
    bqm = random_bqm(6, seed=2)
    with pytest.raises(SolverTimeoutError, match="still Executing after timeout_s=0.3 s"):
        make_sampler("azure", **{**options, "timeout_s": 0.3}).sample(bqm, num_reads=100)
    [record] = [json.loads(p.read_text()) for p in Path(options["state_dir"]).glob("*.json")]
    fake.hold.set()
    # A new process: a new sampler over the same state directory.
    sampleset = make_sampler("azure", **options).sample(bqm, num_reads=100)
    assert sampleset.info["resumed"] is True
    assert sampleset.info["job_id"] == record["job_id"]
    assert _puts(fake) == 1


def test_crash_between_put_and_saving_the_id_finds_the_job_by_name(fake, options) -> None:
    fake.hold.clear()
    bqm = random_bqm(5, seed=4)
    with pytest.raises(SolverTimeoutError):
        make_sampler("azure", **{**options, "timeout_s": 0.2}).sample(bqm, num_reads=64)
    [path] = Path(options["state_dir"]).glob("*.json")
    record = json.loads(path.read_text())
    del record["job_id"]  # as if the process died right after the PUT
    path.write_text(json.dumps(record))
    fake.hold.set()
    sampleset = make_sampler("azure", **options).sample(bqm, num_reads=64)
    assert sampleset.info["resumed"] is True
    assert _puts(fake) == 1


def test_a_new_pod_without_the_state_dir_finds_the_running_job_by_name(fake, options) -> None:
    fake.hold.clear()
    bqm = random_bqm(5, seed=6)
    with pytest.raises(SolverTimeoutError):
        make_sampler("azure", **{**options, "timeout_s": 0.2}).sample(bqm, num_reads=64)
    for path in Path(options["state_dir"]).glob("*.json"):
        path.unlink()  # the step's pod was replaced: its local state is gone
    fake.hold.set()
    sampleset = make_sampler("azure", **options).sample(bqm, num_reads=64)
    assert sampleset.info["resumed"] is True
    assert _puts(fake) == 1


def test_throttling_and_unavailable_answers_are_retried(fake, options) -> None:
    fake.fail_next = [429, 503]
    sampleset = make_sampler("azure", **options).sample(random_bqm(4, seed=5), num_reads=64)
    assert len(sampleset) >= 1
    assert _puts(fake) == 1


def _fallback(options: dict, bqm: dimod.BinaryQuadraticModel) -> dimod.SampleSet:
    return build_solver("azure,sa", options={"azure": options}).sample(bqm, num_reads=10, seed=0)


@pytest.mark.parametrize(
    ("break_it", "reason"),
    [
        (
            lambda f: setattr(f.targets["ionq.simulator"], "availability", "Unavailable"),
            "TargetUnavailableError: target 'ionq.simulator' is Unavailable",
        ),
        (
            lambda f: f.targets.pop("ionq.simulator"),
            "TargetUnavailableError: target 'ionq.simulator' is not in the workspace",
        ),
        (
            lambda f: setattr(f.targets["ionq.simulator"], "queue_s", 7200),
            "QueueTooLongError: target 'ionq.simulator' average queue time 7200 s exceeds",
        ),
        (
            lambda f: f.quotas.append(
                {
                    "dimension": "qgs",
                    "scope": "Subscription",
                    "providerId": "ionq",
                    "utilization": 500.0,
                    "holds": 0.0,
                    "limit": 500.0,
                    "period": "Monthly",
                }
            ),
            "QuotaExceededError: quota 'qgs' of provider 'ionq' is used up",
        ),
        (lambda f: setattr(f, "job_outcome", "fail"), "JobFailedError: job"),
        (lambda f: f.stop(), "AzureQuantumError: ServiceRequestError"),
    ],
    ids=["unavailable", "missing", "queue", "quota", "failed", "down"],
)
def test_failures_fall_back_to_sa_with_the_reason(fake, options, break_it, reason: str) -> None:
    break_it(fake)
    bqm = random_bqm(6, seed=6)
    sampleset = _fallback(options, bqm)
    assert sampleset.info["solver"] == "sa"
    [failure] = sampleset.info["fallback"]
    assert failure["solver"] == "azure"
    assert failure["reason"].startswith(reason), failure["reason"]
    assert sampleset.first.energy == pytest.approx(dimod.ExactSolver().sample(bqm).first.energy)
    if reason.startswith(("Target", "Queue", "Quota")):
        assert _puts(fake) == 0


def test_too_many_qubits_falls_back_before_submitting(fake, options) -> None:
    bqm = random_bqm(21, seed=0, density=0.1)
    sampleset = _fallback({**options, "target": "rigetti.sim.qvm"}, bqm)
    assert sampleset.info["solver"] == "sa"
    [failure] = sampleset.info["fallback"]
    assert "SolverSizeError: target 'rigetti.sim.qvm' has 20 qubits" in failure["reason"]
    assert _puts(fake) == 0
    with pytest.raises(SolverSizeError):
        make_sampler("azure", **options).sample(random_bqm(30, seed=0, density=0.1))


def test_no_quota_api_is_tolerated(fake, options) -> None:
    fake.quotas = None  # 404
    assert len(make_sampler("azure", **options).sample(random_bqm(4, seed=7))) >= 1


def test_wrong_key_falls_back_and_the_reason_has_no_secret(fake, options, monkeypatch) -> None:
    monkeypatch.setenv("AZURE_QUANTUM_API_KEY", "wrong-key-abcdef")
    sampleset = _fallback(options, random_bqm(5, seed=8))
    [failure] = sampleset.info["fallback"]
    assert failure["reason"].startswith("AzureQuantumError: ")
    assert "wrong-key-abcdef" not in json.dumps(sampleset.info, default=str)
    assert "AccountKey" not in json.dumps(sampleset.info, default=str)


def test_missing_api_key_is_one_config_line(options, monkeypatch) -> None:
    monkeypatch.delenv("AZURE_QUANTUM_API_KEY")
    with pytest.raises(ConfigError, match=r"\$AZURE_QUANTUM_API_KEY is not set") as caught:
        make_sampler("azure", **options)
    assert "\n" not in str(caught.value)


def test_incomplete_workspace_and_unknown_option_are_config_errors(options) -> None:
    with pytest.raises(ConfigError, match=r"quantum.azure.resource_group.*quantum.azure.location"):
        make_sampler("azure", **{**options, "resource_group": None, "location": None})
    with pytest.raises(ConfigError, match=r"quantum.azure.shot: Extra inputs"):
        make_sampler("azure", **{**options, "shot": 5})
    with pytest.raises(ConfigError, match="either resource_id or"):
        make_sampler("azure", **{**options, "resource_id": "/subscriptions/x"})


def test_qubo_optimizer_with_the_azure_solver(fake, options) -> None:
    from qtrain.hpo import QuboOptimizer, SearchSpace

    space = SearchSpace.from_dict({"lr": [1e-4, 3e-4, 1e-3, 3e-3], "r": [8, 16, 32]})
    opt = QuboOptimizer(
        space, solver="azure", seed=0, n_initial=3, solver_options={"azure": options}
    )
    for _ in range(3):
        for params in opt.ask(2):
            opt.tell(params, float(np.log10(params["lr"]) + 3.5) ** 2 + params["r"] / 32)
    proposals = opt.ask_proposals(2)
    assert {p.metadata["solver"] for p in proposals} == {"azure"}
    assert not proposals[0].metadata["fallback_reasons"]


def test_debug_logs_of_the_sdk_hold_no_secret(fake, options, azurite, caplog) -> None:
    import logging

    account_key = azurite.connection_string.split("AccountKey=")[1].split(";")[0]
    with caplog.at_level(logging.DEBUG):
        make_sampler("azure", **options).sample(random_bqm(4, seed=11), num_reads=32)
    assert "container url" in caplog.text  # the SDK logged its SAS URL (scrubbed)
    assert API_KEY not in caplog.text and account_key not in caplog.text
    leaked = re.findall(r"(?:sig|AccountKey)=(?!\*\*\*|REDACTED)[^&;'\s]+", caplog.text)
    assert not leaked


def test_cancel_on_timeout(fake, options) -> None:
    fake.hold.clear()
    sampler = make_sampler("azure", **{**options, "timeout_s": 0.2, "cancel_on_timeout": True})
    with pytest.raises(
        SolverTimeoutError, match="still Executing after timeout_s=0.2 s; cancelled"
    ):
        sampler.sample(random_bqm(4, seed=12), num_reads=16)
    [job] = fake.jobs.values()
    assert job.details["status"] == "Cancelled"
    assert not list(Path(options["state_dir"]).glob("*.json"))
