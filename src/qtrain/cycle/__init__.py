"""The cycle core both runners share: plan a cycle, conclude it, report the run.

``CycleEngine`` makes every decision of the loop (the trials of a cycle, the incumbent,
early stopping, the events that say so) from the run's recorded state; the in-process
agent (:mod:`qtrain.agent`) and the pipeline steps (:mod:`qtrain.steps`) are runners
around it.
"""

from qtrain.cycle.early_stopping import EarlyStopping, StopDecision
from qtrain.cycle.engine import CycleEngine
from qtrain.cycle.plan import CyclePlan, CycleResult, TrialPlan
from qtrain.cycle.selection import IncumbentSelector
from qtrain.cycle.state import RunState

__all__ = [
    "CycleEngine",
    "CyclePlan",
    "CycleResult",
    "EarlyStopping",
    "IncumbentSelector",
    "RunState",
    "StopDecision",
    "TrialPlan",
]
