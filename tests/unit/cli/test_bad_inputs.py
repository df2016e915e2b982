"""Bad input, as a user types it: one clear line naming what to fix, a non-zero exit, before
any model loads, and nothing written (no run directory, no output file).

Each case runs the real CLI entry point in this process (no model is ever loaded: every
input here is refused first) from an empty working folder, which must stay empty.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
TINY = str(REPO / "configs/tiny.yaml")
Setup = Callable[[Path], None]


def _write(name: str, text: str) -> Setup:
    def setup(folder: Path) -> None:
        path = folder / "inputs" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

    return setup


def _model_folder(*files: str) -> Setup:
    def setup(folder: Path) -> None:
        model = folder / "inputs" / "model"
        model.mkdir(parents=True)
        for name in files:
            (model / name).write_text("{}" if name.endswith(".json") else "weights")

    return setup


def _nothing(folder: Path) -> None:
    pass


ROW = '{"prompt": "a", "completion": "b"}\n'
RUN = ["run", TINY, "runtime.output_dir=runs"]
AZURE_WORKSPACE = ["quantum.azure.subscription_id=00000000-0000-0000-0000-000000000000",
                   "quantum.azure.resource_group=rg", "quantum.azure.workspace=ws",
                   "quantum.azure.location=westus"]  # fmt: skip
# (id, argv with {in} for the inputs folder, set-up, words the error line must contain)
CASES: list[tuple[str, list[str], Setup, str]] = [
    # run ids
    ("run-id-parent", [*RUN, "runtime.run_id=../escaped"], _nothing, "runtime.run_id"),
    ("run-id-nested", [*RUN, "runtime.run_id=a/b"], _nothing, "runtime.run_id"),
    ("run-id-hidden", [*RUN, "runtime.run_id=.hidden"], _nothing, "runtime.run_id"),
    ("run-id-empty", [*RUN, "runtime.run_id="], _nothing, "runtime.run_id"),
    ("run-id-long", [*RUN, "runtime.run_id=" + "x" * 200], _nothing, "runtime.run_id"),
    # config values
    ("lr-negative", [*RUN, "training.learning_rate=-1"], _nothing, "training.learning_rate"),
    ("lr-text", [*RUN, "training.learning_rate=fast"], _nothing, "training.learning_rate"),
    ("steps-zero", [*RUN, "training.steps_per_cycle=0"], _nothing, "training.steps_per_cycle"),
    ("trials-zero", [*RUN, "training.trials_per_cycle=0"], _nothing, "trials_per_cycle"),
    ("batch-zero", [*RUN, "training.batch_size=0"], _nothing, "training.batch_size"),
    ("cycles-zero", [*RUN, "early_stopping.max_cycles=0"], _nothing, "max_cycles"),
    ("typo-key", [*RUN, "training.learnin_rate=0.1"], _nothing, "did you mean"),
    ("unknown-section", [*RUN, "foo.bar=1"], _nothing, "unknown key 'foo'"),
    ("mode", [*RUN, "model.training_mode=magic"], _nothing, "model.training_mode"),
    ("device", [*RUN, "runtime.device=tpu"], _nothing, "runtime.device"),
    ("threads", [*RUN, "runtime.threads=0"], _nothing, "runtime.threads"),
    ("metric", [*RUN, "evaluation.metric=vibes"], _nothing, "evaluation"),
    ("storage-kind", [*RUN, "storage.kind=s3"], _nothing, "storage.kind"),
    ("solver", [*RUN, "quantum.solver_type=oracle"], _nothing, "quantum.solver_type"),
    ("solver-options", [*RUN, "quantum.solver_options={sa: {bogus: 1}}"], _nothing, "bogus"),
    ("solver-options-stray", [*RUN, "quantum.solver_options={exact: {}}"], _nothing, "exact"),
    ("fallback-unknown", [*RUN, "quantum.fallback=[warp]"], _nothing, "warp"),
    ("override-no-equals", [*RUN, "training.learning_rate"], _nothing, "key=value"),
    ("eval-fraction", [*RUN, "data.eval_size=1.5"], _nothing, "data.eval_size"),
    ("runtime-mode", [*RUN, "runtime.mode=manual"], _nothing, "runtime.mode"),
    # config files
    ("config-missing", ["run", "{in}/nope.yaml"], _nothing, "does not exist"),
    ("config-is-dir", ["run", "{in}"], _write("x", ""), "is a directory"),
    ("config-bad-yaml", ["run", "{in}/c.yaml"], _write("c.yaml", "a: [1, 2\n"), "not valid YAML"),
    ("config-a-list", ["run", "{in}/c.yaml"], _write("c.yaml", "- 1\n- 2\n"), "c.yaml"),
    ("config-dup-values", ["run", "{in}/c.yaml"],
     _write("c.yaml", "search_space:\n  training.learning_rate: {values: [0.1, 0.1]}\n"),
     "search_space"),
    ("config-unknown-param", ["run", "{in}/c.yaml"],
     _write("c.yaml", "search_space:\n  training.warp_speed: {values: [1, 2]}\n"),
     "search_space"),
    # data
    ("data-missing", [*RUN, "data.path={in}/none.jsonl"], _write("x", ""), "does not exist"),
    ("data-empty", [*RUN, "data.path={in}/d.jsonl"], _write("d.jsonl", ""), "d.jsonl"),
    ("data-not-json", [*RUN, "data.path={in}/d.jsonl"], _write("d.jsonl", "hello\n" * 50),
     "d.jsonl"),
    ("data-wrong-fields", [*RUN, "data.path={in}/d.jsonl"],
     _write("d.jsonl", '{"text": "a"}\n' * 50), "d.jsonl"),
    ("data-eval-too-big", [*RUN, "data.path={in}/d.jsonl", "data.eval_size=500"],
     _write("d.jsonl", ROW * 50), "eval_size"),
    ("data-format", [*RUN, "data.path={in}/d.xlsx"], _write("d.xlsx", "x"), "d.xlsx"),
    # model folders
    ("model-missing", [*RUN, "model.name={in}/no-such-model"], _write("x", ""), "model.name"),
    ("model-no-config", [*RUN, "model.name={in}/model"], _model_folder("weights.safetensors"),
     "config.json"),
    ("model-pickle-only", [*RUN, "model.name={in}/model"],
     _model_folder("config.json", "pytorch_model.bin"), "pickle"),
    ("max-length-context", [*RUN, "training.max_length=100000"], _nothing, "context"),
    ("model-not-hub-id", [*RUN, "model.name=not a model"], _nothing, "model.name"),
    ("device-cuda-no-gpu", [*RUN, "runtime.device=cuda"], _nothing, "cuda"),
    ("qlora-on-cpu", [*RUN, "model.training_mode=qlora", "model.quantization=4bit",
                      "runtime.device=cpu"], _nothing, "GPU"),
    # secrets are never echoed
    ("secret-in-list", [*RUN, "quantum.azure.storage=[AccountKey=c2VjcmV0LXNlY3JldA==]"],
     _nothing, "not shown"),
    # more config values
    ("grad-accum-zero", [*RUN, "training.gradient_accumulation_steps=0"], _nothing,
     "gradient_accumulation_steps"),
    ("max-length-zero", [*RUN, "training.max_length=0"], _nothing, "training.max_length"),
    ("warmup-two", [*RUN, "training.warmup_ratio=2"], _nothing, "training.warmup_ratio"),
    ("scheduler", [*RUN, "training.lr_scheduler=zigzag"], _nothing, "training.lr_scheduler"),
    ("optimizer", [*RUN, "training.optimizer=sgdx"], _nothing, "training.optimizer"),
    ("lora-r-zero", [*RUN, "model.lora.r=0"], _nothing, "model.lora.r"),
    ("lora-alpha-zero", [*RUN, "model.lora.alpha=0"], _nothing, "model.lora.alpha"),
    ("lora-dropout", [*RUN, "model.lora.dropout=1.5"], _nothing, "model.lora.dropout"),
    ("quantization", [*RUN, "model.quantization=3bit"], _nothing, "model.quantization"),
    ("backend", [*RUN, "model.backend=jax"], _nothing, "model.backend"),
    ("bad-rows", [*RUN, "data.bad_rows=ignore"], _nothing, "data.bad_rows"),
    ("max-rows-zero", [*RUN, "data.max_rows=0"], _nothing, "data.max_rows"),
    ("new-tokens-zero", [*RUN, "evaluation.max_new_tokens=0"], _nothing, "max_new_tokens"),
    ("eval-batch-zero", [*RUN, "evaluation.batch_size=0"], _nothing, "evaluation.batch_size"),
    ("min-delta", [*RUN, "early_stopping.min_delta=-1"], _nothing, "early_stopping.min_delta"),
    ("num-reads-zero", [*RUN, "quantum.num_reads=0"], _nothing, "quantum.num_reads"),
    ("surrogate", [*RUN, "quantum.surrogate=gp"], _nothing, "quantum.surrogate"),
    ("keep-last", [*RUN, "storage.keep_last=-1"], _nothing, "storage.keep_last"),
    ("blob-no-container", [*RUN, "storage.kind=azure_blob"], _nothing, "container"),
    ("blob-bad-container", [*RUN, "storage.kind=azure_blob", "storage.container=Bad_Name"],
     _nothing, "storage.container"),
    ("prefix-on-local", [*RUN, "storage.prefix=team"], _nothing, "azure_blob"),
    ("blob-timeout", [*RUN, "storage.kind=azure_blob", "storage.container=ckpt",
                      "storage.connect_timeout_s=0"], _nothing, "connect_timeout_s"),
    ("gpu-count", [*RUN, "kubeflow.gpu.count=-1"], _nothing, "kubeflow.gpu.count"),
    ("space-default-not-a-level", ["run", "{in}/c.yaml"],
     _write("c.yaml", "search_space:\n  training.learning_rate: {values: [0.1, 0.2], "
                      "default: 0.3}\n"), "search_space"),
    ("space-no-values", ["run", "{in}/c.yaml"],
     _write("c.yaml", "search_space:\n  training.learning_rate: {values: []}\n"),
     "search_space"),
    ("space-run-param-per-cycle", ["run", "{in}/c.yaml"],
     _write("c.yaml", "search_space:\n  model.lora.r: {values: [8, 16], scope: cycle}\n"),
     "scope"),
    ("nested-typo", ["run", "{in}/c.yaml"], _write("c.yaml", "training:\n  stpes: 3\n"),
     "unknown key 'training.stpes'"),
    ("ui-not-a-run", ["ui", "{in}/nope"], _write("x", ""), "nope"),
    ("stop-no-run", ["stop", "no-such-run", "--output-dir", "{in}"], _write("x", ""),
     "no-such-run"),
    ("compile-to-a-folder", ["compile", TINY, "-o", "{in}"], _write("x", ""), ".yaml"),
    # found by reading the model's safetensors headers, the search space, the solver chain
    ("lora-target-typo", [*RUN, "model.lora.target_modules=[qkv_projj]"], _nothing,
     "'qkv_projj'"),
    ("lora-target-one-typo", [*RUN, "model.lora.target_modules=[qkv_proj, o_projj]"],
     _nothing, "'o_projj'"),
    ("lora-target-in-space", [*RUN, "search_space={model.lora.target_modules: {values: "
                              "[[qkv_proj], [q_proj]], scope: run}}"], _nothing, "'q_proj'"),
    ("qubo-too-small", [*RUN, "quantum.qubo_size_limit=2"], _nothing, "qubo_size_limit"),
    ("azure-no-workspace", [*RUN, "quantum.solver_type=azure"], _nothing, "quantum.azure."),
    ("azure-default-no-credential", [*RUN, "quantum.solver_type=azure", *AZURE_WORKSPACE,
                                     "quantum.azure.credential=default"], _nothing,
     "found no Azure credential"),
    ("azure-fallback-no-key", [*RUN, "quantum.fallback=[azure]", *AZURE_WORKSPACE,
                               "quantum.azure.credential=api_key"], _nothing,
     "AZURE_QUANTUM_API_KEY"),
    # CLI arguments
    ("resume-missing", ["run", "--resume", "{in}/no-run"], _write("x", ""), "no-run"),
    ("resume-with-config", ["run", "--resume", "{in}", TINY], _write("x", ""), "--resume"),
    ("compile-suffix", ["compile", TINY, "-o", "{in}/p.txt"], _write("x", ""), ".yaml"),
    ("checkpoints-no-run", ["checkpoints", "list", "{in}/nope"], _write("x", ""), "checkpoints/"),
    ("verify-empty-store", ["checkpoints", "verify", "{in}/r"], _write("r/checkpoints/.k", ""),
     "no committed checkpoint"),
    ("status-no-run", ["status", "no-such-run", "--output-dir", "{in}"], _write("x", ""),
     "no-such-run"),
]  # fmt: skip


@pytest.mark.parametrize(("argv", "setup", "words"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])  # fmt: skip
def test_bad_input_is_one_line_and_writes_nothing(
    argv: list[str], setup: Setup, words: str, tmp_path: Path, monkeypatch, capsys
) -> None:
    from qtrain.cli.app import main

    work = tmp_path / "work"
    work.mkdir()
    setup(tmp_path)
    inputs = tmp_path / "inputs"
    before = _snapshot(tmp_path)
    monkeypatch.chdir(work)
    for name in ("AZURE_QUANTUM_API_KEY", "AZURE_CLIENT_ID", "AZURE_TENANT_ID",
                 "AZURE_CLIENT_SECRET", "AZURE_FEDERATED_TOKEN_FILE", "IDENTITY_ENDPOINT",
                 "MSI_ENDPOINT"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AZURE_CONFIG_DIR", str(tmp_path.parent / f"{tmp_path.name}-az"))
    monkeypatch.setattr(sys, "argv", ["qtrain", *[a.replace("{in}", str(inputs)) for a in argv]])
    with pytest.raises(SystemExit) as ended:
        main()
    captured = capsys.readouterr()
    assert ended.value.code not in (0, None), captured.out
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1, captured.err
    (line,) = lines
    assert line.startswith("error: ") and words in line, line
    assert "Traceback" not in captured.out + captured.err
    assert "c2VjcmV0LXNlY3JldA" not in captured.out + captured.err
    assert _snapshot(tmp_path) == before, "a bad input wrote or changed a file"


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file() or p.is_dir()
    }


def test_the_table_is_large() -> None:
    assert len(CASES) >= 80
    assert len({c[0] for c in CASES}) == len(CASES)
    json.dumps([c[0] for c in CASES])
