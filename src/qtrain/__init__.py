"""qtrain: fine-tune LLMs while a quantum-guided optimizer re-chooses hyperparameters.

Heavy pieces (torch, transformers, the agent) load lazily so ``import qtrain`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from qtrain.config import RunConfig, load_config
from qtrain.errors import QtrainError
from qtrain.version import __version__

if TYPE_CHECKING:
    from qtrain.agent import QuantumTrainingAgent

__all__ = ["QtrainError", "QuantumTrainingAgent", "RunConfig", "__version__", "load_config"]


def __getattr__(name: str) -> Any:
    if name == "QuantumTrainingAgent":
        from qtrain.agent import QuantumTrainingAgent

        return QuantumTrainingAgent
    if name in ("hpo", "solvers"):
        import importlib

        return importlib.import_module(f"qtrain.{name}")
    raise AttributeError(f"module 'qtrain' has no attribute {name!r}")
