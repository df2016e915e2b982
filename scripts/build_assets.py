"""Build qtrain's offline test assets: a tiny phi-4-style model and the reversal dataset.

Writes, deterministically (fixed seeds, one torch thread):

* ``src/qtrain/assets/tiny-phi4/``: a ~0.6M-parameter ``Phi3ForCausalLM`` with phi-4's
  architecture family, special-token layout and chat format, plus a byte-level tokenizer
  (every byte is one token, no merges). It is briefly pretrained (~1.5 min on one CPU thread) on
  two string chat tasks, copy and sort, with the loss on the assistant turn only. String
  *reversal* is deliberately left out: it is the held-out skill a LoRA adapter must learn on
  top (see ``scripts/check_lora_learns.py``).
* ``src/qtrain/assets/data/reverse.jsonl``: the reversal task in chat form, one
  ``{"messages": [...]}`` object per line.

Usage::

    python scripts/build_assets.py [--out-model DIR] [--out-data DIR] [--pretrain-steps N]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import string
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from tokenizers.pre_tokenizers import ByteLevel
from transformers import GenerationConfig, Phi3Config, Phi3ForCausalLM, PreTrainedTokenizerFast

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODEL_DIR = REPO_ROOT / "src" / "qtrain" / "assets" / "tiny-phi4"
DEFAULT_DATA_DIR = REPO_ROOT / "src" / "qtrain" / "assets" / "data"

SEED = 1234
DATA_SEED = 4321
LETTERS = string.ascii_lowercase

# --- phi-4 chat format ---------------------------------------------------------------------------

ENDOFTEXT = "<|endoftext|>"
IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
IM_SEP = "<|im_sep|>"
PAD = "<|dummy_85|>"

#: phi-4's chat template, with the assistant reply wrapped in ``{% generation %}`` markers so
#: ``apply_chat_template(..., return_assistant_tokens_mask=True)`` can mark the trained tokens.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if (message['role'] == 'system') %}"
    "{{'<|im_start|>system<|im_sep|>' + message['content'] + '<|im_end|>'}}"
    "{% elif (message['role'] == 'user') %}"
    "{{'<|im_start|>user<|im_sep|>' + message['content'] + '<|im_end|>'}}"
    "{% elif (message['role'] == 'assistant') %}"
    "{{'<|im_start|>assistant<|im_sep|>'}}"
    "{% generation %}{{message['content'] + '<|im_end|>'}}{% endgeneration %}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant<|im_sep|>' }}{% endif %}"
)

# --- architecture --------------------------------------------------------------------------------

HIDDEN_SIZE = 128
NUM_LAYERS = 2
NUM_HEADS = 4
NUM_KV_HEADS = 1
INTERMEDIATE_SIZE = 512
ROPE_THETA = 250_000.0
MAX_POSITIONS = 512


def phi4_special_tokens() -> list[str]:
    """Return phi-4's 96 special tokens in id order (phi-4 ids 100256..100351).

    Placed right after the 256 byte tokens, each keeps its phi-4 id minus 100000, so e.g.
    ``<|im_start|>`` is 264 here (100264 in phi-4) and ``<|dummy_85|>`` is 349 (100349).
    """
    tokens = [
        "<|dummy_0|>",
        ENDOFTEXT,
        "<|fim_prefix|>",
        "<|fim_middle|>",
        "<|fim_suffix|>",
        "<|dummy_1|>",
        "<|dummy_2|>",
        "<|dummy_3|>",
        IM_START,
        IM_END,
        IM_SEP,
    ]
    tokens += [f"<|dummy_{i}|>" for i in range(4, 13)]
    tokens.append("<|endofprompt|>")
    tokens += [f"<|dummy_{i}|>" for i in range(13, 88)]
    return tokens


def build_tokenizer() -> PreTrainedTokenizerFast:
    """Build a byte-level BPE tokenizer: 256 byte tokens (id == byte value), no merges."""
    byte_chars = ByteLevel.alphabet()
    byte_to_char = _bytes_to_unicode()
    vocab = {byte_to_char[b]: b for b in range(256)}
    assert set(vocab) == set(byte_chars)
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    backend.decoder = decoders.ByteLevel()
    specials = phi4_special_tokens()
    backend.add_special_tokens(specials)
    for offset, token in enumerate(specials):
        assert backend.token_to_id(token) == 256 + offset, token

    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        eos_token=IM_END,
        pad_token=PAD,
        unk_token=None,
        bos_token=None,
        model_max_length=MAX_POSITIONS,
        padding_side="right",
        clean_up_tokenization_spaces=False,
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte -> printable-unicode map, the one ``ByteLevel`` pre-tokenization uses."""
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    codes = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            codes.append(256 + extra)
            extra += 1
    return {b: chr(c) for b, c in zip(printable, codes, strict=True)}


