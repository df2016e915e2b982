"""What a step may put in its executor output: strict JSON only.

A cluster's launcher parses executor output with Go's protojson, which refuses ``NaN`` and
``Infinity`` (kubeflow/pipelines#12227); kfp.local's Python parser accepts them. A diverged
trial is already a failed trial (:meth:`qtrain.history.TrialRecord.checked`); these keep
whatever else could be non-finite (a cycle with no finished trial) out of metrics and
metadata.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any


def finite_metrics(values: Mapping[str, Any]) -> dict[str, float]:
    """The numeric values of ``values`` that are finite, as floats (for ``log_metric``)."""
    out = {}
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if math.isfinite(float(value)):
            out[name] = float(value)
    return out


def json_metadata(values: Mapping[str, Any]) -> dict[str, Any]:
    """The scalar values of ``values`` an artifact's metadata can carry: null, strings,
    booleans and finite numbers."""
    return {
        k: v
        for k, v in values.items()
        if v is None
        or isinstance(v, str | bool)
        or (isinstance(v, int | float) and math.isfinite(v))
    }


def cycle_summary_metrics(result: Mapping[str, Any]) -> dict[str, float]:
    """The select step's per-cycle metrics (cycle, incumbent and cycle-best values, failed
    trials), finite only: a cycle whose trials all failed has no cycle-best value."""
    keys = ("cycle", "incumbent_value", "cycle_best_value", "failed_trials")
    return finite_metrics({key: result[key] for key in keys})
