"""The agent: the cycle loop and its parts (history, selection, early stopping, reports)."""

from qtrain.agent.loop import CycleResult, QuantumTrainingAgent

__all__ = ["CycleResult", "QuantumTrainingAgent"]
