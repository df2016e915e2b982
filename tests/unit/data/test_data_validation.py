import pytest

from qtrain.data import SourceRow, validate_rows
from qtrain.errors import DataError


def chat_row(prompt: str, reply: str) -> dict:
    """A valid ``messages`` row."""
    return {
        "messages": [{"role": "user", "content": prompt}, {"role": "assistant", "content": reply}]
    }


def rows(*records: dict) -> list[SourceRow]:
    return [SourceRow(i, record=r) for i, r in enumerate(records, start=1)]


def msg(role: str, content: str) -> dict:
    return {"role": role, "content": content}


def test_both_forms_normalise_to_messages() -> None:
    result = validate_rows(
        rows(
            chat_row("a", "b"),
            {"prompt": "c", "completion": "d", "id": 7},
            {
                "prompt": [msg("system", "s"), msg("user", "e")],
                "completion": [msg("assistant", "f")],
            },
        ),
        source="d.jsonl",
    )
    assert [e.messages for e in result.examples] == [
        [msg("user", "a"), msg("assistant", "b")],
        [msg("user", "c"), msg("assistant", "d")],
        [msg("system", "s"), msg("user", "e"), msg("assistant", "f")],
    ]
    assert [e.form for e in result.examples] == [
        "messages",
        "prompt_completion",
        "prompt_completion",
    ]
    assert result.forms == {"messages": 1, "prompt_completion": 2}
    assert result.rows_read == 3 and not result.dropped


def test_null_fields_count_as_absent() -> None:
    record = {**chat_row("a", "b"), "prompt": None, "completion": None}
    assert validate_rows(rows(record), source="d").forms == {"messages": 1}


def test_extra_message_keys_are_dropped() -> None:
    record = {"messages": [{"role": "user", "content": "a", "name": "x"}, msg("assistant", "b")]}
    assert validate_rows(rows(record), source="d").examples[0].messages[0] == msg("user", "a")


def test_system_prompt_added_only_when_missing() -> None:
    with_system = {"messages": [msg("system", "mine"), msg("user", "a"), msg("assistant", "b")]}
    result = validate_rows(
        rows(chat_row("a", "b"), with_system), source="d", system_prompt="Be brief."
    )
    assert result.examples[0].messages[0] == msg("system", "Be brief.")
    assert result.examples[1].messages[0] == msg("system", "mine")
    assert len(result.examples[1].messages) == 3


BAD = [
    ({"messages": [msg("user", "a")]}, "no_assistant"),
    (
        {"messages": [msg("user", "a"), msg("assistant", "b"), msg("user", "c")]},
        "not_ending_with_assistant",
    ),
    ({"messages": [msg("robot", "a"), msg("assistant", "b")]}, "bad_role"),
    ({"messages": [msg("user", "a"), msg("assistant", "  ")]}, "empty_content"),
    ({"messages": [msg("user", "a"), msg("assistant", 3)]}, "empty_content"),
    ({"messages": [{"role": "user"}, msg("assistant", "b")]}, "bad_message"),
    ({"messages": []}, "bad_messages"),
    ({"messages": "hello"}, "bad_messages"),
    ({"text": "a"}, "unknown_form"),
    ({"prompt": "a"}, "unknown_form"),
    ({"prompt": "a", "completion": ""}, "empty_content"),
    ({"prompt": "a", "completion": [msg("assistant", "b")]}, "bad_prompt_completion"),
    ({"prompt": [msg("user", "a")], "completion": [msg("user", "b")]}, "bad_completion"),
    (
        {
            "prompt": [msg("user", "a")],
            "completion": [msg("assistant", "b"), msg("assistant", "c")],
        },
        "bad_completion",
    ),
    ({"messages": [msg("user", "a"), msg("assistant", "b")], "prompt": "a"}, "ambiguous_form"),
]


@pytest.mark.parametrize(("record", "reason"), BAD, ids=[r for _, r in BAD])
def test_bad_row_reasons(record: dict, reason: str) -> None:
    result = validate_rows(rows(record), source="d", bad_rows="skip")
    assert result.examples == [] and result.dropped == {reason: 1}


def test_unreadable_row_counts_as_bad() -> None:
    result = validate_rows([SourceRow(4, error="invalid JSON (x)")], source="d", bad_rows="skip")
    assert result.dropped == {"unreadable": 1}


def test_fail_policy_lists_first_rows_on_one_line() -> None:
    records = [chat_row("ok", "fine")] + [{"messages": [msg("user", "a")]}] * 8
    with pytest.raises(DataError) as info:
        validate_rows(rows(*records), source="data/train.jsonl")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("data/train.jsonl: 8 invalid rows (row 2: has no assistant")
    assert "row 6:" in message and "row 7:" not in message
    assert "… and 3 more" in message
    assert "data.bad_rows: skip" in message


def test_fail_policy_single_row() -> None:
    with pytest.raises(DataError, match=r"^d: 1 invalid row \(row 1: 'messages' must be"):
        validate_rows(rows({"messages": []}), source="d")


def test_skip_policy_counts_and_keeps_good_rows() -> None:
    records = [
        chat_row("a", "b"),
        {"prompt": "x"},
        {"messages": [msg("user", "a")]},
        {"prompt": "c", "completion": "d"},
        {"foo": 1},
    ]
    result = validate_rows(rows(*records), source="d", bad_rows="skip")
    assert [e.row for e in result.examples] == [1, 4]
    assert result.dropped == {"unknown_form": 2, "no_assistant": 1}
    assert result.rows_read == 5


def test_forced_format_rejects_the_other_form() -> None:
    records = rows(chat_row("a", "b"), {"prompt": "c", "completion": "d"})
    result = validate_rows(records, source="d", data_format="messages", bad_rows="skip")
    assert [e.row for e in result.examples] == [1]
    assert result.dropped == {"wrong_form": 1}
    with pytest.raises(
        DataError,
        match=r"row 1: is a messages row but data\.format is "
        "prompt_completion",
    ):
        validate_rows(records, source="d", data_format="prompt_completion")
