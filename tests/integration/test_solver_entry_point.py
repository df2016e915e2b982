"""A solver installed through the ``qtrain.solvers`` entry-point group, used by ``qtrain run``.

The plug-in is a real (if tiny) installed distribution: a module and its ``.dist-info``
folder on ``PYTHONPATH``, read by ``importlib.metadata`` in a fresh CLI process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

TOY_MODULE = '''
"""A toy QUBO solver: the samples of dimod's random sampler, seeded."""

import dimod
import numpy as np


class ToySampler(dimod.Sampler):
    """Random samples of the problem, reproducible from ``seed``."""

    name = "toy"
    parameters = {"num_reads": [], "seed": []}
    properties = {"description": "random samples (a plug-in test double)"}

    def sample(self, bqm, num_reads=10, seed=None):
        rng = np.random.default_rng(seed)
        values = np.array(sorted(bqm.vartype.value), dtype=np.int8)
        variables = list(bqm.variables)
        samples = rng.choice(values, size=(num_reads, len(variables)))
        return dimod.SampleSet.from_samples_bqm((samples, variables), bqm)
'''


@pytest.fixture
def plugin_path(tmp_path: Path) -> Path:
    """A folder holding the installed ``toy-qtrain-solver`` distribution."""
    site = tmp_path / "site"
    (site / "toy_qtrain_solver-0.1.dist-info").mkdir(parents=True)
    (site / "toy_qtrain_solver.py").write_text(TOY_MODULE)
    info = site / "toy_qtrain_solver-0.1.dist-info"
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-qtrain-solver\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[qtrain.solvers]\ntoy = toy_qtrain_solver:ToySampler\n")
    return site


def _qtrain_run(plugin_path: Path, overrides: list[str]) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(plugin_path), os.environ.get("PYTHONPATH")])
        ),
        "OMP_NUM_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    command = [sys.executable, "-m", "qtrain.cli.app", "run", "--quiet", *overrides]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)


def test_entry_point_solver_proposes_in_qtrain_run(
    plugin_path: Path, tiny_overrides: list[str], tmp_path: Path
) -> None:
    result = _qtrain_run(
        plugin_path,
        [
            *tiny_overrides,
            "runtime.export_merged=false",
            "quantum.solver_type=toy",
            "quantum.initial_design=1",
        ],
    )
    assert result.returncode == 0, result.stderr[-2000:]
    [report_path] = (tmp_path / "runs").glob("*/report.json")
    report = json.loads(report_path.read_text())
    assert report["proposer"] == "qubo-toy"
    cycle2 = next(c for c in report["cycles"] if c["cycle"] == 2)
    asked = [t["proposal"] for t in cycle2["trials"] if t["proposal"]["source"] == "qubo"]
    assert asked, cycle2["trials"]
    assert all(p["solver"] == "toy" and p["fallback"] is False for p in asked)


def test_unknown_solver_lists_the_installed_plug_in(
    plugin_path: Path, tiny_overrides: list[str]
) -> None:
    result = _qtrain_run(plugin_path, [*tiny_overrides, "quantum.solver_type=nosuch"])
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert "quantum.solver_type" in line and "'nosuch'" in line
    assert "choose from fixed, random, optuna-tpe, exact, sa, tabu, qaoa-sim, azure, toy" in line
