"""``qtrain set``: the whitelist, the schema's validation and the diff."""

from __future__ import annotations

import pytest

from qtrain.config import load_config
from qtrain.control.settings import apply_settings, settings_diff


def test_whitelisted_settings_apply_and_diff() -> None:
    config = load_config("configs/tiny.yaml")
    name = next(iter(config.search_space))
    value = config.search_space[name].values[-1]
    after = apply_settings(
        config,
        {
            "early_stopping.max_cycles": "7",
            "training.steps_per_cycle": 20,
            f"search_space.{name}.default": str(value),
        },
    )
    assert after.early_stopping.max_cycles == 7 and after.training.steps_per_cycle == 20
    assert after.search_space[name].default == value
    keys = ["early_stopping.max_cycles", "training.steps_per_cycle"]
    diff = settings_diff(config, after, keys)
    assert diff["early_stopping.max_cycles"] == [config.early_stopping.max_cycles, 7]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"training.learning_rate": "1"}, "not a setting a running run takes"),
        ({"early_stopping.max_cycles": "-1"}, "early_stopping.max_cycles"),
        ({"early_stopping.max_cycles": "many"}, "early_stopping.max_cycles"),
        ({"search_space.nope.default": "1"}, "no search-space parameter 'nope'"),
    ],
)
def test_bad_settings_are_one_line(settings: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        apply_settings(load_config("configs/tiny.yaml"), settings)
    assert "\n" not in str(info.value)
