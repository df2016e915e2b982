"""KFP components of the qtrain pipeline: one small file per step, each calling ``qtrain.steps``.

The components are lightweight Python components whose code runs in the qtrain images
(``qtrain.images``: the base image for every step, the CUDA image for training), so the
only thing here is the interface: typed inputs and outputs the Kubeflow UI understands.
"""

from qtrain_kfp.components.continue_trial import continue_trial
from qtrain_kfp.components.decided import decided_gate
from qtrain_kfp.components.evaluate import evaluate
from qtrain_kfp.components.export import export
from qtrain_kfp.components.gate import early_stop_gate
from qtrain_kfp.components.halve import halve
from qtrain_kfp.components.prepare_volumes import prepare_volumes
from qtrain_kfp.components.preprocess import preprocess
from qtrain_kfp.components.propose import propose
from qtrain_kfp.components.report_failure import report_failure
from qtrain_kfp.components.select import select
from qtrain_kfp.components.select_halved import select_halved
from qtrain_kfp.components.train_rung import train_rung
from qtrain_kfp.components.train_trial import train_trial

__all__ = [
    "continue_trial",
    "decided_gate",
    "early_stop_gate",
    "evaluate",
    "export",
    "halve",
    "prepare_volumes",
    "preprocess",
    "propose",
    "report_failure",
    "select",
    "select_halved",
    "train_rung",
    "train_trial",
]
