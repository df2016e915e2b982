"""Solver, proposer and metric names in the config come from ``qtrain.names``, not a Literal."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import dimod
import pytest

from qtrain import names
from qtrain.config import RunConfig, load_config, validate_config
from qtrain.errors import ConfigError


def test_builtins_and_baselines_are_listed() -> None:
    assert names.solver_names()[:5] == ("exact", "sa", "tabu", "qaoa-sim", "azure")
    assert names.proposer_names()[:8] == ("fixed", "random", "optuna-tpe", *names.BUILTIN_SOLVERS)
    assert set(names.metric_names()) >= {"exact_match", "prefix_match", "char_accuracy"}


def test_unknown_solver_type_is_one_line_with_choices_and_a_hint() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(None, ["quantum.solver_type=tabuu"])
    message = str(caught.value)
    assert "\n" not in message
    assert "quantum.solver_type: unknown solver or proposer 'tabuu' (did you mean 'tabu'?)" in (
        message
    )
    assert "choose from fixed, random, optuna-tpe, exact, sa, tabu, qaoa-sim, azure" in message


def test_unknown_fallback_names_the_solver() -> None:
    with pytest.raises(ConfigError, match=r"quantum\.fallback: unknown solver 'exakt' \(did you"):
        load_config(None, ["quantum.fallback=[sa, exakt]"])
    with pytest.raises(ConfigError, match="unknown solver 'random'"):
        load_config(None, ["quantum.fallback=[random]"])  # a baseline is not a solver


def test_unknown_metric_keeps_its_message() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(None, ["evaluation.metric=bleu"])
    assert str(caught.value).endswith(
        "evaluation.metric 'bleu' is unknown: choose from char_accuracy, exact_match, prefix_match"
    )


class _Plugin(dimod.Sampler):
    """A solver registered at run time: exact enumeration (the QUBOs here are tiny)."""

    parameters: ClassVar[dict[str, list]] = {"num_reads": [], "seed": []}
    properties: ClassVar[dict[str, object]] = {}

    def sample(self, bqm: dimod.BinaryQuadraticModel, **parameters: object) -> dimod.SampleSet:
        """Every state, lowest energy first (``num_reads`` and ``seed`` change nothing)."""
        return dimod.ExactSolver().sample(bqm)


def test_register_solver_makes_the_name_valid_in_a_config() -> None:
    from qtrain.solvers import build_solver, register_solver, unregister_solver

    register_solver("plugin-cfg", _Plugin)
    try:
        config = load_config(
            None, ["quantum.solver_type=plugin-cfg", "quantum.fallback=[plugin-cfg, sa]"]
        )
        assert config.quantum.solver_type == "plugin-cfg"
        chain = build_solver(config.quantum.solver_type)
        sampleset = chain.sample_qubo({(0, 0): 1.0, (1, 1): -1.0}, num_reads=1, seed=0)
        assert sampleset.first.sample == {0: 0, 1: 1}
        assert sampleset.info["solver"] == "plugin-cfg"
    finally:
        unregister_solver("plugin-cfg")
    with pytest.raises(ConfigError, match="unknown solver or proposer 'plugin-cfg'"):
        load_config(None, ["quantum.solver_type=plugin-cfg"])


def test_register_metric_makes_the_name_valid_in_a_config() -> None:
    from qtrain.evaluation import register_metric

    register_metric("always_half_cfg")(lambda predictions, references: 0.5)
    config = validate_config({"evaluation": {"metric": "always_half_cfg"}})
    assert config.evaluation.metric == "always_half_cfg"


@pytest.fixture
def ghost_entry_point(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """An installed distribution whose ``qtrain.solvers`` entry point cannot be imported."""
    info = tmp_path / "ghost_solver-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: ghost-solver\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[qtrain.solvers]\nghost = no_such_module:Sampler\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    names.entry_point_solver_names.cache_clear()
    yield
    monkeypatch.undo()
    names.entry_point_solver_names.cache_clear()


@pytest.mark.usefixtures("ghost_entry_point")
def test_entry_point_names_are_read_without_importing_the_plug_in() -> None:
    assert "ghost" in names.solver_names()
    assert "ghost" in names.proposer_names()
    config = load_config(None, ["quantum.solver_type=ghost"])  # validated, nothing imported
    assert config.quantum.solver_type == "ghost"
    assert "no_such_module" not in sys.modules


def test_config_imports_neither_solvers_nor_evaluation() -> None:
    code = (
        "import sys, qtrain.config; qtrain.config.load_config(None, []); "
        "print(sorted(m for m in sys.modules if m.startswith("
        "('qtrain.solvers', 'qtrain.evaluation', 'qtrain.hpo', 'dimod'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_json_schema_lists_the_builtins_as_examples() -> None:
    quantum = RunConfig.model_json_schema()["$defs"]["QuantumConfig"]["properties"]
    assert quantum["solver_type"]["type"] == "string"
    assert quantum["solver_type"]["examples"] == [
        *names.BASELINE_PROPOSERS,
        *names.BUILTIN_SOLVERS,
    ]
    assert quantum["fallback"]["items"]["examples"] == list(names.BUILTIN_SOLVERS)


def test_schema_module_keeps_its_public_names() -> None:
    from qtrain.config.schema import TUNABLE_PARAMETERS, ParameterSpec, QuantumConfig

    assert "model.lora.r" in TUNABLE_PARAMETERS
    assert ParameterSpec(values=[1, 2]).default == 1
    assert QuantumConfig().fallback == ["sa"]
