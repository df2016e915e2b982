"""The proposer interface: what the agent asks for the next cycle's hyperparameters."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from qtrain.config.schema import RunConfig
from qtrain.history import TrialRecord


@dataclass
class Proposal:
    """One hyperparameter set (dotted config paths -> values) plus how it was produced."""

    params: dict[str, Any]
    metadata: dict[str, Any] = field(default_factory=dict)


class Proposer(Protocol):
    """Produces ``n`` hyperparameter sets for a cycle from the trials so far."""

    name: str

    def propose(self, n: int, history: list[TrialRecord], cycle: int) -> list[Proposal]:
        """Return ``n`` proposals for ``cycle`` (1-based)."""
        ...


class FixedProposer:
    """Classical training: every trial uses the configured hyperparameters.

    With k > 1 trials per cycle, trial i uses seed ``training.seed + i`` so the trials
    differ only by their randomness (data order and adapter initialisation).
    """

    name = "fixed"

    def __init__(self, config: RunConfig) -> None:
        self.config = config

    def propose(self, n: int, history: list[TrialRecord], cycle: int) -> list[Proposal]:
        """The configured values of every searchable parameter (none if no search space)."""
        params = {name: _get_dotted(self.config, name) for name in self.config.search_space}
        return [
            Proposal(
                params={**params, "training.seed": self.config.training.seed + i},
                metadata={"proposer": self.name},
            )
            for i in range(n)
        ]


def _get_dotted(config: RunConfig, dotted: str) -> Any:
    node: Any = config
    for part in dotted.split("."):
        node = getattr(node, part)
    return node
