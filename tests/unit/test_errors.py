"""``qtrain.errors.one_line``: every mode its callers use."""

from __future__ import annotations

import pytest

from qtrain.errors import DataError, one_line

MULTI = "\n  first line  \nsecond line\n"
LONG = "x" * 600


def test_default_is_type_and_first_line_within_500() -> None:
    assert one_line(ValueError("bad value\nmore detail")) == "ValueError: bad value"
    assert one_line(DataError(MULTI)) == "DataError: first line"
    assert one_line(ValueError(LONG)) == "ValueError: " + "x" * 488


def test_an_empty_message_reads_as_the_type() -> None:
    assert one_line(KeyError()) == "KeyError"
    assert one_line(RuntimeError(" \n ")) == "RuntimeError"
    assert one_line(KeyError(), with_type=False) == "KeyError"
    assert one_line("", with_type=False) == ""
    assert one_line(" \n ") == ""


def test_without_type_and_for_text() -> None:
    assert one_line(OSError(MULTI), with_type=False) == "first line"
    assert one_line(MULTI) == "first line"  # a str never gets a type prefix


def test_collapse_joins_every_line() -> None:
    assert one_line(MULTI, collapse=True) == "first line second line"
    assert one_line(ValueError(MULTI), collapse=True) == "ValueError: first line second line"


@pytest.mark.parametrize(
    ("limit", "ellipsis", "expected"),
    [
        (None, False, "abcdefghij"),
        (10, False, "abcdefghij"),
        (10, True, "abcdefghij"),
        (6, False, "abcdef"),
        (6, True, "abc..."),
        (2, True, "ab"),  # no room for "...": cut
    ],
)
def test_limit_cuts_with_or_without_ellipsis(
    limit: int | None, ellipsis: bool, expected: str
) -> None:
    assert one_line("abcdefghij", limit, ellipsis=ellipsis) == expected


def test_limit_counts_the_type_prefix() -> None:
    assert one_line(ValueError("abcdef"), 10) == "ValueError"
    assert one_line(ValueError("abcdef"), 15, ellipsis=True) == "ValueError: ..."


def test_scrub_removes_credentials_before_cutting() -> None:
    text = "GET https://a.blob.core.windows.net/c/b?sv=2024&sig=S1g%3D failed\nAccountKey=K3y=="
    assert one_line(text, scrub=True) == "GET https://a.blob.core.windows.net/c/b?*** failed"
    assert one_line(text) == text.splitlines()[0]  # no scrubbing unless asked
    collapsed = one_line(RuntimeError(text), scrub=True, collapse=True)
    assert (
        collapsed
        == "RuntimeError: GET https://a.blob.core.windows.net/c/b?*** failed AccountKey=***"
    )
    # the secret is replaced before the cut, so no prefix of it survives the limit
    assert one_line("token my-api-key here", 12, secrets=["my-api-key"]) == "token *** he"


def test_secrets_imply_scrub_and_none_is_ignored() -> None:
    clean = one_line("key my-api-key; Bearer eyJ0eXAi.x.y", secrets=[None, "my-api-key"])
    assert clean == "key ***; Bearer ***"


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        # composites' fallback reason: type + first line of the scrubbed message, no limit
        (lambda e: one_line(e, None, scrub=True), "RuntimeError: GET http://h/c?*** failed"),
        # data formats: no type, collapsed, 200
        (
            lambda e: one_line(e, 200, with_type=False, collapse=True),
            "GET http://h/c?sig=abc failed AccountKey=c2VjcmV0 " + "y" * 150,
        ),
        # KFP client: collapsed, cut with "..." (it uses 300 and 120)
        (
            lambda e: one_line(str(e), 40, collapse=True, ellipsis=True),
            "GET http://h/c?sig=abc failed Account...",
        ),
        # Azure Quantum sampler: scrubbed with its secrets, first line, 400
        (lambda e: one_line(str(e), 400, secrets=["abc"]), "GET http://h/c?*** failed"),
    ],
)
def test_the_modes_former_helpers_used(call, expected: str) -> None:
    error = RuntimeError("\nGET http://h/c?sig=abc failed\nAccountKey=c2VjcmV0 " + "y" * 300)
    assert call(error) == expected
