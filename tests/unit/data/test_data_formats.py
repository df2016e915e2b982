import csv
import json
from pathlib import Path

import pytest

from qtrain.data import load_records, resolve_data_path, validate_rows
from qtrain.errors import DataError


def chat_row(prompt: str, reply: str) -> dict:
    """A valid ``messages`` row."""
    return {
        "messages": [{"role": "user", "content": prompt}, {"role": "assistant", "content": reply}]
    }


MESSAGES = chat_row("reverse: abc", "cba")
PAIR = {"prompt": "reverse: xy", "completion": "yx"}


def records(path) -> list[dict]:
    rows = load_records(path)
    assert all(r.error is None for r in rows), rows
    return [r.record for r in rows]


def test_jsonl_both_forms_and_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps(MESSAGES) + "\n\n" + json.dumps(PAIR) + "\n", encoding="utf-8")
    rows = load_records(path)
    assert [r.row for r in rows] == [1, 3]
    assert [r.record for r in rows] == [MESSAGES, PAIR]


def test_jsonl_malformed_line_is_a_row_error(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps(PAIR) + "\n{oops\n[1, 2]\n", encoding="utf-8")
    rows = load_records(path)
    assert rows[0].record == PAIR
    assert (rows[1].row, rows[1].record) == (2, None)
    assert rows[1].error.startswith("invalid JSON")
    assert rows[2].error == "not a JSON object (got list)"


def test_json_list(tmp_path: Path) -> None:
    path = tmp_path / "d.json"
    path.write_text(json.dumps([MESSAGES, PAIR]), encoding="utf-8")
    assert records(path) == [MESSAGES, PAIR]


def test_json_not_a_list(tmp_path: Path) -> None:
    path = tmp_path / "d.json"
    path.write_text(json.dumps(PAIR), encoding="utf-8")
    with pytest.raises(DataError, match=r"d\.json holds a JSON dict, not a list"):
        load_records(path)


def test_csv_parses_messages_column_and_ignores_empty_cells(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, ["messages", "prompt", "completion"])
        writer.writeheader()
        writer.writerow({"messages": json.dumps(MESSAGES["messages"])})
        writer.writerow(PAIR)
        writer.writerow({"messages": "[not json"})
    rows = load_records(path)
    assert [r.record for r in rows[:2]] == [MESSAGES, PAIR]
    assert rows[2].row == 3 and "invalid JSON in column 'messages'" in rows[2].error


def test_parquet_both_forms(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "d.parquet"
    # Columnar: each row leaves the other form's columns null.
    table = pa.Table.from_pydict(
        {
            "messages": [MESSAGES["messages"], None],
            "prompt": [None, PAIR["prompt"]],
            "completion": [None, PAIR["completion"]],
        }
    )
    pq.write_table(table, path)
    assert records(path) == [MESSAGES, PAIR]


def test_save_to_disk_dataset_and_dataset_dict(tmp_path: Path) -> None:
    from datasets import Dataset, DatasetDict

    Dataset.from_list([PAIR, PAIR]).save_to_disk(str(tmp_path / "ds"))
    assert records(tmp_path / "ds") == [PAIR, PAIR]

    train, test = Dataset.from_list([MESSAGES]), Dataset.from_list([PAIR])
    DatasetDict({"train": train, "test": test}).save_to_disk(str(tmp_path / "dd"))
    assert records(tmp_path / "dd") == [MESSAGES]


def test_dataset_dict_without_train_split(tmp_path: Path) -> None:
    from datasets import Dataset, DatasetDict

    DatasetDict({"test": Dataset.from_list([PAIR])}).save_to_disk(str(tmp_path / "dd"))
    with pytest.raises(DataError, match="without a 'train' split"):
        load_records(tmp_path / "dd")


def test_missing_file_names_file_and_formats(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nope\.jsonl does not exist.*\.parquet"):
        load_records(tmp_path / "nope.jsonl")


def test_unknown_extension(tmp_path: Path) -> None:
    path = tmp_path / "d.txt"
    path.write_text("hi", encoding="utf-8")
    with pytest.raises(DataError, match=r"unsupported file type '\.txt'.*\.jsonl"):
        load_records(path)


def test_plain_folder_is_not_a_dataset(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"not a datasets\.save_to_disk folder"):
        load_records(tmp_path)


def test_unknown_builtin() -> None:
    with pytest.raises(DataError, match=r"unknown builtin dataset 'builtin:nope'.*builtin:reverse"):
        load_records("builtin:nope")


def test_builtin_reverse_resolves_to_shipped_chat_rows() -> None:
    import qtrain

    path = resolve_data_path("builtin:reverse")
    expected = Path(qtrain.__file__).resolve().parent / "assets" / "data" / "reverse.jsonl"
    assert path == expected
    rows = load_records("builtin:reverse")
    result = validate_rows(rows, source=str(path))
    assert len(result.examples) == len(rows) > 0
    first = result.examples[0].messages
    assert first[-1]["role"] == "assistant"
    assert first[-2]["content"] == "reverse: " + first[-1]["content"][::-1]
