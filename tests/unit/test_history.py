"""history.jsonl survives a record cut short; a damaged record is one clear error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qtrain.errors import QtrainError
from qtrain.history import History, TrialRecord


def record(trial: int) -> TrialRecord:
    return TrialRecord(1, trial, {"training.learning_rate": 0.01}, None, f"c1-t{trial}", 10,
                       {"eval_loss": 1.0 + trial})  # fmt: skip


def test_a_record_cut_short_was_never_written_and_the_next_starts_a_line(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    whole = json.dumps(record(0).to_dict()) + "\n"
    path.write_text(whole + json.dumps(record(1).to_dict())[:40])  # a full disk mid-append
    history = History.load(path)
    assert [r.trial for r in history.records] == [0]
    history.add(record(2))
    assert [r.trial for r in History.load(path).records] == [0, 2]
    assert path.read_text().endswith("\n") and path.read_text().startswith(whole)


def test_a_damaged_record_inside_the_file_is_one_line_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    lines = [json.dumps(record(0).to_dict()), "{not json", json.dumps(record(1).to_dict())]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(QtrainError, match=r"history\.jsonl line 2 is not a trial record"):
        History.load(path)


def test_a_whole_record_whose_newline_was_lost_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    path.write_text(json.dumps(record(0).to_dict()) + "\n" + json.dumps(record(1).to_dict()))
    history = History.load(path)
    history.add(record(2))
    assert [r.trial for r in History.load(path).records] == [0, 1, 2]
