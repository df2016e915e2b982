"""From ``data.path`` to tokenised train/eval rows plus a report, and back from disk.

``prepare_dataset`` loads, validates, keeps the first ``max_rows`` valid rows, splits with
``split_seed``, tokenises, and drops rows longer than ``max_length``. The same inputs and
seed always give the same rows; :attr:`PreparedData.fingerprint` lets two steps (e.g. the
preprocessing and training components of a pipeline) check that they hold identical data.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qtrain.config.schema import DataConfig
from qtrain.data.chat import check_chat_tokens, prompt_ids, tokenize_conversation
from qtrain.data.formats import load_records, resolve_data_path
from qtrain.data.validation import Example, ValidationResult, validate_rows
from qtrain.errors import DataError
from qtrain.fsio import write_atomic
from qtrain.rundir import DATA_REPORT_FILE, EVAL_ROWS_FILE, TRAIN_ROWS_FILE


@dataclass
class PreparedData:
    """Tokenised rows ready for training and evaluation.

    ``train`` rows hold ``input_ids`` and ``completion_mask``; ``eval`` rows add
    ``prompt_ids`` (the conversation up to the generation prompt) and ``reference`` (the
    final assistant reply). ``report`` is a JSON-able summary of how they were made.
    """

    train: list[dict[str, Any]]
    eval: list[dict[str, Any]]
    report: dict[str, Any]

    @property
    def fingerprint(self) -> str:
        """sha256 over the tokenised train and eval rows (not the report)."""
        digest = hashlib.sha256()
        for name, rows in (("train", self.train), ("eval", self.eval)):
            digest.update(f"{name}:{len(rows)}\n".encode())
            for row in rows:
                digest.update(_json_line(row).encode())
        return digest.hexdigest()


def validate_data(data_cfg: DataConfig) -> ValidationResult:
    """Load and validate ``data_cfg.path`` (no tokenizer needed: run it before loading a model);
    the split into training and evaluation rows is checked too."""
    validated = validate_rows(
        load_records(data_cfg.path),
        source=str(resolve_data_path(data_cfg.path)),
        data_format=data_cfg.format,
        bad_rows=data_cfg.bad_rows,
        system_prompt=data_cfg.system_prompt,
    )
    source = resolve_data_path(data_cfg.path)
    split_examples(
        validated.examples[: data_cfg.max_rows], data_cfg.eval_size, data_cfg.split_seed,
        str(source),
    )  # fmt: skip
    return validated


def prepare_dataset(
    data_cfg: DataConfig,
    tokenizer: Any,
    max_length: int,
    validated: ValidationResult | None = None,
) -> PreparedData:
    """Load, validate, split and tokenise ``data_cfg.path`` for training at ``max_length``.

    Pass ``validated`` (from :func:`validate_data`) to skip reading and validating again.
    """
    check_chat_tokens(tokenizer)
    source = resolve_data_path(data_cfg.path)
    validated = validated if validated is not None else validate_data(data_cfg)
    examples = validated.examples[: data_cfg.max_rows]
    train_examples, eval_examples = split_examples(
        examples, data_cfg.eval_size, data_cfg.split_seed, str(source)
    )
    train = [_train_row(e, tokenizer) for e in train_examples]
    evals = [_eval_row(e, tokenizer) for e in eval_examples]
    too_long = {"train": _count_long(train, max_length), "eval": _count_long(evals, max_length)}
    train = [r for r in train if len(r["input_ids"]) <= max_length]
    evals = [r for r in evals if len(r["input_ids"]) <= max_length]
    for split, rows in (("training", train), ("evaluation", evals)):
        if not rows:
            raise DataError(
                f"{source}: every {split} row is longer than max_length "
                f"{max_length} tokens; raise training.max_length or shorten rows"
            )
    report = {
        "source": data_cfg.path,
        "source_path": str(source),
        "format": data_cfg.format,
        "forms": dict(sorted(validated.forms.items())),
        "rows_read": validated.rows_read,
        "rows_valid": len(validated.examples),
        "max_rows": data_cfg.max_rows,
        "rows_used": len(examples),
        "dropped": {"invalid": dict(sorted(validated.dropped.items())), "too_long": too_long},
        "split_seed": data_cfg.split_seed,
        "eval_size": data_cfg.eval_size,
        "train_rows": len(train),
        "eval_rows": len(evals),
        "max_length": max_length,
        "token_lengths": {"train": length_stats(train), "eval": length_stats(evals)},
    }
    prepared = PreparedData(train=train, eval=evals, report=report)
    report["fingerprint"] = prepared.fingerprint
    return prepared


def split_examples(
    examples: list[Example], eval_size: int | float, seed: int, source: str = "data"
) -> tuple[list[Example], list[Example]]:
    """A seeded train/eval split; ``eval_size`` is a row count or a fraction in (0, 1).

    Both parts keep source order; both must be non-empty.
    """
    n = len(examples)
    if n == 0:
        raise DataError(f"{source}: no valid rows to train on; check data.path and data.format")
    n_eval = eval_size if isinstance(eval_size, int) else max(1, round(n * eval_size))
    if n_eval >= n:
        raise DataError(
            f"{source}: data.eval_size {eval_size} leaves no training rows out of "
            f"{n} valid rows; lower data.eval_size or add rows"
        )
    held_out = set(random.Random(seed).sample(range(n), n_eval))
    train = [e for i, e in enumerate(examples) if i not in held_out]
    evals = [e for i, e in enumerate(examples) if i in held_out]
    return train, evals


def length_stats(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Token length min/mean/p50/p95/max of ``rows`` (nearest-rank percentiles)."""
    lengths = sorted(len(r["input_ids"]) for r in rows)
    if not lengths:
        return {"min": 0, "mean": 0.0, "p50": 0, "p95": 0, "max": 0}

    def rank(p: float) -> int:
        return lengths[max(0, math.ceil(p * len(lengths)) - 1)]

    return {
        "min": lengths[0],
        "mean": round(sum(lengths) / len(lengths), 2),
        "p50": rank(0.5),
        "p95": rank(0.95),
        "max": lengths[-1],
    }


