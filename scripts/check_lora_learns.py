"""Acceptance check: a LoRA adapter on the tiny phi-4 asset learns the held-out reversal task.

Splits ``reverse.jsonl`` (the last ``--eval-rows`` rows are held out; the file is already in
seeded random order), measures the base model's greedy exact match (EM) on the held-out
prompts, then for each learning rate trains a fresh LoRA adapter (plain torch loop, loss on the
assistant tokens only via the chat template's generation mask, one torch thread) and reports
held-out EM.

Usage::

    python scripts/check_lora_learns.py [--lr 1e-2 --lr 3e-4 ...] [--steps 300] [--min-em 0.85]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedTokenizerBase

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODEL_DIR = REPO_ROOT / "src" / "qtrain" / "assets" / "tiny-phi4"
DEFAULT_DATA = REPO_ROOT / "src" / "qtrain" / "assets" / "data" / "reverse.jsonl"
TARGET_MODULES = ["qkv_proj", "o_proj", "gate_up_proj", "down_proj"]

Example = tuple[list[int], list[int]]


def load_rows(path: Path) -> list[list[dict[str, str]]]:
    """Read the chat-format JSONL into a list of message lists."""
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line)["messages"] for line in fh if line.strip()]


def encode(tokenizer: PreTrainedTokenizerBase, messages: list[dict[str, str]]) -> Example:
    """Token ids and labels (-100 outside the assistant reply) via the chat template mask."""
    enc = tokenizer.apply_chat_template(
        messages, return_dict=True, return_assistant_tokens_mask=True
    )
    ids = list(enc["input_ids"])
    mask = list(enc["assistant_masks"])
    if not any(mask):
        raise ValueError("chat template produced an empty assistant mask")
    return ids, [t if m else -100 for t, m in zip(ids, mask, strict=True)]


def collate(examples: list[Example], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad a batch of (ids, labels) into model inputs."""
    width = max(len(ids) for ids, _ in examples)
    input_ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), -100, dtype=torch.long)
    attention = torch.zeros((len(examples), width), dtype=torch.long)
    for i, (ids, lab) in enumerate(examples):
        input_ids[i, : len(ids)] = torch.tensor(ids)
        labels[i, : len(lab)] = torch.tensor(lab)
        attention[i, : len(ids)] = 1
    return {"input_ids": input_ids, "labels": labels, "attention_mask": attention}


@torch.no_grad()
def exact_match(
    model: torch.nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    rows: list[list[dict[str, str]]],
    batch_size: int = 64,
    max_new_tokens: int = 16,
) -> float:
    """Greedy-decode each user prompt and compare with the reference assistant reply."""
    model.eval()
    hits = 0
    for start in range(0, len(rows), batch_size):
        chunk = rows[start : start + batch_size]
        prompts = [
            tokenizer.apply_chat_template(m[:1], tokenize=False, add_generation_prompt=True)
            for m in chunk
        ]
        enc = tokenizer(prompts, return_tensors="pt", padding=True, padding_side="left")
        out = model.generate(
            **enc,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
        replies = tokenizer.batch_decode(
            out[:, enc["input_ids"].shape[1] :], skip_special_tokens=True
        )
        hits += sum(r == m[1]["content"] for r, m in zip(replies, chunk, strict=True))
    return hits / len(rows)


def train_lora(
    model_dir: Path,
    tokenizer: PreTrainedTokenizerBase,
    train: list[Example],
    args: argparse.Namespace,
    lr: float,
) -> torch.nn.Module:
    """Train a fresh LoRA adapter on the base model with AdamW + warmup/linear decay."""
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    base = AutoModelForCausalLM.from_pretrained(model_dir, local_files_only=True)
    config = LoraConfig(
        r=args.rank,
        lora_alpha=args.alpha,
        lora_dropout=0.0,
        target_modules=args.targets,
        task_type="CAUSAL_LM",
    )
    model = get_peft_model(base, config)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    warmup = max(1, args.steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt,
        lambda s: min((s + 1) / warmup, max(0.0, (args.steps - s) / (args.steps - warmup))),
    )
    model.train()
    order: list[int] = []
    for step in range(args.steps):
        if len(order) < args.batch_size:
            order += rng.sample(range(len(train)), len(train))
        batch = [train[i] for i in order[: args.batch_size]]
        del order[: args.batch_size]
        loss = model(**collate(batch, tokenizer.pad_token_id)).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        if args.verbose and (step % 50 == 0 or step == args.steps - 1):
            print(f"    step {step:4d} loss {loss.item():.4f}", flush=True)
    return model


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", type=Path, default=DEFAULT_MODEL_DIR)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--lr", type=float, action="append", help="repeatable; default 1e-2")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--rank", type=int, default=16)
    parser.add_argument("--alpha", type=int, default=32)
    parser.add_argument("--targets", nargs="+", default=TARGET_MODULES)
    parser.add_argument("--eval-rows", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--min-em", type=float, default=0.85, help="required EM at the first --lr")
    parser.add_argument("--verbose", action="store_true")
    return parser.parse_args()


def main() -> int:
    """Run the check; exit status 1 if the first learning rate misses ``--min-em``."""
    args = parse_args()
    lrs = args.lr or [1e-2]
    torch.set_num_threads(1)
    tokenizer = AutoTokenizer.from_pretrained(args.model_dir, local_files_only=True)
    rows = load_rows(args.data)
    train_rows, eval_rows = rows[: -args.eval_rows], rows[-args.eval_rows :]
    train = [encode(tokenizer, m) for m in train_rows]

    base = AutoModelForCausalLM.from_pretrained(args.model_dir, local_files_only=True)
    print(f"base model EM: {exact_match(base, tokenizer, eval_rows):.3f}", flush=True)

    results: dict[float, float] = {}
    for lr in lrs:
        start = time.perf_counter()
        model = train_lora(args.model_dir, tokenizer, train, args, lr)
        train_s = time.perf_counter() - start
        results[lr] = exact_match(model, tokenizer, eval_rows)
        print(
            f"lr {lr:g}: EM {results[lr]:.3f}  ({args.steps} steps, train {train_s:.1f}s, "
            f"total {time.perf_counter() - start:.1f}s)",
            flush=True,
        )
    em = results[lrs[0]]
    ok = em >= args.min_em
    print(f"{'PASS' if ok else 'FAIL'}: EM {em:.3f} at lr {lrs[0]:g} (need >= {args.min_em})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
