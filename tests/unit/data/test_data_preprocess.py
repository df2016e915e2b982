import json
from pathlib import Path
from typing import Any

import pytest

from qtrain.config.schema import DataConfig
from qtrain.data import (
    GENERATION_PROMPT,
    PreparedData,
    length_stats,
    load_prepared,
    prepare_dataset,
    save_prepared,
)
from qtrain.errors import DataError


def chat_row(prompt: str, reply: str) -> dict:
    """A valid ``messages`` row."""
    return {
        "messages": [{"role": "user", "content": prompt}, {"role": "assistant", "content": reply}]
    }


def reverse_rows(n: int) -> list[dict]:
    """``n`` distinct string-reversal rows in messages form."""
    words = [f"w{i:03d}x" for i in range(n)]
    return [chat_row(f"reverse: {w}", w[::-1]) for w in words]


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    """Write ``rows`` one JSON value a line."""
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


REPORT_KEYS = {
    "source",
    "source_path",
    "format",
    "forms",
    "rows_read",
    "rows_valid",
    "max_rows",
    "rows_used",
    "dropped",
    "split_seed",
    "eval_size",
    "train_rows",
    "eval_rows",
    "max_length",
    "token_lengths",
    "fingerprint",
}


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "rows.jsonl", reverse_rows(40))


def prepare(tokenizer: Any, path: Path, max_length: int = 256, **data: Any) -> PreparedData:
    return prepare_dataset(DataConfig(path=str(path), **data), tokenizer, max_length)


def test_rows_and_report(tokenizer: Any, data_file: Path) -> None:
    prepared = prepare(tokenizer, data_file, eval_size=8)
    assert len(prepared.train) == 32 and len(prepared.eval) == 8
    assert set(prepared.train[0]) == {"input_ids", "completion_mask"}
    row = prepared.eval[0]
    assert set(row) == {"input_ids", "completion_mask", "prompt_ids", "reference"}
    assert tokenizer.decode(row["prompt_ids"]).endswith(GENERATION_PROMPT)
    assert tokenizer.decode(row["prompt_ids"]).startswith("<|im_start|>user<|im_sep|>reverse: ")
    assert row["input_ids"][: len(row["prompt_ids"])] == row["prompt_ids"]
    report = prepared.report
    assert set(report) == REPORT_KEYS
    assert json.loads(json.dumps(report)) == report
    assert report["rows_read"] == report["rows_valid"] == report["rows_used"] == 40
    assert report["forms"] == {"messages": 40}
    assert report["dropped"] == {"invalid": {}, "too_long": {"train": 0, "eval": 0}}
    assert (report["train_rows"], report["eval_rows"]) == (32, 8)
    assert set(report["token_lengths"]["train"]) == {"min", "mean", "p50", "p95", "max"}
    assert report["fingerprint"] == prepared.fingerprint


def test_split_is_deterministic_and_seeded(tokenizer: Any, data_file: Path) -> None:
    first = prepare(tokenizer, data_file, eval_size=8, split_seed=3)
    again = prepare(tokenizer, data_file, eval_size=8, split_seed=3)
    other = prepare(tokenizer, data_file, eval_size=8, split_seed=4)
    assert first.train == again.train and first.eval == again.eval
    assert first.fingerprint == again.fingerprint
    assert [r["reference"] for r in first.eval] != [r["reference"] for r in other.eval]
    assert first.fingerprint != other.fingerprint
    references = {r["reference"] for r in first.eval}
    train_ids = {tuple(r["input_ids"]) for r in first.train}
    assert not train_ids & {tuple(r["input_ids"]) for r in first.eval}
    assert len(references) == 8


@pytest.mark.parametrize(("eval_size", "expected"), [(0.25, 10), (0.001, 1), (1, 1), (39, 39)])
def test_eval_size_count_or_fraction(
    tokenizer: Any, data_file: Path, eval_size: float, expected: int
) -> None:
    prepared = prepare(tokenizer, data_file, eval_size=eval_size)
    assert (len(prepared.train), len(prepared.eval)) == (40 - expected, expected)


def test_eval_size_leaving_no_train_rows_fails(tokenizer: Any, data_file: Path) -> None:
    with pytest.raises(
        DataError,
        match=r"rows\.jsonl: data\.eval_size 40 leaves no training "
        r"rows out of 40",
    ):
        prepare(tokenizer, data_file, eval_size=40)


