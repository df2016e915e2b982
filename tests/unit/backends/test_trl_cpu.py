import torch

from qtrain.backends.trl_cpu import (
    _DeviceDispatchingLogProb,
    ensure_trl_cpu_loss,
    token_logprob_outputs,
)


def test_log_probs_and_gradients_match_cross_entropy() -> None:
    torch.manual_seed(0)
    hidden = torch.randn(7, 16, requires_grad=True)
    weight = torch.randn(50, 16, requires_grad=True)
    targets = torch.randint(0, 50, (7,))
    log_probs, entropy, _, _, top1 = token_logprob_outputs(
        hidden, weight, None, targets, 1.0, 128, None, 1.0, ("entropy", "is_top1")
    )
    expected = -torch.nn.functional.cross_entropy(hidden @ weight.T, targets, reduction="none")
    torch.testing.assert_close(log_probs, expected)
    (-log_probs.sum()).backward()
    grad_ours = hidden.grad.clone()
    hidden.grad = None
    torch.nn.functional.cross_entropy(hidden @ weight.T, targets, reduction="sum").backward()
    torch.testing.assert_close(grad_ours, hidden.grad)
    assert entropy is not None and entropy.shape == (7,)
    assert top1 is not None and top1.dtype == torch.bool


def test_temperature_and_softcapping_are_applied() -> None:
    hidden, weight = torch.randn(3, 4), torch.randn(5, 4)
    targets = torch.tensor([0, 1, 2])
    lp, *_ = token_logprob_outputs(hidden, weight, None, targets, 2.0, 8, 3.0, 0.5)
    logits = torch.tanh((hidden @ weight.T) * 0.5 / 3.0) * 3.0 / 2.0
    torch.testing.assert_close(lp, torch.log_softmax(logits, -1).gather(-1, targets[:, None])[:, 0])


def test_installed_into_trl_and_idempotent() -> None:
    import trl.trainer.utils as trl_utils

    assert ensure_trl_cpu_loss()
    installed = trl_utils._ChunkedLogProbFunction
    assert isinstance(installed, _DeviceDispatchingLogProb)
    assert ensure_trl_cpu_loss()
    assert trl_utils._ChunkedLogProbFunction is installed
