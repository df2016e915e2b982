"""Small pieces of the azure solver's client: the target's shot limit."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

pytest.importorskip("azure.quantum")

from qtrain.solvers.azure.client import target_max_shots

pytestmark = pytest.mark.azure_sdk


def backend_with(configuration) -> SimpleNamespace:
    return SimpleNamespace(configuration=configuration)


def test_the_targets_shot_limit_is_read_from_its_configuration() -> None:
    assert target_max_shots(backend_with(lambda: SimpleNamespace(max_shots=10000))) == 10000


@pytest.mark.parametrize(
    "configuration",
    [lambda: SimpleNamespace(), lambda: SimpleNamespace(max_shots=None), lambda: 1 / 0],
    ids=["no-field", "none", "raises"],
)
def test_an_unknown_limit_is_none(configuration) -> None:
    assert target_max_shots(backend_with(configuration)) is None
