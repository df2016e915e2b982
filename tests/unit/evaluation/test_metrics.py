import pytest

from qtrain.errors import ConfigError
from qtrain.evaluation.metrics import get_metric, register_metric


def test_exact_match_normalises_whitespace() -> None:
    em = get_metric("exact_match")
    assert em(["abc ", "x y", "no"], ["abc", "x  y", "yes"]) == pytest.approx(2 / 3)
    assert em([], []) == 0.0


def test_char_accuracy_gives_partial_credit() -> None:
    assert get_metric("char_accuracy")(["abcd"], ["abce"]) == pytest.approx(0.75)


def test_unknown_metric_lists_choices() -> None:
    with pytest.raises(ConfigError, match="exact_match"):
        get_metric("bleu-9000")


def test_registry_is_pluggable() -> None:
    @register_metric("always_one")
    def always_one(predictions, references):
        return 1.0

    assert get_metric("always_one")(["a"], ["b"]) == 1.0