def build_config(tokenizer: PreTrainedTokenizerFast) -> Phi3Config:
    """A tiny phi-4-shaped ``Phi3Config`` (GQA, SiLU MLP, RoPE theta 250k, untied head)."""
    return Phi3Config(
        vocab_size=len(tokenizer),
        hidden_size=HIDDEN_SIZE,
        intermediate_size=INTERMEDIATE_SIZE,
        num_hidden_layers=NUM_LAYERS,
        num_attention_heads=NUM_HEADS,
        num_key_value_heads=NUM_KV_HEADS,
        hidden_act="silu",
        max_position_embeddings=MAX_POSITIONS,
        original_max_position_embeddings=MAX_POSITIONS,
        rope_parameters={"rope_type": "default", "rope_theta": ROPE_THETA},
        rms_norm_eps=1e-5,
        initializer_range=0.02,
        tie_word_embeddings=False,
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        sliding_window=None,
        use_cache=True,
        architectures=["Phi3ForCausalLM"],
    )


# --- pretraining tasks (reversal is held out) ----------------------------------------------------

Task = Callable[[random.Random], tuple[str, str]]


def _word(rng: random.Random, lo: int = 1, hi: int = 10) -> str:
    """A random lowercase string of ``lo``..``hi`` letters (repeats allowed)."""
    return "".join(rng.choice(LETTERS) for _ in range(rng.randint(lo, hi)))


def task_copy(rng: random.Random) -> tuple[str, str]:
    """``copy: abc`` -> ``abc``."""
    w = _word(rng)
    return f"copy: {w}", w


def task_sort(rng: random.Random) -> tuple[str, str]:
    """``sort: dbca`` -> ``abcd``."""
    w = _word(rng)
    return f"sort: {w}", "".join(sorted(w))


#: Pretraining mix. Copy builds induction-style lookup, sort builds content-based search; both
#: are what a LoRA adapter re-wires into reversal. (Adding arithmetic or more string tasks made
#: the 2-layer model learn every task worse within the CPU budget, and hurt the LoRA check.)
TASKS: dict[str, Task] = {"copy": task_copy, "sort": task_sort}


# --- encoding + pretraining ----------------------------------------------------------------------


def encode_chat(
    tokenizer: PreTrainedTokenizerFast, prompt: str, answer: str
) -> tuple[list[int], list[int]]:
    """Token ids of one user/assistant exchange and labels masked to the assistant reply.

    Equivalent to ``apply_chat_template`` with the assistant mask (checked in
    :func:`check_assets`), but without rendering Jinja for every example.
    """
    head = tokenizer.encode(f"{IM_START}user{IM_SEP}{prompt}{IM_END}{IM_START}assistant{IM_SEP}")
    tail = tokenizer.encode(f"{answer}{IM_END}")
    return head + tail, [-100] * len(head) + tail


