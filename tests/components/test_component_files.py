"""Every KFP component is a thin interface: a short file whose body calls ``qtrain.steps``."""

from __future__ import annotations

import ast
import inspect
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("kfp")

from qtrain_kfp import components

MAX_LINES = 40
#: The components test_components.py (and test_halving_components.py) call through
#: ``.python_func``; a new one needs a test there.
CALLED_IN_TESTS = {
    "preprocess",
    "propose",
    "train_trial",
    "evaluate",
    "select",
    "early_stop_gate",
    "export",
    "report_failure",
    "train_rung",
    "halve",
    "continue_trial",
    "select_halved",
    "decided_gate",
    "prepare_volumes",
}


def body_imports(func) -> set[str]:
    """The modules a component's body imports (only the body travels to the container)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
    definition = tree.body[0]
    modules: set[str] = set()
    for node in (n for statement in definition.body for n in ast.walk(statement)):
        if isinstance(node, ast.ImportFrom):
            modules.add(node.module or "")
        elif isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
    return modules


def test_every_component_is_called_by_the_component_tests() -> None:
    assert set(components.__all__) == CALLED_IN_TESTS


@pytest.mark.parametrize("name", components.__all__)
def test_component_file_is_at_most_40_lines(name: str) -> None:
    source = Path(inspect.getsourcefile(getattr(components, name).python_func))
    lines = source.read_text(encoding="utf-8").count("\n")  # what `wc -l` counts
    assert lines <= MAX_LINES, f"{source.name} has {lines} lines; move the logic to qtrain.steps"


@pytest.mark.parametrize("name", components.__all__)
def test_component_body_imports_qtrain_steps(name: str) -> None:
    assert "qtrain.steps" in body_imports(getattr(components, name).python_func)
