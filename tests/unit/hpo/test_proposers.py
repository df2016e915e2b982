"""The one proposer table: ``proposer_name`` and ``make_proposer`` by ``quantum.solver_type``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import dimod
import pytest

from qtrain import names
from qtrain.config import load_config
from qtrain.history import TrialRecord
from qtrain.hpo import (
    FixedProposer,
    QuboOptimizer,
    RandomSearch,
    TPESearch,
    make_proposer,
    proposer_name,
)
from qtrain.hpo.loop_proposer import OptimizerProposer
from qtrain.hpo.proposers import PROPOSERS


@pytest.mark.parametrize(
    ("solver_type", "expected"),
    [
        ("fixed", "fixed"),
        ("random", "random"),
        ("optuna-tpe", "optuna-tpe"),
        ("sa", "qubo-sa"),
        ("qaoa-sim", "qubo-qaoa-sim"),
    ],
)
def test_proposer_name(solver_type: str, expected: str) -> None:
    config = load_config(None, [f"quantum.solver_type={solver_type}"])
    assert proposer_name(config) == expected
    assert make_proposer(config).name == expected


def test_the_table_holds_exactly_the_baselines() -> None:
    assert tuple(PROPOSERS) == names.BASELINE_PROPOSERS


def test_each_name_builds_its_optimizer_with_the_configured_settings() -> None:
    assert isinstance(
        make_proposer(load_config(None, ["quantum.solver_type=fixed"])), FixedProposer
    )

    random = make_proposer(load_config(None, ["quantum.solver_type=random", "quantum.seed=3"]))
    assert isinstance(random, OptimizerProposer) and isinstance(random.optimizer, RandomSearch)
    assert random.optimizer.seed == 3

    tpe = make_proposer(load_config(None, ["quantum.solver_type=optuna-tpe"]))
    assert isinstance(tpe.optimizer, TPESearch)
    assert tpe.optimizer.n_startup_trials == 2  # the tiny config's initial_design
    tpe = make_proposer(
        load_config(None, ["quantum.solver_type=optuna-tpe", "quantum.initial_design=null"])
    )
    assert tpe.optimizer.n_startup_trials == 5  # 4 parameters + 1

    qubo = make_proposer(
        load_config(
            None,
            [
                "quantum.solver_type=exact",
                "quantum.fallback=[tabu, sa]",
                "quantum.timeout_s=12",
                "quantum.num_reads=7",
                "quantum.exploit_incumbent=false",
                "quantum.solver_options={exact: {max_variables: 9}}",
            ],
        )
    )
    optimizer = qubo.optimizer
    assert isinstance(optimizer, QuboOptimizer)
    assert optimizer._chain == ["exact", "tabu", "sa"]
    assert (optimizer.timeout_s, optimizer.num_reads, optimizer.n_initial) == (12, 7, 2)
    assert optimizer.solver_options == {"exact": {"max_variables": 9}}
    assert qubo.exploit_incumbent is False


def test_default_objective_is_eval_loss_and_default_incumbent_is_none() -> None:
    proposer = make_proposer(load_config(None, ["quantum.solver_type=random"]))
    record = TrialRecord(1, 0, {}, None, "c001-t00", 10, {"eval_loss": 0.25})
    assert proposer.objective(record) == 0.25
    assert proposer.incumbent() is None


class _AllOnes(dimod.Sampler):
    """A plug-in solver answering with every bit set (often infeasible, so the fill tops up)."""

    parameters: ClassVar[dict[str, list]] = {"num_reads": [], "seed": []}
    properties: ClassVar[dict[str, Any]] = {}

    def sample(self, bqm: dimod.BinaryQuadraticModel, **parameters: Any) -> dimod.SampleSet:
        return dimod.SampleSet.from_samples_bqm([dict.fromkeys(bqm.variables, 1)], bqm)


@pytest.fixture
def all_ones() -> Iterator[str]:
    """``all-ones`` registered as a solver for the test."""
    from qtrain.solvers import register_solver, unregister_solver

    register_solver("all-ones", _AllOnes)
    yield "all-ones"
    unregister_solver("all-ones")


def test_a_registered_solver_is_a_qubo_proposer(all_ones: str) -> None:
    config = load_config(
        None, [f"quantum.solver_type={all_ones}", "quantum.initial_design=1", "quantum.fallback=[]"]
    )
    proposer = make_proposer(config)
    assert proposer.name == proposer_name(config) == "qubo-all-ones"
    first = proposer.propose(2, [], 1)
    history = [
        TrialRecord(1, i, p.params, None, f"c001-t0{i}", 10, {"eval_loss": 1.0 + i})
        for i, p in enumerate(first)
    ]
    second = proposer.propose(2, history, 2)
    assert {p.metadata["solver"] for p in second} == {all_ones}
