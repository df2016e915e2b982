"""One run layout: the names of a run's files are spelled in ``qtrain.rundir`` only."""

from __future__ import annotations

import ast
from pathlib import Path

from qtrain import rundir

REPO = Path(__file__).resolve().parents[2]
RUN_FILES = {
    value
    for name, value in vars(rundir).items()
    if name.isupper() and isinstance(value, str) and "." in value
} | set(rundir.WEIGHT_FILES)
#: The same string meaning someone else's file: a Hugging Face ``save_to_disk`` folder marker.
ELSEWHERE = {("src/qtrain/data/formats.py", "state.json")}


def spelled(path: Path) -> set[str]:
    """The run file names written as string literals (or f-string parts) in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            found |= {name for name in RUN_FILES if node.value.endswith(name)}
    return found


def test_the_layout_names_its_files() -> None:
    assert {"config.yaml", "events.jsonl", "history.jsonl", "state.json", "trial.json"} <= RUN_FILES


def test_no_module_but_rundir_spells_a_run_file_name() -> None:
    offenders = {}
    for folder in ("src/qtrain", "components", "pipelines"):
        for path in (REPO / folder).rglob("*.py"):
            where = str(path.relative_to(REPO))
            names = {n for n in spelled(path) if (where, n) not in ELSEWHERE}
            if names and path.name != "rundir.py":
                offenders[where] = sorted(names)
    assert offenders == {}
