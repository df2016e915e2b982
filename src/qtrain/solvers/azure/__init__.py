"""``azure``: QAOA circuits for a QUBO, run on Azure Quantum targets (``qtrain[azure]``).

Modules: ``circuit`` (QUBO -> Ising -> Qiskit QAOA circuit, counts -> samples), ``angles``
(local optimisation or linear ramp), ``client`` (workspace, provider, target checks),
``jobs`` (submit, persist, resume, poll), ``sampler`` (the dimod sampler), ``errors``.
Importing this package does not import the Azure SDK; building a sampler does.
"""

from __future__ import annotations

from qtrain.solvers.azure.sampler import AzureQaoaSampler

__all__ = ["AzureQaoaSampler"]
