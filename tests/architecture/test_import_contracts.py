"""The architecture holds: import-linter's contracts (pyproject.toml) pass, and would catch
an upward import, a kfp import in the core, or an import cycle."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """Run lint-imports on the packages under ``root/src`` with ``root``'s contracts."""
    env = {**os.environ, "PYTHONPATH": str(root / "src")}
    return subprocess.run(
        [str(LINT_IMPORTS), str(root / "pyproject.toml"), "--no-cache"],
        cwd=root, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


@pytest.fixture
def copy_of_the_code(tmp_path: Path) -> Path:
    """The packages and the contracts, copied (symlinks resolved) so they can be broken."""
    shutil.copy2(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copytree(REPO / "src", tmp_path / "src", symlinks=False,
                    ignore=shutil.ignore_patterns("__pycache__", "assets"))  # fmt: skip
    return tmp_path


def add_line(path: Path, line: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")


def test_the_contracts_hold() -> None:
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_an_upward_import_breaks_the_layers(copy_of_the_code: Path) -> None:
    add_line(copy_of_the_code / "src/qtrain/config/loader.py", "from qtrain.agent import loop")
    result = lint_imports(copy_of_the_code)
    assert result.returncode != 0
    assert "qtrain.config is not allowed to import qtrain.agent" in result.stdout
    assert "qtrain.config.loader -> qtrain.agent.loop" in result.stdout


def test_kfp_in_the_core_breaks_a_contract(copy_of_the_code: Path) -> None:
    add_line(copy_of_the_code / "src/qtrain/cycle/engine.py", "import kfp")
    result = lint_imports(copy_of_the_code)
    assert result.returncode != 0
    assert "qtrain is not allowed to import kfp" in result.stdout


def test_a_cycle_between_siblings_breaks_a_contract(copy_of_the_code: Path) -> None:
    add_line(copy_of_the_code / "src/qtrain/cli/common.py", "from qtrain.cli import app")
    result = lint_imports(copy_of_the_code)
    assert result.returncode != 0
    assert "no import cycles between sibling modules BROKEN" in result.stdout
