"""Training data: read files, validate rows, format phi-4 chats, tokenise and split."""

from qtrain.data.chat import (
    GENERATION_PROMPT,
    check_chat_tokens,
    prompt_ids,
    render_conversation,
    tokenize_conversation,
)
from qtrain.data.formats import SUPPORTED_FORMATS, SourceRow, load_records, resolve_data_path
from qtrain.data.preprocess import (
    PreparedData,
    length_stats,
    load_prepared,
    prepare_dataset,
    save_prepared,
    split_examples,
    validate_data,
)
from qtrain.data.validation import Example, ValidationResult, validate_rows

__all__ = [
    "GENERATION_PROMPT",
    "SUPPORTED_FORMATS",
    "Example",
    "PreparedData",
    "SourceRow",
    "ValidationResult",
    "check_chat_tokens",
    "length_stats",
    "load_prepared",
    "load_records",
    "prepare_dataset",
    "prompt_ids",
    "render_conversation",
    "resolve_data_path",
    "save_prepared",
    "split_examples",
    "tokenize_conversation",
    "validate_data",
    "validate_rows",
]
