"""Read training rows from JSONL, JSON, CSV, Parquet, a ``save_to_disk`` folder or a builtin.

Reading never judges a row's content: a row that cannot even be parsed (a malformed JSONL
line, a CSV ``messages`` cell that is not JSON, a value that is not an object) comes back as
a :class:`SourceRow` with ``error`` set, so the ``bad_rows`` policy decides what happens to
it. Problems with the file as a whole raise :class:`~qtrain.errors.DataError`.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qtrain.errors import DataError, QtrainError, one_line

SUPPORTED_FORMATS = (
    ".jsonl (one JSON object per line), .json (a list of objects), .csv, .parquet, "
    "a datasets.save_to_disk folder, or builtin:reverse"
)
_JSONL_SUFFIXES = (".jsonl", ".ndjson")
#: Columns that tabular files may hold as JSON text (CSV cannot hold nested values).
_JSON_TEXT_COLUMNS = ("messages",)


@dataclass(frozen=True)
class SourceRow:
    """One row as read from the source.

    ``row`` is the 1-based number a user finds it by: the line number in a JSONL file, the
    data row (header excluded) in CSV, the position in a JSON list, Parquet file or dataset.
    Exactly one of ``record`` (the parsed object) and ``error`` (why it could not be parsed)
    is set.
    """

    row: int
    record: dict[str, Any] | None = None
    error: str | None = None


def resolve_data_path(path: str | Path) -> Path:
    """Turn ``data.path`` into a file or folder on disk (``builtin:NAME`` -> shipped asset)."""
    from qtrain.assets_path import BUILTIN_DATASETS, builtin_path, is_builtin

    if isinstance(path, str) and is_builtin(path):
        try:
            return builtin_path(path, BUILTIN_DATASETS, "dataset")
        except QtrainError as exc:
            raise DataError(f"data.path: {exc}") from None
    return Path(path).expanduser()


def load_records(path: str | Path) -> list[SourceRow]:
    """Read every row of ``path`` (a file, a ``save_to_disk`` folder or ``builtin:NAME``)."""
    source = resolve_data_path(path)
    if not source.exists():
        raise DataError(
            f"data file {source} does not exist: point data.path at one of {SUPPORTED_FORMATS}"
        )
    if source.is_dir():
        return _read_saved_dataset(source)
    suffix = source.suffix.lower()
    try:
        if suffix in _JSONL_SUFFIXES:
            return _read_jsonl(source)
        if suffix == ".json":
            return _read_json(source)
        if suffix == ".csv":
            return _read_csv(source)
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{source} is not UTF-8 text ({exc.reason} at byte {exc.start}): re-save it as UTF-8"
        ) from None
    if suffix == ".parquet":
        return _read_parquet(source)
    raise DataError(
        f"{source}: unsupported file type '{suffix or source.name}'; use {SUPPORTED_FORMATS}"
    )


def _read_jsonl(path: Path) -> list[SourceRow]:
    rows: list[SourceRow] = []
    with path.open(encoding="utf-8-sig") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue  # blank lines (a trailing newline, spacing) are not rows
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                rows.append(
                    SourceRow(number, error=f"invalid JSON ({exc.msg}, column {exc.colno})")
                )
                continue
            rows.append(_as_row(number, value))
    return rows


def _read_json(path: Path) -> list[SourceRow]:
    text = path.read_text(encoding="utf-8-sig")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(
            f"{path} is not valid JSON ({exc.msg} at line {exc.lineno}, column "
            f"{exc.colno}); a .json file must hold a list of row objects"
        ) from None
    if not isinstance(value, list):
        raise DataError(
            f"{path} holds a JSON {type(value).__name__}, not a list of row "
            "objects; wrap the rows in [...] or save them as .jsonl"
        )
    return [_as_row(number, item) for number, item in enumerate(value, start=1)]


def _read_csv(path: Path) -> list[SourceRow]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames:
            raise DataError(
                f"{path} has no header row: the first line must name the columns "
                "(messages, or prompt and completion)"
            )
        # Empty cells are absent values: a file mixing both row forms leaves the other
        # form's columns empty.
        records = [
            {k: v for k, v in raw.items() if k is not None and v not in ("", None)}
            for raw in reader
        ]
    return [_decode_json_text(number, record) for number, record in enumerate(records, start=1)]


def _read_parquet(path: Path) -> list[SourceRow]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several unrelated types for a bad file
        reason = one_line(exc, 200, with_type=False, collapse=True)
        raise DataError(
            f"{path} is not a readable Parquet file ({reason}); re-export it or use .jsonl"
        ) from None
    return _tabular_rows(table.to_pylist())


def _read_saved_dataset(folder: Path) -> list[SourceRow]:
    from datasets import DatasetDict, load_from_disk

    markers = ("dataset_info.json", "state.json", "dataset_dict.json")
    if not any((folder / name).is_file() for name in markers):
        raise DataError(
            f"{folder} is a folder but not a datasets.save_to_disk folder (no "
            f"dataset_info.json, state.json or dataset_dict.json); use "
            f"{SUPPORTED_FORMATS}"
        )
    try:
        dataset = load_from_disk(str(folder))
    except Exception as exc:  # datasets raises several types for a damaged folder
        reason = one_line(exc, 200, with_type=False, collapse=True)
        raise DataError(
            f"{folder} could not be loaded with datasets.load_from_disk ({reason}); save it "
            "again with save_to_disk"
        ) from None
    if isinstance(dataset, DatasetDict):
        if "train" not in dataset:
            raise DataError(
                f"{folder} is a DatasetDict without a 'train' split (splits: "
                f"{', '.join(dataset)}); save the training split as 'train'"
            )
        dataset = dataset["train"]
    return _tabular_rows(dataset.to_list())


def _tabular_rows(records: Iterable[dict[str, Any]]) -> list[SourceRow]:
    # Columnar formats fill a column a row does not use with None: drop those keys.
    cleaned = ({k: v for k, v in record.items() if v is not None} for record in records)
    return [_decode_json_text(number, record) for number, record in enumerate(cleaned, start=1)]


def _as_row(number: int, value: Any) -> SourceRow:
    if not isinstance(value, dict):
        return SourceRow(number, error=f"not a JSON object (got {type(value).__name__})")
    return SourceRow(number, record=value)


def _decode_json_text(number: int, record: dict[str, Any]) -> SourceRow:
    for column in _JSON_TEXT_COLUMNS:
        value = record.get(column)
        if isinstance(value, str):
            try:
                record[column] = json.loads(value)
            except json.JSONDecodeError as exc:
                return SourceRow(number, error=f"invalid JSON in column '{column}' ({exc.msg})")
    return SourceRow(number, record=record)