def test_max_rows_keeps_the_first_rows(tokenizer: Any, data_file: Path) -> None:
    prepared = prepare(tokenizer, data_file, eval_size=2, max_rows=10)
    assert prepared.report["rows_used"] == 10 and prepared.report["rows_read"] == 40
    kept = {r["reference"] for r in prepared.eval}
    assert kept <= {row["messages"][1]["content"] for row in reverse_rows(10)}


def test_too_long_rows_are_dropped_and_counted_per_split(tmp_path: Path, tokenizer: Any) -> None:
    rows = reverse_rows(20) + [chat_row("reverse: " + "x" * 200, "y" * 200)] * 10
    path = write_jsonl(tmp_path / "long.jsonl", rows)
    prepared = prepare(tokenizer, path, max_length=64, eval_size=10, split_seed=1)
    too_long = prepared.report["dropped"]["too_long"]
    assert too_long["train"] + too_long["eval"] == 10
    assert len(prepared.train) == 20 - too_long["train"]
    assert len(prepared.eval) == 10 - too_long["eval"]
    assert all(len(r["input_ids"]) <= 64 for r in prepared.train + prepared.eval)
    assert prepared.report["token_lengths"]["train"]["max"] <= 64


def test_everything_too_long_fails(tokenizer: Any, data_file: Path) -> None:
    with pytest.raises(
        DataError,
        match=r"longer than max_length 8 tokens; raise "
        r"training\.max_length",
    ):
        prepare(tokenizer, data_file, max_length=8, eval_size=4)


def test_bad_rows_skip_is_reported(tmp_path: Path, tokenizer: Any) -> None:
    path = tmp_path / "mixed.jsonl"
    good = [json.dumps(r) for r in reverse_rows(10)]
    lines = [
        *good[:5],
        "{broken",
        json.dumps({"prompt": "p"}),
        *good[5:],
        json.dumps({"prompt": "reverse: ab", "completion": "ba"}),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    prepared = prepare(tokenizer, path, eval_size=2, bad_rows="skip")
    report = prepared.report
    assert report["rows_read"] == 13 and report["rows_valid"] == 11
    assert report["dropped"]["invalid"] == {"unknown_form": 1, "unreadable": 1}
    assert report["forms"] == {"messages": 10, "prompt_completion": 1}
    with pytest.raises(
        DataError,
        match=r"mixed\.jsonl: 2 invalid rows \(row 6: invalid JSON"
        r".*; row 7: needs",
    ):
        prepare(tokenizer, path, eval_size=2)


def test_system_prompt_is_tokenised(tokenizer: Any, data_file: Path) -> None:
    prepared = prepare(tokenizer, data_file, eval_size=2, system_prompt="Reverse it.")
    text = tokenizer.decode(prepared.eval[0]["prompt_ids"])
    assert text.startswith("<|im_start|>system<|im_sep|>Reverse it.<|im_end|>")


def test_save_load_roundtrip(tmp_path: Path, tokenizer: Any, data_file: Path) -> None:
    prepared = prepare(tokenizer, data_file, eval_size=5)
    folder = save_prepared(prepared, tmp_path / "prepared")
    assert sorted(p.name for p in folder.iterdir()) == ["eval.jsonl", "report.json", "train.jsonl"]
    loaded = load_prepared(folder)
    assert loaded.train == prepared.train and loaded.eval == prepared.eval
    assert loaded.report == prepared.report
    assert loaded.fingerprint == prepared.fingerprint


def test_load_detects_changed_rows(tmp_path: Path, tokenizer: Any, data_file: Path) -> None:
    folder = save_prepared(prepare(tokenizer, data_file, eval_size=5), tmp_path / "p")
    lines = (folder / "train.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    (folder / "train.jsonl").write_text("".join(lines[1:]), encoding="utf-8")
    with pytest.raises(DataError, match="do not match the fingerprint"):
        load_prepared(folder)


def test_load_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(
        DataError,
        match=r"not a prepared-data folder \(missing train.jsonl, "
        r"eval.jsonl, report.json\)",
    ):
        load_prepared(tmp_path)


def test_builtin_reverse_prepares(tokenizer: Any) -> None:
    prepared = prepare_dataset(DataConfig(eval_size=0.1), tokenizer, 64)
    assert prepared.report["source"] == "builtin:reverse"
    assert prepared.train and prepared.eval


def test_length_stats_nearest_rank() -> None:
    rows = [{"input_ids": [0] * n} for n in range(1, 21)]
    assert length_stats(rows) == {"min": 1, "mean": 10.5, "p50": 10, "p95": 19, "max": 20}
