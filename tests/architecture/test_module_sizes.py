"""Small modules with one concept each: no module over 300 lines, no component over 40."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MODULE_LIMIT, COMPONENT_LIMIT = 300, 40


def lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


@pytest.mark.parametrize("folder", ["src/qtrain", "src/qtrain_kfp", "pipelines", "components"])
def test_no_module_is_over_300_lines(folder: str) -> None:
    too_long = {
        str(path.relative_to(REPO)): lines(path)
        for path in (REPO / folder).rglob("*.py")
        if lines(path) > MODULE_LIMIT
    }
    assert too_long == {}


def test_no_component_is_over_40_lines() -> None:
    components = [p for p in (REPO / "components").glob("*.py") if p.name != "__init__.py"]
    assert len(components) >= 8
    too_long = {p.name: lines(p) for p in components if lines(p) > COMPONENT_LIMIT}
    assert too_long == {}
