import json

import pytest
import torch

from qtrain.checkpoints import LocalCheckpointStore
from qtrain.data import prepare_dataset
from qtrain.training.session import ModelSession
from qtrain.training.trial import TrialSpec, run_trial


@pytest.fixture(scope="module")
def session():
    from qtrain.config import load_config

    return ModelSession(load_config(None, ["model.backend=hf"]))


def _base_state(session: ModelSession) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in session.base.state_dict().items()}


def test_hf_backend_loads_phi4_format(session: ModelSession) -> None:
    tok = session.tokenizer
    assert type(session.base).__name__ == "Phi3ForCausalLM"
    assert tok.eos_token == "<|im_end|>" and tok.pad_token_id != tok.eos_token_id
    assert session.backend.name == "hf" and session.device == "cpu"


def test_adapter_attach_detach_leaves_base_untouched(session: ModelSession) -> None:
    before = _base_state(session)
    lora = session.config.model.lora
    with session.trainable(lora, seed=3, init_from=None) as model:
        first = {k: v.clone() for k, v in model.state_dict().items() if "lora_A" in k}
        with torch.no_grad():
            for name, p in model.named_parameters():
                if "lora_B" in name:
                    p.add_(1.0)
    with session.trainable(lora, seed=3, init_from=None) as model:
        again = {k: v for k, v in model.state_dict().items() if "lora_A" in k}
        assert first.keys() == again.keys() and first
        for key in first:
            torch.testing.assert_close(first[key], again[key])  # seeded init
    after = session.base.state_dict()
    assert before.keys() == after.keys()
    for key in before:
        torch.testing.assert_close(before[key], after[key])


def test_trial_commits_checkpoint_and_resumes_from_it(session: ModelSession, tmp_path) -> None:
    config = session.config
    data = prepare_dataset(
        config.data.model_copy(update={"eval_size": 8, "max_rows": 200}),
        session.tokenizer,
        config.training.max_length,
    )
    store = LocalCheckpointStore(tmp_path / "ckpt")
    spec = TrialSpec(
        cycle=1, trial=0, params={"training.learning_rate": 0.005}, steps=3, start_checkpoint=None
    )
    record = run_trial(spec, session, data.train, data.eval, config, store)
    assert record.checkpoint == "c001-t00" and record.steps == 3
    assert set(record.metrics) >= {"eval_loss", "perplexity", "exact_match"}
    assert 0.0 <= record.metrics["exact_match"] <= 1.0
    folder = store.materialize("c001-t00")
    trial = json.loads((folder / "trial.json").read_text())
    assert trial["config"]["training"]["learning_rate"] == 0.005
    assert (folder / "adapter_model.safetensors").is_file()
    assert not list(folder.glob("*.bin")) and not list(folder.glob("*.pt"))
    second = run_trial(
        TrialSpec(2, 0, {}, 2, "c001-t00"), session, data.train, data.eval, config, store
    )
    assert second.start_checkpoint == "c001-t00"
    assert [c.name for c in store.list()] == ["c001-t00", "c002-t00"]


def test_trainable_from_checkpoint_starts_from_its_weights(session: ModelSession, tmp_path) -> None:
    from safetensors.torch import load_file

    lora = session.config.model.lora
    with session.trainable(lora, seed=1, init_from=None) as model:
        with torch.no_grad():
            for name, p in model.named_parameters():
                if "lora_B" in name:
                    p.normal_()
        model.save_pretrained(str(tmp_path / "adapter"))
    saved = load_file(str(tmp_path / "adapter" / "adapter_model.safetensors"))
    with session.trainable(lora, seed=2, init_from=tmp_path / "adapter") as model:
        loaded = {k: v for k, v in model.state_dict().items() if "lora_" in k}
        assert all(p.requires_grad for n, p in model.named_parameters() if "lora_" in n)
    assert len(loaded) == len(saved)
    for key, value in saved.items():
        match = [
            v
            for k, v in loaded.items()
            if k.replace(".default", "").endswith(key.split("base_model.model.", 1)[-1])
        ]
        assert match and torch.equal(match[0], value), key
