"""Evaluation: losses, task metrics and generations."""

from qtrain.evaluation.evaluator import EvalResult, evaluate_model
from qtrain.evaluation.metrics import get_metric, register_metric

__all__ = ["EvalResult", "evaluate_model", "get_metric", "register_metric"]
