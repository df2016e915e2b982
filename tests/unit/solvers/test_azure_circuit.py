"""The azure solver's local parts: circuit, angles, decoding, config, redaction (no service)."""

from __future__ import annotations

import subprocess
import sys

import dimod
import numpy as np
import pytest
from qubo_cases import random_bqm

from qtrain.config.azure_quantum import AzureQuantumConfig
from qtrain.errors import ConfigError, one_line
from qtrain.solvers._statevector import basis_energies, probabilities, qaoa_state
from qtrain.solvers.azure.angles import qaoa_angles
from qtrain.solvers.azure.circuit import decode_counts, ising_scale, qaoa_circuit

pytestmark = pytest.mark.azure_sdk


@pytest.mark.parametrize("vartype", ["BINARY", "SPIN"])
def test_circuit_matches_the_local_statevector(vartype: str) -> None:
    """The Qiskit circuit prepares the same state as qaoa-sim for the same angles."""
    from qiskit.quantum_info import Statevector

    n = 5
    bqm = random_bqm(n, seed=9, vartype=vartype)
    bqm.offset += 3.0
    order = list(bqm.variables)
    gammas, betas = [0.4, 1.1], [-0.7, -0.2]
    circuit = qaoa_circuit(bqm, order, gammas, betas)
    circuit.remove_final_measurements()
    remote = Statevector(circuit).probabilities()
    # qiskit: qubit 0 is the least significant bit; the local statevector: the most.
    remote = remote.reshape([2] * n).transpose(list(range(n))[::-1]).reshape(-1)
    energies = basis_energies(bqm, order)
    cost = (energies - energies.mean()) / ising_scale(bqm)
    local = probabilities(qaoa_state(cost, gammas, betas))
    assert np.allclose(remote, local, atol=1e-5)


def test_ising_scale_is_the_spectrum_spread() -> None:
    bqm = random_bqm(7, seed=4)
    assert ising_scale(bqm) == pytest.approx(basis_energies(bqm, list(bqm.variables)).std())


def test_decode_counts_rightmost_is_qubit_0() -> None:
    bqm = dimod.BinaryQuadraticModel({"a": 1.0, "b": -2.0, "c": 0.5}, {("a", "c"): 1.0}, 0, "SPIN")
    sampleset = decode_counts({"001": 7, "110": 3}, bqm, ["a", "b", "c"])
    by_count = {
        int(r.num_occurrences): r.sample for r in sampleset.data(["sample", "num_occurrences"])
    }
    assert by_count[7] == {"a": 1, "b": -1, "c": -1}
    assert by_count[3] == {"a": -1, "b": 1, "c": 1}
    assert list(sampleset.record.energy) == sorted(sampleset.record.energy)
    with pytest.raises(ValueError, match="3 binary digits"):
        decode_counts({"01": 1}, bqm, ["a", "b", "c"])


def test_angles_local_up_to_the_limit_then_a_ramp() -> None:
    small = random_bqm(6, seed=1)
    g, b, method = qaoa_angles(small, list(small.variables), 2, local_optimize_max_qubits=6)
    assert method == "local-optimised" and len(g) == len(b) == 2
    big = random_bqm(7, seed=1)
    g, b, method = qaoa_angles(big, list(big.variables), 3, local_optimize_max_qubits=6)
    assert method == "linear-ramp" and len(g) == 3
    assert all(x > 0 for x in g) and all(x < 0 for x in b)


def test_redact_removes_signatures_keys_and_given_secrets() -> None:
    text = (
        "GET http://h/c/b?sv=2024&se=2026-01-01&sig=abc%2Bdef failed\n"
        "DefaultEndpointsProtocol=http;AccountName=a;AccountKey=c2VjcmV0;BlobEndpoint=x "
        "key my-api-key"
    )

    def redact(text: str) -> str:  # what the sampler does to a failure's message
        return one_line(text, 400, secrets=["my-api-key"])

    clean = redact(text)
    assert "abc%2Bdef" not in clean and "\n" not in clean
    assert "c2VjcmV0" not in redact(text.replace("\n", " "))
    assert "my-api-key" not in redact(text.replace("\n", " "))


def test_config_keeps_the_storage_string_secret() -> None:
    config = AzureQuantumConfig(storage="AccountKey=c2VjcmV0", location="eastus")
    assert "c2VjcmV0" not in str(config.model_dump(mode="json"))
    assert "c2VjcmV0" not in repr(config)
    assert config.missing() == ["subscription_id", "resource_group", "workspace"]
    assert AzureQuantumConfig(resource_id="/subscriptions/x", location="l").missing() == []


