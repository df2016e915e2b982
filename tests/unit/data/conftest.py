"""Fixtures for the data tests: the shipped tiny phi-4 tokenizer."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(scope="session")
def tokenizer() -> Any:
    """The tokenizer of the shipped tiny model (byte-level BPE with phi-4's chat tokens)."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained("/tmp/qtok/tiny", local_files_only=True)  # TEMP
