import pytest

from qtrain.cycle.early_stopping import EarlyStopping


def test_patience_counts_cycles_without_improvement() -> None:
    es = EarlyStopping(patience=2, min_delta=0.01, max_cycles=10)
    assert not es.update(1.0).stop
    assert not es.update(0.995).stop  # within min_delta: no improvement (1)
    decision = es.update(0.999)  # (2)
    assert decision.stop and "no improvement" in (decision.reason or "")


def test_improvement_resets_patience() -> None:
    es = EarlyStopping(patience=2, max_cycles=10)
    for value in (1.0, 1.1, 0.9, 1.0):
        assert not es.update(value).stop
    assert es.best == 0.9


def test_max_cycles() -> None:
    es = EarlyStopping(patience=5, max_cycles=2)
    assert not es.update(1.0).stop
    decision = es.update(0.5)
    assert decision.stop and "max_cycles 2" in (decision.reason or "")


def test_target_in_both_directions() -> None:
    assert EarlyStopping(5, target=0.5, direction="min").update(0.4).stop
    es = EarlyStopping(5, target=0.8, direction="max")
    assert not es.update(0.7).stop
    assert "target" in (es.update(0.85).reason or "")


@pytest.mark.parametrize(
    "kwargs", [{"patience": 0}, {"patience": 1, "min_delta": -1}, {"patience": 1, "max_cycles": 0}]
)
def test_arguments_are_validated(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        EarlyStopping(**kwargs)
