import dimod
import numpy as np
import pytest

from qtrain.hpo.encoding import Encoding, InfeasibleSampleError
from qtrain.hpo.space import SearchSpace


@pytest.mark.parametrize("scheme", ["onehot", "domain_wall", "auto"])
def test_roundtrip_every_configuration(mixed_space: SearchSpace, scheme: str) -> None:
    enc = Encoding(mixed_space, scheme)
    seen = set()
    for key in mixed_space.iter_keys():
        params = mixed_space.from_key(key)
        bits = enc.encode(params)
        assert set(bits) == set(enc.variables) and enc.is_feasible(bits)
        assert enc.decode(bits) == params
        assert enc.decode(enc.encode_vector(params)) == params
        seen.add(tuple(bits.values()))
    assert len(seen) == mixed_space.size


def test_bit_counts_and_names(mixed_space: SearchSpace) -> None:
    # one-hot: 4 + 3 + 3 + 2 + 2; domain wall on ordinals: 3 + 2 + 3 + 2 + 2;
    # auto: domain wall for lr (4 ordinal levels) and single bits for two-level parameters
    assert Encoding(mixed_space, "onehot").n_bits == 14
    assert Encoding(mixed_space, "domain_wall").n_bits == 12
    auto = Encoding(mixed_space, "auto")
    assert auto.n_bits == 3 + 3 + 3 + 1 + 1
    assert "lr[>=1]" in auto.variables and "bs[2]" in auto.variables
    assert "lr[2]" in Encoding(mixed_space, "onehot").variables
    with pytest.raises(ValueError, match="encoding must be"):
        Encoding(mixed_space, "gray")


def test_decode_rejects_infeasible(mixed_space: SearchSpace) -> None:
    enc = Encoding(mixed_space, "domain_wall")
    bits = enc.encode(mixed_space.defaults())
    with pytest.raises(InfeasibleSampleError, match="lr: domain-wall"):
        enc.decode({**bits, "lr[>=2]": 1})  # level 0 is 0 0 0; this is 0 1 0
    with pytest.raises(InfeasibleSampleError, match="sched: one-hot"):
        enc.decode({**bits, "sched[1]": 1})
    assert not enc.is_feasible(np.zeros(enc.n_bits))
    with pytest.raises(InfeasibleSampleError, match="bits, expected"):
        enc.decode([0, 1])


def test_fixed_parameter_takes_no_bits(mixed_space: SearchSpace) -> None:
    enc = Encoding(mixed_space.restrict({"lr": 1e-3, "sched": "linear"}), "onehot")
    assert enc.n_bits == 14 - 4 - 3
    assert not any(v.startswith(("lr", "sched")) for v in enc.variables)


@pytest.mark.parametrize("scheme", ["onehot", "domain_wall", "auto"])
def test_constraint_ground_states_are_the_feasible_set(scheme: str) -> None:
    space = SearchSpace.from_dict(
        {"o": [1, 2, 3, 4, 5], "c": ["a", "b", "c"], "t": [0.1, 0.2], "u": [7, 8, 9, 10]}
    )
    enc = Encoding(space, scheme)
    bqm = enc.constraint_bqm(strength=2.5)
    samples = dimod.ExactSolver().sample(bqm)
    ground = {
        tuple(int(s[v]) for v in enc.variables)
        for s, e in samples.data(["sample", "energy"])
        if abs(e) < 1e-9
    }
    feasible = {tuple(enc.encode_vector(space.from_key(k)).tolist()) for k in space.iter_keys()}
    assert ground == feasible
    assert samples.first.energy == pytest.approx(0.0)
    excited = [e for e in samples.data_vectors["energy"] if e > 1e-9]
    assert min(excited) == pytest.approx(2.5)
