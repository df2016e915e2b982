"""Fixtures for the data tests: the shipped tiny phi-4 tokenizer."""

from __future__ import annotations

from typing import Any

import pytest

from qtrain.assets_path import BUILTIN_MODELS


@pytest.fixture(scope="session")
def tokenizer() -> Any:
    """The tokenizer of the shipped tiny model (byte-level BPE with phi-4's chat tokens)."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(BUILTIN_MODELS["tiny-phi4"], local_files_only=True)
