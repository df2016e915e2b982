import dimod
import numpy as np
import pytest

from qtrain.errors import ConfigError
from qtrain.hpo.encoding import Encoding
from qtrain.hpo.qubo import build_bqm
from qtrain.hpo.space import SearchSpace


@pytest.mark.parametrize("scheme", ["onehot", "domain_wall"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ground_states_are_feasible_and_optimal(scheme: str, seed: int) -> None:
    """Even with large adversarial coefficients, the penalties keep ground states feasible."""
    space = SearchSpace.from_dict({"o": [1, 2, 3, 4, 5], "c": ["a", "b", "c"], "t": [1, 2, 3]})
    enc = Encoding(space, scheme)
    rng = np.random.default_rng(seed)
    d = enc.n_bits
    linear = {i: float(rng.normal(0, 5)) for i in range(d)}
    quadratic = {(i, j): float(rng.normal(0, 5)) for i in range(d) for j in range(i + 1, d)}
    bqm = build_bqm((linear, quadratic, 1.0), enc, penalty_scale=1.01)
    best = dimod.ExactSolver().sample(bqm).first
    assert enc.is_feasible(best.sample)

    def surrogate(bits: np.ndarray) -> float:
        pairs = sum(
            q * bits[i] * bits[j]
            for (i, j), q in quadratic.items()
            if not (scheme == "onehot" and enc.group_of()[i] == enc.group_of()[j])
        )
        return 1.0 + sum(h * bits[i] for i, h in linear.items()) + pairs

    values = [surrogate(enc.encode_key(k)) for k in space.iter_keys()]
    assert best.energy == pytest.approx(min(values))


def test_size_limit_is_a_config_error(mixed_space: SearchSpace) -> None:
    enc = Encoding(mixed_space, "onehot")
    with pytest.raises(
        ConfigError,
        match=r"needs 14 binary variables, more than quantum\."
        r"qubo_size_limit=10: shrink the search space or raise the limit",
    ):
        build_bqm(({}, {}, 0.0), enc, qubo_size_limit=10)
    assert build_bqm(({}, {}, 0.0), enc, qubo_size_limit=14).num_variables == 14
