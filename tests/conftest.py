"""Shared test set-up: one torch thread, offline Hugging Face, repository paths."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# BLAS threads on tiny matrices only contend with torch's one thread on 2 cores.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread() -> None:
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository root (for shipped configs and assets)."""
    return REPO_ROOT


@pytest.fixture
def tiny_overrides(tmp_path: Path) -> list[str]:
    """Overrides that make the tiny config quick: few steps, few eval rows, a temp output dir."""
    return [
        f"runtime.output_dir={tmp_path / 'runs'}",
        "training.steps_per_cycle=8",
        "training.logging_steps=4",
        "data.eval_size=16",
        "data.max_rows=400",
        "evaluation.num_samples_saved=2",
        "early_stopping.max_cycles=2",
    ]


@pytest.fixture
def tiny_config(tiny_overrides: list[str]):
    """The shipped tiny config with :func:`tiny_overrides` applied."""
    from qtrain.config import load_config

    return load_config(None, tiny_overrides)


@pytest.fixture
def failed_run(tiny_overrides: list[str], monkeypatch: pytest.MonkeyPatch):
    """The agent of a tiny run in which every trial crashed (``boom``): it ended ``failed``,
    resumable. Trials keep crashing for the rest of the test."""
    import qtrain.training.trial as trial_module
    from qtrain import QuantumTrainingAgent, load_config
    from qtrain.errors import QtrainError

    def broken(spec, *args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(trial_module, "run_trial", broken)
    agent = QuantumTrainingAgent(load_config(None, tiny_overrides))
    with pytest.raises(QtrainError, match="every trial of cycle 1 failed"):
        agent.run()
    return agent


@pytest.fixture(scope="session")
def azurite():
    """A running Azurite blob service on 127.0.0.1 for the whole session (see support/azurite)."""
    from support.azurite import running_azurite

    with running_azurite() as server:
        yield server


# Variants whose kind CI already runs once; `make test-full` (and benchmarks/full_suite.py)
# run them too. Each id names the test in CI that covers the same kind.
_CONTROL = "tests/integration/test_control.py::"
FULL_COUNT_ONLY = {
    "tests/pipelines/test_kfp_local_halving.py::test_kfp_local_halving_matches_the_in_process_runner":
        "tests/unit/steps/test_halving_steps.py and test_kfp_local.py's engine parity",
    "tests/pipelines/test_kfp_local_control.py::test_a_paused_kfp_local_run_records_paused":
        "test_kfp_local_control.py's stopped-then-resumed run",
    "tests/pipelines/test_kfp_local_guided.py::test_a_guided_pipeline_run_without_a_decision_pauses_at_its_deadline":
        "tests/integration/test_guided.py's deadline and the kfp.local guided run",
    "tests/pipelines/test_strict_json.py::test_a_diverged_trial_leaves_only_strict_json":
        "the strict parser test beside it and tests/faults' nan trial",
    _CONTROL + "test_pause_then_sigkill_then_resume[azure_blob-pause-now]":
        "the local pause-now and the azure_blob pause-after-trial variants",
    _CONTROL + "test_pause_then_sigkill_then_resume[local-pause-after-trial]":
        "the local pause-now and the azure_blob pause-after-trial variants",
    _CONTROL + "test_sigkill_mid_trial_resumes_from_the_last_commit[azure_blob]":
        "the local variant and tests/integration/test_blob_resume.py",
    _CONTROL + "test_stops_are_graceful_and_resumable[azure_blob-ctrl-c twice-130]":
        "the three local variants and azure_blob's sigterm",
    _CONTROL + "test_stops_are_graceful_and_resumable[azure_blob-qtrain stop-0]":
        "the three local variants and azure_blob's sigterm",
    _CONTROL + "test_a_kill_during_the_final_export_resumes_to_the_export[azure_blob]":
        "the local variant",
    "tests/faults/test_faults.py::test_an_outside_fault_resumes_to_the_reference[sigkill]":
        "tests/integration/test_control.py's sigkill",
    "tests/faults/test_faults.py::test_an_outside_fault_resumes_to_the_reference[sigterm]":
        "tests/integration/test_control.py's sigterm",
    "tests/faults/test_faults.py::test_an_outside_fault_resumes_to_the_reference[sigint]":
        "tests/integration/test_control.py's ctrl-c twice",
    "tests/faults/test_storage_faults.py::test_a_storage_fault_ends_as_the_fault_free_run[blob-5xx-plan0]":
        "the 5xx blip test and the blob-lost run",
    "tests/integration/test_quantum_loop.py::test_proposers_drive_the_loop[tabu]":
        "the sa and optuna-tpe variants and tests/unit/solvers",
    "tests/integration/test_quantum_loop.py::test_proposers_drive_the_loop[random]":
        "the sa and optuna-tpe variants and tests/unit/hpo",
    "tests/integration/test_tiny_run.py::test_user_jsonl_trains_without_code_change[prompt_completion]":
        "the messages variant and tests/unit/data",
}  # fmt: skip


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the variants in :data:`FULL_COUNT_ONLY` ``full`` (``make test`` leaves them out)."""
    for item in items:
        if item.nodeid in FULL_COUNT_ONLY:
            item.add_marker(pytest.mark.full)
