from pathlib import Path

import pytest

from qtrain.config import RunConfig, default_config_path, load_config, validate_config
from qtrain.config.loader import parse_override
from qtrain.errors import ConfigError

SHIPPED = sorted((Path(__file__).resolve().parents[3] / "configs").rglob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_config_validates(path: Path) -> None:
    assert isinstance(load_config(path), RunConfig)


def test_shipped_configs_found() -> None:
    assert {p.name for p in SHIPPED} >= {"tiny.yaml", "phi4.yaml"}


def test_default_config_is_tiny() -> None:
    assert default_config_path().name == "tiny.yaml"
    assert load_config().model.name == "builtin:tiny-phi4"


def test_overrides_are_typed() -> None:
    cfg = load_config(
        None,
        [
            "training.learning_rate=3e-4",
            "runtime.output_dir=/x",
            "model.lora.target_modules=[q_proj]",
            "early_stopping.target=null",
        ],
    )
    assert cfg.training.learning_rate == pytest.approx(3e-4)
    assert cfg.runtime.output_dir == "/x"
    assert cfg.model.lora.target_modules == ["q_proj"]
    assert cfg.early_stopping.target is None


def test_unknown_key_suggests_close_match() -> None:
    with pytest.raises(
        ConfigError,
        match=r"unknown key 'training.learning_rat' \(did you mean "
        r"'training.learning_rate'\?\)",
    ):
        load_config(None, ["training.learning_rat=1e-3"])


def test_bad_value_names_the_key() -> None:
    with pytest.raises(ConfigError, match=r"training.batch_size: .*greater than or equal to 1"):
        load_config(None, ["training.batch_size=0"])


def test_bad_literal_names_the_key() -> None:
    with pytest.raises(ConfigError, match="model.training_mode"):
        validate_config({"model": {"training_mode": "lorra"}})


def test_error_is_one_line() -> None:
    with pytest.raises(ConfigError) as info:
        validate_config({"training": {"learning_rate": "fast", "batch_size": -1}})
    assert "\n" not in str(info.value)
    assert "(and 1 more)" in str(info.value)


def test_override_syntax() -> None:
    assert parse_override("a.b=[1, 2]") == ("a.b", [1, 2])
    with pytest.raises(ConfigError, match="section.key=value"):
        parse_override("nonsense")


def test_override_into_non_section() -> None:
    with pytest.raises(ConfigError, match="is not a section"):
        load_config(None, ["training.seed.x=1"])


def test_missing_and_invalid_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [unclosed\n")
    with pytest.raises(ConfigError, match=r"bad.yaml line \d+: not valid YAML"):
        load_config(bad)
    listy = tmp_path / "list.yaml"
    listy.write_text("- 1\n")
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_config(listy)


def test_search_space_validation() -> None:
    cfg = validate_config(
        {
            "search_space": {
                "training.learning_rate": {"values": [1e-3, 1e-2], "default": 1e-2},
                "model.lora.r": {"values": [8, 16], "scope": "run"},
            }
        }
    )
    assert cfg.search_space["model.lora.r"].default == 8
    with pytest.raises(ConfigError, match="its scope must be 'run'"):
        validate_config({"search_space": {"model.lora.r": {"values": [8]}}})
    with pytest.raises(ConfigError, match="is not one of values"):
        validate_config({"search_space": {"training.learning_rate": {"values": [1], "default": 2}}})


def test_qlora_implies_4bit_and_full_rejects_quantization() -> None:
    assert validate_config({"model": {"training_mode": "qlora"}}).model.quantization == "4bit"
    with pytest.raises(ConfigError, match="cannot train a quantized model"):
        validate_config({"model": {"training_mode": "full", "quantization": "4bit"}})


def test_json_schema_has_sections() -> None:
    schema = RunConfig.model_json_schema()
    assert set(schema["properties"]) >= {
        "model",
        "training",
        "data",
        "search_space",
        "quantum",
        "early_stopping",
        "storage",
        "runtime",
    }
