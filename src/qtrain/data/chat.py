"""The phi-4 chat format, and tokenising conversations with a mask over what is trained.

A message renders as ``<|im_start|>{role}<|im_sep|>{content}<|im_end|>`` with nothing in
between; a generation prompt is ``<|im_start|>assistant<|im_sep|>``. Each segment (role
header, content, ``<|im_end|>``) is tokenised on its own and the ids concatenated. Special
tokens split the text before byte-level BPE runs, so this gives the same ids as tokenising
the whole rendered string, while telling exactly which ids came from assistant content.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from qtrain.errors import ModelLoadError

IM_START = "<|im_start|>"
IM_SEP = "<|im_sep|>"
IM_END = "<|im_end|>"
CHAT_TOKENS = (IM_START, IM_SEP, IM_END)
GENERATION_PROMPT = f"{IM_START}assistant{IM_SEP}"


def role_header(role: str) -> str:
    """The text that opens a message of ``role``."""
    return f"{IM_START}{role}{IM_SEP}"


def render_conversation(
    messages: Sequence[dict[str, str]], add_generation_prompt: bool = False
) -> str:
    """The conversation as phi-4 chat text (what phi-4's chat template renders)."""
    text = "".join(f"{role_header(m['role'])}{m['content']}{IM_END}" for m in messages)
    return text + GENERATION_PROMPT if add_generation_prompt else text


def check_chat_tokens(tokenizer: Any) -> None:
    """Raise :class:`ModelLoadError` unless each phi-4 chat marker is a single token."""
    missing = [t for t in CHAT_TOKENS if len(_encode(tokenizer, [t])[0]) != 1]
    if missing:
        name = getattr(tokenizer, "name_or_path", "") or type(tokenizer).__name__
        raise ModelLoadError(
            f"tokenizer {name} has no single token for {', '.join(missing)}: "
            "qtrain formats chats the phi-4 way; use a phi-4 tokenizer"
        )


def tokenize_conversation(
    messages: Sequence[dict[str, str]], tokenizer: Any
) -> tuple[list[int], list[int]]:
    """Token ids of the whole conversation, and a mask of the ids the model learns to produce.

    The mask is 1 on every assistant content token and the ``<|im_end|>`` closing it, 0 on
    role headers and on system/user messages.
    """
    segments: list[str] = []
    trained: list[bool] = []
    for message in messages:
        is_assistant = message["role"] == "assistant"
        segments += [role_header(message["role"]), message["content"], IM_END]
        trained += [False, is_assistant, is_assistant]
    input_ids: list[int] = []
    completion_mask: list[int] = []
    for ids, is_trained in zip(_encode(tokenizer, segments), trained, strict=True):
        input_ids += ids
        completion_mask += [int(is_trained)] * len(ids)
    return input_ids, completion_mask


def prompt_ids(messages: Sequence[dict[str, str]], tokenizer: Any) -> list[int]:
    """Ids of ``messages`` (a conversation without its final assistant reply) followed by
    the generation prompt: what a model is given to generate that reply."""
    segments = [s for m in messages for s in (role_header(m["role"]), m["content"], IM_END)]
    segments.append(GENERATION_PROMPT)
    return [i for ids in _encode(tokenizer, segments) for i in ids]


def _encode(tokenizer: Any, texts: list[str]) -> list[list[int]]:
    return tokenizer(texts, add_special_tokens=False)["input_ids"]