def save_prepared(prepared: PreparedData, folder: str | Path) -> Path:
    """Write ``train.jsonl``, ``eval.jsonl`` and ``report.json`` (with the fingerprint)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    report = {**prepared.report, "fingerprint": prepared.fingerprint}
    write_atomic(folder / TRAIN_ROWS_FILE, "".join(_json_line(r) for r in prepared.train).encode())
    write_atomic(folder / EVAL_ROWS_FILE, "".join(_json_line(r) for r in prepared.eval).encode())
    write_atomic(
        folder / DATA_REPORT_FILE, (json.dumps(report, indent=2, sort_keys=True) + "\n").encode()
    )
    return folder


def load_prepared(folder: str | Path) -> PreparedData:
    """Read what :func:`save_prepared` wrote; a damaged or edited copy raises DataError."""
    folder = Path(folder)
    missing = [
        n for n in (TRAIN_ROWS_FILE, EVAL_ROWS_FILE, DATA_REPORT_FILE) if not (folder / n).is_file()
    ]
    if missing:
        raise DataError(
            f"{folder} is not a prepared-data folder (missing {', '.join(missing)}); "
            "write it with save_prepared or run preprocessing again"
        )
    try:
        report = json.loads((folder / DATA_REPORT_FILE).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(
            f"{folder / DATA_REPORT_FILE} is not valid JSON ({exc.msg}); run preprocessing again"
        ) from None
    prepared = PreparedData(
        train=_read_jsonl(folder / TRAIN_ROWS_FILE),
        eval=_read_jsonl(folder / EVAL_ROWS_FILE),
        report=report,
    )
    expected = report.get("fingerprint")
    if expected is not None and expected != prepared.fingerprint:
        raise DataError(
            f"{folder}: rows do not match the fingerprint in {DATA_REPORT_FILE} (the "
            "files were changed or mixed from two runs); run preprocessing again"
        )
    return prepared


def _train_row(example: Example, tokenizer: Any) -> dict[str, Any]:
    input_ids, completion_mask = tokenize_conversation(example.messages, tokenizer)
    return {"input_ids": input_ids, "completion_mask": completion_mask}


def _eval_row(example: Example, tokenizer: Any) -> dict[str, Any]:
    row = _train_row(example, tokenizer)
    row["prompt_ids"] = prompt_ids(example.messages[:-1], tokenizer)
    row["reference"] = example.messages[-1]["content"]
    return row


def _count_long(rows: list[dict[str, Any]], max_length: int) -> int:
    return sum(len(r["input_ids"]) > max_length for r in rows)


def _json_line(row: dict[str, Any]) -> str:
    return json.dumps(row, sort_keys=True, ensure_ascii=False, separators=(",", ":")) + "\n"


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise DataError(
                    f"{path} line {number} is not valid JSON ({exc.msg}); run preprocessing again"
                ) from None
    return rows
