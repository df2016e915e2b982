"""What the in-process runner's parts (halving, settings, resume) need of the runner."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from qtrain.config.schema import RunConfig
from qtrain.control import RunController
from qtrain.cycle import CycleEngine, TrialPlan
from qtrain.events import EventLog
from qtrain.history import TrialRecord
from qtrain.rundir import RunDirectory

if TYPE_CHECKING:
    from qtrain.checkpoints.store import CheckpointStore
    from qtrain.data.preprocess import PreparedData
    from qtrain.training.session import ModelSession
    from qtrain.training.trial import RungResult


class Runner(Protocol):
    """The state of :class:`~qtrain.agent.loop.QuantumTrainingAgent` after it initialized."""

    config: RunConfig
    engine: CycleEngine | None
    session: ModelSession | None
    data: PreparedData | None
    store: CheckpointStore | None
    run_dir: RunDirectory | None
    events: EventLog | None
    controller: RunController | None

    def run_trial(self, trial: TrialPlan, rung: RungResult | None = None) -> TrialRecord:
        """Train, evaluate and commit one trial."""
