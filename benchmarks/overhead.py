"""qtrain trial throughput against a plain TRL SFTTrainer script (same model, data, settings).

    python benchmarks/overhead.py [--steps 100] [--repeats 3] [--out overhead.json]

Both sides train the shipped tiny phi-4 with the same LoRA, batch size, learning rate, seed and
data (the reverse task), on one torch thread, alternating order each repeat. The plain side is
what a user would write: AutoModelForCausalLM + peft.get_peft_model + trl.SFTTrainer on a
conversational prompt/completion dataset (TRL tokenizes it). Throughput is non-padding tokens
per second of ``trainer.train()``, counted the same way for both sides: steps x batch size x the
mean token length of the rows (TRL and qtrain tokenize a row into identical ids; a test checks
that the ids decode to the chat template's rendering). On CPU both sides need TRL 1.15's
missing torch loss path, which qtrain installs (qtrain.backends.trl_cpu) before either runs.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch


def plain_trl(steps: int, rows: list[dict[str, Any]], config: Any) -> float:
    """A plain TRL script with the same settings; returns seconds spent in ``train()``."""
    from datasets import Dataset
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from qtrain.modeling import resolve_model_source

    path = resolve_model_source(config.model.name).location
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True, dtype=torch.float32)
    torch.manual_seed(config.training.seed)
    lora = config.model.lora
    model = get_peft_model(
        model,
        LoraConfig(
            r=lora.r,
            lora_alpha=lora.alpha,
            lora_dropout=lora.dropout,
            target_modules=list(lora.target_modules),
            task_type="CAUSAL_LM",
        ),
    )
    dataset = Dataset.from_list(
        [{"prompt": r["messages"][:-1], "completion": r["messages"][-1:]} for r in rows]
    )
    args = SFTConfig(
        output_dir=tempfile.mkdtemp(),
        max_steps=steps,
        per_device_train_batch_size=config.training.batch_size,
        learning_rate=config.training.learning_rate,
        lr_scheduler_type=config.training.lr_scheduler,
        warmup_steps=config.training.warmup_ratio,
        seed=config.training.seed,
        data_seed=config.training.seed,
        logging_steps=config.training.logging_steps,
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
        use_cpu=True,
        bf16=False,
        gradient_checkpointing=False,  # as qtrain on CPU; TRL's default (True) recomputes
        max_length=config.training.max_length,
    )
    trainer = SFTTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer)
    start = time.perf_counter()
    trainer.train()
    return time.perf_counter() - start


def qtrain_trial(steps: int, config: Any) -> tuple[float, float]:
    """A qtrain trial; returns (seconds in training, seconds for the whole trial incl. eval)."""
    from qtrain.checkpoints import LocalCheckpointStore
    from qtrain.data import prepare_dataset
    from qtrain.training.session import ModelSession
    from qtrain.training.trial import TrialSpec, run_trial

    session = ModelSession(config)
    data = prepare_dataset(config.data, session.tokenizer, config.training.max_length)
    store = LocalCheckpointStore(Path(tempfile.mkdtemp()))
    start = time.perf_counter()
    record = run_trial(
        TrialSpec(1, 0, {}, steps, None), session, data.train, data.eval, config, store
    )
    whole = time.perf_counter() - start
    return record.train["train_seconds"], whole


def main() -> None:
    """Measure, print a table, optionally write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    from qtrain.backends.quiet import quiet_libraries
    from qtrain.backends.trl_cpu import ensure_trl_cpu_loss
    from qtrain.config import load_config
    from qtrain.data.formats import load_records

    torch.set_num_threads(1)
    quiet_libraries()
    ensure_trl_cpu_loss()
    config = load_config(None, ["model.backend=hf", "runtime.device=cpu"])
    rows = [r.record for r in load_records(config.data.path)]
    from transformers import AutoTokenizer

    from qtrain.data.chat import tokenize_conversation
    from qtrain.modeling import resolve_model_source

    tokenizer = AutoTokenizer.from_pretrained(
        resolve_model_source(config.model.name).location, local_files_only=True
    )
    mean_len = statistics.mean(
        len(tokenize_conversation(r["messages"], tokenizer)[0]) for r in rows
    )
    tokens = args.steps * config.training.batch_size * mean_len
    plain, ours, ours_whole = [], [], []
    for repeat in range(args.repeats):
        order = ("plain", "qtrain") if repeat % 2 == 0 else ("qtrain", "plain")
        for side in order:
            if side == "plain":
                plain.append(tokens / plain_trl(args.steps, rows, config))
            else:
                train_s, whole_s = qtrain_trial(args.steps, config)
                ours.append(tokens / train_s)
                ours_whole.append(tokens / whole_s)
    result = {
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "torch_threads": 1,
        "steps": args.steps,
        "batch_size": config.training.batch_size,
        "mean_tokens_per_row": round(mean_len, 2),
        "repeats": args.repeats,
        "plain_trl_tokens_per_s": round(statistics.median(plain), 1),
        "qtrain_train_tokens_per_s": round(statistics.median(ours), 1),
        "qtrain_trial_tokens_per_s_incl_eval_and_commit": round(statistics.median(ours_whole), 1),
        "ratio_train": round(statistics.median(ours) / statistics.median(plain), 3),
        "ratio_whole_trial": round(statistics.median(ours_whole) / statistics.median(plain), 3),
        "raw": {"plain": plain, "qtrain": ours, "qtrain_whole": ours_whole},
    }
    print(f"{'side':<40}{'tokens/s (median)':>20}")
    print(f"{'plain TRL SFTTrainer':<40}{result['plain_trl_tokens_per_s']:>20}")
    print(f"{'qtrain trial (training)':<40}{result['qtrain_train_tokens_per_s']:>20}")
    print(
        f"{'qtrain trial (incl. eval + commit)':<40}"
        f"{result['qtrain_trial_tokens_per_s_incl_eval_and_commit']:>20}"
    )
    print(
        f"ratio (training): {result['ratio_train']}   ratio (whole trial): "
        f"{result['ratio_whole_trial']}"
    )
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
