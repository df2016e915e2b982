"""A CPU path for TRL 1.15's fused LM-head loss.

TRL 1.15's ``SFTTrainer`` always computes its loss through a Triton kernel
(``trl.trainer.utils._ChunkedLogProbFunction``); without Triton that name is ``None`` and
training on CPU fails with ``'NoneType' object has no attribute 'apply'`` (with Triton but
no GPU it fails with "0 active drivers"). TRL 1.16 added a torch path, and unsloth patches
the same spot when it is imported, but unsloth 2026.10.9 caps trl at 1.15. This module
installs a pure-torch implementation with the kernel's signature, used for tensors that are
not on a CUDA device; CUDA tensors still go to the Triton kernel when it exists.
"""

from __future__ import annotations

from typing import Any

import torch

_CHUNK_TOKENS = 4096


def token_logprob_outputs(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    targets: torch.Tensor,
    temperature: float,
    chunk_size: int,
    final_logit_softcapping: float | None = None,
    logit_scale: float = 1.0,
    outputs: tuple[str, ...] = (),
) -> tuple[torch.Tensor | None, ...]:
    """Per-token log p(target) plus TRL's optional statistics, projecting in token chunks."""
    del chunk_size  # the Triton kernel tiles the vocabulary; here we tile tokens instead
    parts: dict[str, list[torch.Tensor]] = {
        k: [] for k in ("log_probs", "entropy", "lssp", "mean", "top1")
    }
    for start in range(0, hidden.shape[0], _CHUNK_TOKENS):
        h = hidden[start : start + _CHUNK_TOKENS]
        t = targets[start : start + _CHUNK_TOKENS]
        logits = torch.nn.functional.linear(h, weight, bias).float() * logit_scale
        if final_logit_softcapping is not None:
            logits = torch.tanh(logits / final_logit_softcapping) * final_logit_softcapping
        logits = logits / temperature
        logp = torch.log_softmax(logits, dim=-1)
        parts["log_probs"].append(logp.gather(-1, t.unsqueeze(-1)).squeeze(-1))
        with torch.no_grad():
            p = logp.exp()
            if "entropy" in outputs:
                parts["entropy"].append(-(p * logp).sum(-1))
            if "log_sum_sq_probs" in outputs:
                parts["lssp"].append(torch.log((p * p).sum(-1)))
            if "mean_logits" in outputs:
                parts["mean"].append(logits.mean(-1))
            if "is_top1" in outputs:
                parts["top1"].append(logits.argmax(-1) == t)
    empty = hidden.new_zeros((0,), dtype=torch.float32)

    def cat(key: str) -> torch.Tensor | None:
        return torch.cat(parts[key]) if parts[key] else None

    log_probs = cat("log_probs")
    return (
        log_probs if log_probs is not None else empty + hidden.sum() * 0,
        cat("entropy"),
        cat("lssp"),
        cat("mean"),
        cat("top1"),
    )


class _DeviceDispatchingLogProb:
    """``apply`` like the Triton autograd function: Triton for CUDA tensors, torch elsewhere."""

    def __init__(self, triton_impl: Any) -> None:
        self.triton_impl = triton_impl

    def apply(self, hidden: torch.Tensor, *args: Any) -> tuple[torch.Tensor | None, ...]:
        if hidden.is_cuda and self.triton_impl is not None:
            return self.triton_impl.apply(hidden, *args)
        return token_logprob_outputs(hidden, *args)


def ensure_trl_cpu_loss() -> bool:
    """Install the CPU path into TRL's SFT loss once; returns whether it is installed now."""
    try:
        import trl.trainer.utils as trl_utils
    except ImportError:
        return False
    current = getattr(trl_utils, "_ChunkedLogProbFunction", "missing")
    if current == "missing" or isinstance(current, _DeviceDispatchingLogProb):
        return current != "missing"
    trl_utils._ChunkedLogProbFunction = _DeviceDispatchingLogProb(current)
    return True