def batches(
    tokenizer: PreTrainedTokenizerFast, rng: random.Random, batch_size: int, tasks: list[Task]
) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Endless right-padded batches of random pretraining tasks."""
    pad_id = tokenizer.pad_token_id
    while True:
        rows = [encode_chat(tokenizer, *rng.choice(tasks)(rng)) for _ in range(batch_size)]
        width = max(len(ids) for ids, _ in rows)
        input_ids = torch.full((batch_size, width), pad_id, dtype=torch.long)
        labels = torch.full((batch_size, width), -100, dtype=torch.long)
        attention = torch.zeros((batch_size, width), dtype=torch.long)
        for i, (ids, lab) in enumerate(rows):
            input_ids[i, : len(ids)] = torch.tensor(ids)
            labels[i, : len(lab)] = torch.tensor(lab)
            attention[i, : len(ids)] = 1
        yield input_ids, labels, attention


def pretrain(
    model: Phi3ForCausalLM,
    tokenizer: PreTrainedTokenizerFast,
    steps: int,
    batch_size: int = 32,
    lr: float = 3e-3,
    warmup: int = 50,
) -> None:
    """Plain AdamW loop with linear warmup and cosine decay; loss on assistant tokens only."""
    rng = random.Random(SEED)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01, betas=(0.9, 0.98))

    def schedule(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, steps - warmup)
        return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule)
    model.train()
    start = time.perf_counter()
    data = batches(tokenizer, rng, batch_size, list(TASKS.values()))
    for step in range(steps):
        input_ids, labels, attention = next(data)
        loss = model(input_ids=input_ids, attention_mask=attention, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        if step % 100 == 0 or step == steps - 1:
            elapsed = time.perf_counter() - start
            print(f"step {step:4d}  loss {loss.item():.4f}  {elapsed:6.1f}s", flush=True)
    model.eval()


# --- held-out task -------------------------------------------------------------------------------


def task_reverse(rng: random.Random) -> tuple[str, str]:
    """``reverse: abc`` -> ``cba`` (never used in pretraining)."""
    w = reverse_word(rng)
    return f"reverse: {w}", w[::-1]


def reverse_word(rng: random.Random) -> str:
    """A reversal-task string: 3-8 lowercase letters."""
    return "".join(rng.choice(LETTERS) for _ in range(rng.randint(3, 8)))


def shift_word(word: str) -> str:
    """Every letter one place on in the alphabet (``z`` -> ``a``)."""
    return "".join(LETTERS[(LETTERS.index(c) + 1) % len(LETTERS)] for c in word)


def task_shift(rng: random.Random) -> tuple[str, str]:
    """``shift: abz`` -> ``bca``: a per-letter substitution (never used in pretraining),
    where reversal is a rearrangement."""
    w = reverse_word(rng)
    return f"shift: {w}", shift_word(w)


# --- evaluation helpers --------------------------------------------------------------------------


@torch.no_grad()
def greedy_answer(
    model: Phi3ForCausalLM, tokenizer: PreTrainedTokenizerFast, prompts: list[str]
) -> list[str]:
    """Greedy replies to single-turn user prompts (left-padded batch, stops at ``<|im_end|>``)."""
    chats = [[{"role": "user", "content": p}] for p in prompts]
    texts = [
        tokenizer.apply_chat_template(c, tokenize=False, add_generation_prompt=True) for c in chats
    ]
    enc = tokenizer(texts, return_tensors="pt", padding=True, padding_side="left")
    out = model.generate(
        **enc,
        max_new_tokens=16,
        do_sample=False,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    return tokenizer.batch_decode(out[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)


def report_task_accuracy(model: Phi3ForCausalLM, tokenizer: PreTrainedTokenizerFast) -> None:
    """Print greedy exact match per pretraining task (and for held-out reversal)."""
    rng = random.Random(SEED + 1)
    tasks: dict[str, Task] = {
        **TASKS,
        "reverse(held out)": task_reverse,
        "shift(held out)": task_shift,
    }
    for name, task in tasks.items():
        pairs = [task(rng) for _ in range(64)]
        replies = greedy_answer(model, tokenizer, [p for p, _ in pairs])
        em = sum(r == a for r, (_, a) in zip(replies, pairs, strict=True)) / len(pairs)
        print(f"  {name:18s} EM {em:.2f}")


# --- outputs -------------------------------------------------------------------------------------


def write_task_dataset(path: Path, task: Task, rows: int = 2000) -> None:
    """Write a held-out task as chat-format JSONL, seeded, with no duplicate prompts."""
    rng = random.Random(DATA_SEED)
    seen: set[str] = set()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        while len(seen) < rows:
            prompt, answer = task(rng)
            if prompt in seen:
                continue
            seen.add(prompt)
            record = {
                "messages": [
                    {"role": "user", "content": prompt},
                    {"role": "assistant", "content": answer},
                ]
            }
            fh.write(json.dumps(record) + "\n")


def check_assets(model_dir: Path) -> None:
    """Reload the saved model/tokenizer offline and sanity-check the chat format and masks."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(model_dir, local_files_only=True)
    assert isinstance(model, Phi3ForCausalLM)
    assert tok.eos_token == IM_END and tok.pad_token == PAD and tok.pad_token_id != tok.eos_token_id
    chat = [{"role": "user", "content": "copy: abc"}, {"role": "assistant", "content": "abc"}]
    text = tok.apply_chat_template(chat, tokenize=False)
    expected = f"{IM_START}user{IM_SEP}copy: abc{IM_END}{IM_START}assistant{IM_SEP}abc{IM_END}"
    assert text == expected, text
    enc = tok.apply_chat_template(chat, return_dict=True, return_assistant_tokens_mask=True)
    ids, labels = encode_chat(tok, "copy: abc", "abc")
    assert list(enc["input_ids"]) == ids
    mask = list(enc["assistant_masks"])
    assert [t for t, m in zip(ids, mask, strict=True) if m] == [t for t in labels if t != -100]


