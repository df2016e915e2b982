from typing import Any

import pytest

from qtrain.data import GENERATION_PROMPT, prompt_ids, render_conversation, tokenize_conversation
from qtrain.data.chat import IM_END, check_chat_tokens
from qtrain.errors import ModelLoadError

CONVERSATION = [
    {"role": "system", "content": "You reverse strings."},
    {"role": "user", "content": "reverse: abc"},
    {"role": "assistant", "content": "cba"},
    {"role": "user", "content": "reverse: hello world"},
    {"role": "assistant", "content": "dlrow olleh"},
]


def decode(tokenizer: Any, ids: list[int]) -> str:
    return tokenizer.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)


def test_ids_equal_tokenizing_the_rendered_text(tokenizer: Any) -> None:
    ids, mask = tokenize_conversation(CONVERSATION, tokenizer)
    whole = tokenizer(render_conversation(CONVERSATION), add_special_tokens=False)["input_ids"]
    assert ids == whole
    assert len(mask) == len(ids)


def test_ids_decode_to_the_tokenizers_chat_template(tokenizer: Any) -> None:
    assert tokenizer.chat_template, "the shipped tokenizer carries phi-4's chat template"
    ids, _ = tokenize_conversation(CONVERSATION, tokenizer)
    rendered = tokenizer.apply_chat_template(CONVERSATION, tokenize=False)
    assert decode(tokenizer, ids) == rendered == render_conversation(CONVERSATION)
    with_prompt = tokenizer.apply_chat_template(
        CONVERSATION[:-1], tokenize=False, add_generation_prompt=True
    )
    assert decode(tokenizer, prompt_ids(CONVERSATION[:-1], tokenizer)) == with_prompt


def test_mask_covers_assistant_content_and_its_end_token(tokenizer: Any) -> None:
    ids, mask = tokenize_conversation(CONVERSATION, tokenizer)
    assert set(mask) == {0, 1}
    # Split the masked ids into contiguous spans: one per assistant message.
    spans, current = [], []
    for token, flag in zip(ids, mask, strict=True):
        if flag:
            current.append(token)
        elif current:
            spans.append(current)
            current = []
    if current:
        spans.append(current)
    assert [decode(tokenizer, s) for s in spans] == [f"cba{IM_END}", f"dlrow olleh{IM_END}"]
    unmasked = decode(tokenizer, [t for t, f in zip(ids, mask, strict=True) if not f])
    assert unmasked == render_conversation(CONVERSATION).replace(f"cba{IM_END}", "").replace(
        f"dlrow olleh{IM_END}", ""
    )
    assert mask[-1] == 1 and ids[-1] == tokenizer.convert_tokens_to_ids(IM_END)


def test_prompt_ids_end_with_generation_prompt_and_prefix_the_conversation(
    tokenizer: Any,
) -> None:
    prompt = prompt_ids(CONVERSATION[:-1], tokenizer)
    generation = tokenizer(GENERATION_PROMPT, add_special_tokens=False)["input_ids"]
    assert prompt[-len(generation) :] == generation
    ids, mask = tokenize_conversation(CONVERSATION, tokenizer)
    # The prompt is exactly the conversation up to the final reply, which is all trained.
    assert ids[: len(prompt)] == prompt
    assert mask[len(prompt) - 1] == 0 and all(mask[len(prompt) :])


def test_user_and_system_rows_are_never_trained(tokenizer: Any) -> None:
    _, mask = tokenize_conversation([*CONVERSATION[:2], CONVERSATION[2]], tokenizer)
    header_and_prompt = prompt_ids(CONVERSATION[:2], tokenizer)
    assert mask[: len(header_and_prompt)] == [0] * len(header_and_prompt)


def test_chat_tokens_are_single_tokens(tokenizer: Any) -> None:
    check_chat_tokens(tokenizer)


class _CharTokenizer:
    name_or_path = "chars"

    def __call__(self, texts: list[str], add_special_tokens: bool) -> dict:
        return {"input_ids": [[ord(c) for c in t] for t in texts]}


def test_tokenizer_without_chat_tokens_is_refused() -> None:
    with pytest.raises(
        ModelLoadError,
        match=r"tokenizer chars has no single token for "
        r"<\|im_start\|>, <\|im_sep\|>, <\|im_end\|>",
    ):
        check_chat_tokens(_CharTokenizer())
