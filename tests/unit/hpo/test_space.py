import pytest

from qtrain.config.schema import ParameterSpec
from qtrain.errors import ConfigError
from qtrain.hpo.space import Parameter, SearchSpace


def test_from_dict_defaults_kinds_and_size(mixed_space: SearchSpace) -> None:
    assert mixed_space.size == 4 * 3 * 3 * 2 * 2
    assert mixed_space.defaults() == {
        "lr": 1e-4,
        "bs": 8,
        "sched": "constant",
        "flag": True,
        "targets": ["q", "v"],
    }
    kinds = {p.name: p.kind for p in mixed_space}
    assert kinds == {
        "lr": "ordinal",
        "bs": "ordinal",
        "sched": "categorical",
        "flag": "categorical",
        "targets": "categorical",
    }
    assert all(p.scope == "cycle" for p in mixed_space)
    assert Parameter("x", (3, 1, 2)).kind == "categorical"  # unsorted numbers


def test_from_config_keeps_default_and_scope() -> None:
    space = SearchSpace.from_config(
        {
            "training.learning_rate": ParameterSpec(values=[1e-3, 1e-2], default=1e-2),
            "model.lora.r": ParameterSpec(values=[8, 16, 32], scope="run"),
        }
    )
    assert space.defaults() == {"training.learning_rate": 1e-2, "model.lora.r": 8}
    assert [p.name for p in space.run_params] == ["model.lora.r"]
    assert [p.name for p in space.cycle_params] == ["training.learning_rate"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"values": ()}, "values is empty"),
        ({"values": (1, 2, 1)}, "listed twice"),
        ({"values": (["a"], ("a",))}, "listed twice"),
        ({"values": (1, 2), "default": 3}, "default 3 is not one of"),
        ({"values": (1, 2), "scope": "forever"}, "scope must be"),
    ],
)
def test_parameter_validation(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Parameter("p", **kwargs)


def test_space_validation_messages(mixed_space: SearchSpace) -> None:
    with pytest.raises(ConfigError, match="given twice"):
        SearchSpace([Parameter("a", (1,)), Parameter("a", (2,))])
    with pytest.raises(ConfigError, match="empty"):
        SearchSpace([])
    with pytest.raises(ConfigError, match="list of levels"):
        SearchSpace.from_dict({"a": "abc"})
    params = mixed_space.defaults()
    with pytest.raises(ConfigError, match="not a parameter"):
        mixed_space.validate({**params, "nope": 1})
    with pytest.raises(ConfigError, match="no value for search_space.bs"):
        mixed_space.validate({k: v for k, v in params.items() if k != "bs"})
    with pytest.raises(ConfigError, match="search_space.bs: 12 is not one of"):
        mixed_space.validate({**params, "bs": 12})


def test_keys_roundtrip_and_list_levels(mixed_space: SearchSpace) -> None:
    keys = list(mixed_space.iter_keys())
    assert len(keys) == mixed_space.size == len(set(keys))
    for key in keys[::7]:
        assert mixed_space.key(mixed_space.from_key(key)) == key
    # a tuple given for a list-valued level is the same level
    assert mixed_space["targets"].index(("q", "k", "v", "o")) == 1


def test_restrict_fixes_levels(mixed_space: SearchSpace) -> None:
    sub = mixed_space.restrict({"bs": 16, "targets": ("q", "k", "v", "o")})
    assert sub.size == mixed_space.size // 6
    assert sub["bs"].values == (16,) and sub["targets"].values == (["q", "k", "v", "o"],)
    assert sub["bs"].kind == "ordinal"
    with pytest.raises(ConfigError, match="cannot fix 'nope'"):
        mixed_space.restrict({"nope": 1})
    with pytest.raises(ConfigError, match="not one of"):
        mixed_space.restrict({"bs": 12})
