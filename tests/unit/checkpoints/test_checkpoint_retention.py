"""RetentionPolicy argument checks (its behaviour runs in the store contract suite)."""

from __future__ import annotations

import pytest

from qtrain.checkpoints import RetentionPolicy


@pytest.mark.parametrize("keep_last", [-1, 1.5, "2", True, None])
def test_keep_last_is_validated(keep_last):
    with pytest.raises(ValueError, match="keep_last"):
        RetentionPolicy(keep_last)


def test_repr():
    assert repr(RetentionPolicy(3)) == "RetentionPolicy(keep_last=3)"
