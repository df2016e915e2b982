"""Evaluate a model: eval loss and perplexity on held-out rows, a task metric on generations."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch

from qtrain.config.schema import EvaluationConfig
from qtrain.evaluation.metrics import get_metric


@dataclass
class EvalResult:
    """Metrics (plain floats) plus a few saved generations."""

    metrics: dict[str, float]
    samples: list[dict[str, str]] = field(default_factory=list)


def evaluate_model(
    model: Any, tokenizer: Any, rows: list[dict[str, Any]], config: EvaluationConfig
) -> EvalResult:
    """Eval loss over completion tokens, perplexity, and ``config.metric`` on greedy outputs."""
    with eval_mode(model):
        loss = completion_loss(model, tokenizer.pad_token_id, rows, config.batch_size)
        gen_rows = rows[: config.generation_size] if config.generation_size else rows
        predictions = generate(
            model,
            tokenizer,
            [r["prompt_ids"] for r in gen_rows],
            config.max_new_tokens,
            config.batch_size,
        )
    references = [r["reference"] for r in gen_rows]
    metrics = {
        "eval_loss": loss,
        "perplexity": math.exp(min(loss, 50.0)),
        config.metric: get_metric(config.metric)(predictions, references),
        "eval_rows": float(len(rows)),
        "generation_rows": float(len(gen_rows)),
    }
    samples = [
        {"prompt": tokenizer.decode(r["prompt_ids"]), "prediction": p, "reference": r["reference"]}
        for r, p in zip(gen_rows[: config.num_samples_saved], predictions, strict=False)
    ]
    return EvalResult(metrics=metrics, samples=samples)


def eval_loss(model: Any, tokenizer: Any, rows: list[dict[str, Any]], batch_size: int) -> float:
    """Eval loss alone (no generation), in eval mode: what successive halving ranks on."""
    with eval_mode(model):
        return completion_loss(model, tokenizer.pad_token_id, rows, batch_size)


@contextlib.contextmanager
def eval_mode(model: Any) -> Iterator[None]:
    """Evaluate inside; the model's training mode is restored after."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


@torch.no_grad()
def completion_loss(model: Any, pad_id: int, rows: list[dict[str, Any]], batch_size: int) -> float:
    """Mean cross-entropy per completion token (the tokens the model is trained on)."""
    device = next(model.parameters()).device
    total, count = 0.0, 0
    for start in range(0, len(rows), batch_size):
        batch = rows[start : start + batch_size]
        width = max(len(r["input_ids"]) for r in batch)
        ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
        labels = torch.full((len(batch), width), -100, dtype=torch.long)
        attention = torch.zeros((len(batch), width), dtype=torch.long)
        for i, r in enumerate(batch):
            n = len(r["input_ids"])
            ids[i, :n] = torch.tensor(r["input_ids"])
            attention[i, :n] = 1
            mask = torch.tensor(r["completion_mask"], dtype=torch.bool)
            labels[i, :n] = torch.where(mask, ids[i, :n], torch.tensor(-100))
        logits = model(input_ids=ids.to(device), attention_mask=attention.to(device)).logits
        shift_logits = logits[:, :-1].float()
        shift_labels = labels[:, 1:].to(device)
        loss = torch.nn.functional.cross_entropy(
            shift_logits.reshape(-1, shift_logits.size(-1)),
            shift_labels.reshape(-1),
            ignore_index=-100,
            reduction="sum",
        )
        total += float(loss)
        count += int((shift_labels != -100).sum())
    return total / max(count, 1)


@torch.no_grad()
def generate(
    model: Any, tokenizer: Any, prompts: list[list[int]], max_new_tokens: int, batch_size: int
) -> list[str]:
    """Greedy, left-padded batched generation; returns the decoded continuations."""
    device = next(model.parameters()).device
    pad_id = tokenizer.pad_token_id
    outputs: list[str] = []
    for start in range(0, len(prompts), batch_size):
        batch = prompts[start : start + batch_size]
        width = max(len(p) for p in batch)
        ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
        attention = torch.zeros((len(batch), width), dtype=torch.long)
        for i, p in enumerate(batch):
            ids[i, width - len(p) :] = torch.tensor(p)
            attention[i, width - len(p) :] = 1
        generated = model.generate(
            input_ids=ids.to(device),
            attention_mask=attention.to(device),
            max_new_tokens=max_new_tokens,
            do_sample=False,
            use_cache=True,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=pad_id,
        )
        for row in generated[:, width:]:
            outputs.append(tokenizer.decode(row, skip_special_tokens=True))
    return outputs