def test_run_config_accepts_azure(tiny_overrides: list[str]) -> None:
    from qtrain.config import load_config

    config = load_config(None, [*tiny_overrides, "quantum.solver_type=azure"])
    assert config.quantum.solver_type == "azure"
    assert config.quantum.azure.target == "ionq.simulator"
    from qtrain.config.schema import QuantumConfig

    assert QuantumConfig().fallback == ["sa"]


def test_missing_credentials_fail_when_the_loop_starts(tiny_overrides, monkeypatch) -> None:
    from qtrain.config import load_config
    from qtrain.hpo import make_proposer

    monkeypatch.delenv("AZURE_QUANTUM_API_KEY", raising=False)
    config = load_config(
        None,
        [
            *tiny_overrides,
            "quantum.solver_type=azure",
            "quantum.azure.credential=api_key",
            "quantum.azure.resource_id=/subscriptions/s/resourceGroups/g/providers/"
            "Microsoft.Quantum/Workspaces/w",
            "quantum.azure.location=eastus",
        ],
    )
    with pytest.raises(ConfigError, match="AZURE_QUANTUM_API_KEY is not set"):
        make_proposer(config)


def test_import_qtrain_does_not_load_the_sdk() -> None:
    code = (
        "import sys, qtrain, qtrain.solvers, qtrain.solvers.azure; "
        "print(any(m.startswith(('azure.quantum', 'qiskit', 'qsharp')) for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_default_credential_without_any_login_is_one_config_line(monkeypatch) -> None:
    from azure.core.exceptions import ClientAuthenticationError
    from azure.identity import DefaultAzureCredential

    from qtrain.solvers import make_sampler

    def no_token(self, *scopes, **kwargs):
        raise ClientAuthenticationError("DefaultAzureCredential failed to retrieve a token")

    monkeypatch.setattr(DefaultAzureCredential, "get_token", no_token)
    with pytest.raises(ConfigError, match="'default' found no Azure credential") as caught:
        make_sampler("azure", resource_id="/subscriptions/x", location="eastus")
    assert "\n" not in str(caught.value)


def test_report_lists_the_cycles_that_fell_back() -> None:
    from qtrain.cycle.report import build_report, render_markdown
    from qtrain.history import History, TrialRecord

    reason = {"solver": "azure", "reason": "TargetUnavailableError: target 'x' is Degraded"}
    history = History()
    for cycle, proposal in [
        (1, {"source": "initial_design", "solver": None, "fallback_reasons": []}),
        (2, {"source": "qubo", "solver": "sa", "fallback_reasons": [reason]}),
        (2, {"source": "qubo", "solver": "sa", "fallback_reasons": [reason]}),
        (3, {"source": "qubo", "solver": "sa", "fallback_reasons": [reason], "reused": True}),
    ]:
        history.add(TrialRecord(cycle, 0, {}, None, None, 1, {}, proposal=proposal))
    report = build_report("r", "completed", "max_cycles", history, None, 1.0, "eval_loss")
    assert report["solver_fallbacks"] == [{"cycle": 2, "solver": "sa", "failed": [reason]}]
    assert "cycle 2: solved by sa after azure: TargetUnavailableError" in render_markdown(report)


def test_missing_extra_names_qtrain_azure(monkeypatch) -> None:
    from qtrain.errors import MissingExtraError
    from qtrain.solvers.azure.client import import_sdk

    monkeypatch.setitem(sys.modules, "azure.quantum", None)  # import fails as if not installed
    monkeypatch.delitem(sys.modules, "azure.quantum.qiskit", raising=False)
    with pytest.raises(MissingExtraError, match=r"pip install 'qtrain\[azure\]'"):
        import_sdk()


def test_storage_from_the_environment_when_unset_or_masked(monkeypatch) -> None:
    monkeypatch.setenv("AZURE_QUANTUM_STORAGE", "AccountKey=from-env")
    assert AzureQuantumConfig().storage_string() == "AccountKey=from-env"
    # A run's config.yaml holds the mask; loading it again must not use the mask as a value.
    assert AzureQuantumConfig(storage="**********").storage_string() == "AccountKey=from-env"
    assert AzureQuantumConfig(storage="AccountKey=given").storage_string() == "AccountKey=given"
