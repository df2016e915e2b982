"""Check rows and normalise each to one chat conversation (a list of role/content messages).

Accepted row forms:

- ``messages``: a list of ``{"role", "content"}`` with roles system/user/assistant, a
  non-empty string content each, ending with an assistant message;
- ``prompt``/``completion``: two strings, or (conversational) a list of messages and a list
  holding exactly one assistant message.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from qtrain.data.formats import SourceRow
from qtrain.errors import DataError

Message = dict[str, str]
RowForm = Literal["messages", "prompt_completion"]
ROLES = ("system", "user", "assistant")
#: How many bad rows a ``fail`` error message lists before "... and N more".
_LISTED_PROBLEMS = 5


@dataclass(frozen=True)
class Example:
    """A valid row: its 1-based source row number, its form, and its conversation."""

    row: int
    form: RowForm
    messages: list[Message]


@dataclass
class ValidationResult:
    """The valid examples, in source order, and what was dropped (reason -> row count)."""

    examples: list[Example]
    dropped: Counter[str] = field(default_factory=Counter)
    forms: Counter[str] = field(default_factory=Counter)

    @property
    def rows_read(self) -> int:
        """Rows seen in the source, valid or not."""
        return len(self.examples) + sum(self.dropped.values())


class _BadRow(Exception):
    """Why one row is rejected: a short reason key (counted) and a human detail."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def validate_rows(
    rows: Sequence[SourceRow],
    *,
    source: str,
    data_format: Literal["auto", "messages", "prompt_completion"] = "auto",
    bad_rows: Literal["fail", "skip"] = "fail",
    system_prompt: str | None = None,
) -> ValidationResult:
    """Normalise ``rows`` to conversations; apply the ``bad_rows`` policy to invalid ones.

    ``data_format`` forces one row form (``auto`` detects it per row, so a file may mix
    them). ``system_prompt`` is prepended to conversations that have no system message.
    With ``bad_rows="fail"`` any invalid row raises :class:`DataError` naming the first few;
    with ``"skip"`` they are dropped and counted by reason.
    """
    result = ValidationResult(examples=[])
    problems: list[tuple[int, _BadRow]] = []
    for source_row in rows:
        try:
            form, messages = _normalise(source_row, data_format)
        except _BadRow as bad:
            problems.append((source_row.row, bad))
            result.dropped[bad.reason] += 1
            continue
        if system_prompt and not any(m["role"] == "system" for m in messages):
            messages.insert(0, {"role": "system", "content": system_prompt})
        result.examples.append(Example(source_row.row, form, messages))
        result.forms[form] += 1
    if problems and bad_rows == "fail":
        raise DataError(_failure_message(source, problems))
    return result


def _failure_message(source: str, problems: list[tuple[int, _BadRow]]) -> str:
    listed = "; ".join(f"row {row}: {bad.detail}" for row, bad in problems[:_LISTED_PROBLEMS])
    more = len(problems) - _LISTED_PROBLEMS
    if more > 0:
        listed += f" … and {more} more"
    noun = "row" if len(problems) == 1 else "rows"
    return (
        f"{source}: {len(problems)} invalid {noun} ({listed}); fix them or set "
        "data.bad_rows: skip to drop them"
    )


def _normalise(source_row: SourceRow, data_format: str) -> tuple[RowForm, list[Message]]:
    if source_row.error is not None:
        raise _BadRow("unreadable", _clean(source_row.error))
    record = source_row.record or {}
    form = _detect_form(record)
    if data_format != "auto" and form is not None and form != data_format:
        raise _BadRow("wrong_form", f"is a {form} row but data.format is {data_format}")
    if form is None:
        expected = {
            "auto": "'messages' or 'prompt' and 'completion'",
            "messages": "'messages'",
            "prompt_completion": "'prompt' and 'completion'",
        }[data_format]
        keys = ", ".join(sorted(map(str, record))) or "none"
        raise _BadRow("unknown_form", f"needs {expected} (has keys: {_clean(keys)})")
    if form == "messages":
        messages = _check_messages(record["messages"], "messages")
    else:
        messages = _prompt_completion_messages(record["prompt"], record["completion"])
    _check_conversation(messages)
    return form, messages


def _detect_form(record: dict[str, Any]) -> RowForm | None:
    # A null value is an absent one (``"prompt": null`` beside ``messages`` is fine).
    present = {key for key in ("messages", "prompt", "completion") if record.get(key) is not None}
    if "messages" in present and present & {"prompt", "completion"}:
        raise _BadRow(
            "ambiguous_form", "has both 'messages' and 'prompt'/'completion'; keep one form per row"
        )
    if "messages" in present:
        return "messages"
    if {"prompt", "completion"} <= present:
        return "prompt_completion"
    return None


def _prompt_completion_messages(prompt: Any, completion: Any) -> list[Message]:
    if isinstance(prompt, str) and isinstance(completion, str):
        return [_message("user", prompt, "prompt"), _message("assistant", completion, "completion")]
    if isinstance(prompt, list) and isinstance(completion, list):
        prompt_messages = _check_messages(prompt, "prompt")
        completion_messages = _check_messages(completion, "completion")
        if len(completion_messages) != 1 or completion_messages[0]["role"] != "assistant":
            raise _BadRow(
                "bad_completion",
                "a conversational completion must be a list holding exactly one assistant message",
            )
        return prompt_messages + completion_messages
    raise _BadRow(
        "bad_prompt_completion",
        "prompt and completion must both be strings or "
        f"both lists of messages (got {type(prompt).__name__} and "
        f"{type(completion).__name__})",
    )


def _check_messages(value: Any, column: str) -> list[Message]:
    if not isinstance(value, list) or not value:
        raise _BadRow(
            "bad_messages", f"'{column}' must be a non-empty list of {{role, content}} objects"
        )
    messages = []
    for index, item in enumerate(value):
        where = f"{column}[{index}]"
        if not isinstance(item, dict) or "role" not in item or "content" not in item:
            raise _BadRow("bad_message", f"{where} must be an object with 'role' and 'content'")
        messages.append(_message(item["role"], item["content"], where))
    return messages


def _message(role: Any, content: Any, where: str) -> Message:
    if role not in ROLES:
        raise _BadRow(
            "bad_role", f"{where} has role {_clean(repr(role))}; use one of {', '.join(ROLES)}"
        )
    if not isinstance(content, str) or not content.strip():
        raise _BadRow("empty_content", f"{where} content must be a non-empty string")
    return {"role": role, "content": content}


def _check_conversation(messages: list[Message]) -> None:
    if not any(m["role"] == "assistant" for m in messages):
        raise _BadRow("no_assistant", "has no assistant message to train on")
    if messages[-1]["role"] != "assistant":
        raise _BadRow(
            "not_ending_with_assistant",
            f"must end with an assistant message (ends with {messages[-1]['role']})",
        )


def _clean(text: str, limit: int = 120) -> str:
    """One line, bounded: details are embedded in a single-line error message."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