def save_model(model: Phi3ForCausalLM, tokenizer: PreTrainedTokenizerFast, out: Path) -> None:
    """Save weights (safetensors), config, generation config and tokenizer files."""
    out.mkdir(parents=True, exist_ok=True)
    model.generation_config = GenerationConfig(
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        do_sample=False,
        max_new_tokens=32,
    )
    model.save_pretrained(out, safe_serialization=True)
    # Batch calls with padding=True leave padding enabled on the backend, and it would be
    # serialized into tokenizer.json; save a clean, deterministic tokenizer.json instead.
    tokenizer.backend_tokenizer.no_padding()
    tokenizer.backend_tokenizer.no_truncation()
    tokenizer.save_pretrained(out)


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out-model", type=Path, default=DEFAULT_MODEL_DIR)
    parser.add_argument("--out-data", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--pretrain-steps", type=int, default=600)
    parser.add_argument(
        "--eval", action="store_true", help="print greedy per-task accuracy after pretraining"
    )
    return parser.parse_args()


def main() -> None:
    """Build the tokenizer, pretrain the tiny model, save it, and write the dataset."""
    args = parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    random.seed(SEED)
    start = time.perf_counter()

    tokenizer = build_tokenizer()
    model = Phi3ForCausalLM(build_config(tokenizer))
    n_params = sum(p.numel() for p in model.parameters())
    print(f"vocab {len(tokenizer)}  params {n_params:,}")
    pretrain(model, tokenizer, steps=args.pretrain_steps)
    if args.eval:
        report_task_accuracy(model, tokenizer)
    save_model(model, tokenizer, args.out_model)
    check_assets(args.out_model)
    write_task_dataset(args.out_data / "reverse.jsonl", task_reverse)
    write_task_dataset(args.out_data / "shift.jsonl", task_shift)
    print(f"wrote {args.out_model} and {args.out_data} in {time.perf_counter() - start:.1f}s")


if __name__ == "__main__":
    main()
