"""Task metrics on generated text, in a small registry so users can plug in their own."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from qtrain import names

#: A task metric maps (predictions, references) to a score in [0, 1]; higher is better.
TaskMetric = Callable[[Sequence[str], Sequence[str]], float]

_REGISTRY: dict[str, TaskMetric] = {}


def register_metric(name: str) -> Callable[[TaskMetric], TaskMetric]:
    """Decorator that makes a task metric selectable as ``evaluation.metric: NAME``.

    The name is recorded in :mod:`qtrain.names`, which the config validates against.
    """

    def decorator(fn: TaskMetric) -> TaskMetric:
        _REGISTRY[name] = fn
        names.add_metric_name(name)
        return fn

    return decorator


def get_metric(name: str) -> TaskMetric:
    """Look a task metric up by name, with a one-line error listing the choices."""
    names.check_metric_name(name)
    return _REGISTRY[name]


def _normalise(text: str) -> str:
    return " ".join(text.strip().split())


@register_metric("exact_match")
def exact_match(predictions: Sequence[str], references: Sequence[str]) -> float:
    """Fraction of predictions equal to their reference after whitespace normalisation."""
    if not references:
        return 0.0
    hits = sum(_normalise(p) == _normalise(r) for p, r in zip(predictions, references, strict=True))
    return hits / len(references)


@register_metric("prefix_match")
def prefix_match(predictions: Sequence[str], references: Sequence[str]) -> float:
    """Fraction of predictions that start with their (normalised) reference."""
    if not references:
        return 0.0
    hits = sum(
        _normalise(p).startswith(_normalise(r))
        for p, r in zip(predictions, references, strict=True)
    )
    return hits / len(references)


@register_metric("char_accuracy")
def char_accuracy(predictions: Sequence[str], references: Sequence[str]) -> float:
    """Mean per-position character agreement (partial credit for near misses)."""
    if not references:
        return 0.0
    total = 0.0
    for pred, ref in zip(predictions, references, strict=True):
        pred, ref = _normalise(pred), _normalise(ref)
        width = max(len(pred), len(ref)) or 1
        total += sum(a == b for a, b in zip(pred, ref, strict=False)) / width
    return total / len(references)
