"""Test modules are collected in pytest's default rootdir import mode, so names must be unique."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_no_two_test_modules_share_a_file_name() -> None:
    """Two `test_x.py` in folders without `__init__.py` stop collection of the whole suite."""
    names = Counter(
        path.name
        for path in (REPO / "tests").rglob("test_*.py")
        if not (path.parent / "__init__.py").exists()
    )
    assert {name: count for name, count in names.items() if count > 1} == {}
