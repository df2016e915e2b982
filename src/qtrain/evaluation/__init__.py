"""Evaluation: losses, task metrics and generations.

The metric registry is light; the evaluator (torch) loads on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from qtrain.evaluation.metrics import get_metric, register_metric

if TYPE_CHECKING:
    from qtrain.evaluation.evaluator import EvalResult, evaluate_model

__all__ = ["EvalResult", "evaluate_model", "get_metric", "register_metric"]


def __getattr__(name: str) -> Any:
    if name in ("EvalResult", "evaluate_model"):
        from qtrain.evaluation import evaluator

        return getattr(evaluator, name)
    raise AttributeError(f"module 'qtrain.evaluation' has no attribute {name!r}")
